"""The OMOP CDM view of the population: one SELECT per table, plus the vocabulary rows.

Pure: functions return SQL text (over the population views, run in DuckDB by a writer) and
Python rows. Row ids are numbered in (person, event key) order, so ids, row order and content
are the same whichever writer runs them.
"""

from __future__ import annotations

from datetime import date

from hyperfed.synth import vocabulary as voc
from hyperfed.synth.catalogue import ITEMS
from hyperfed.synth.omop_schema import VOCABULARY_TABLES, columns
from hyperfed.synth.spec import SynthSpec

__all__ = [
    "EHR",
    "LAB",
    "clinical_select_sql",
    "item_concept_sql",
    "vocabulary_rows",
]

EHR = 32817  # type concept "EHR"
LAB = 32856  # type concept "Lab"

_GENDER = {"F": voc.concept_id("Gender", "F"), "M": voc.concept_id("Gender", "M")}
_UNKNOWN_GENDER = voc.concept_id("Gender", "U")
_RACE = {
    "white": voc.concept_id("Race", "5"),
    "black": voc.concept_id("Race", "3"),
    "asian": voc.concept_id("Race", "2"),
}
_ETHNICITY = {
    "hispanic": voc.concept_id("Ethnicity", "Hispanic"),
    "not_hispanic": voc.concept_id("Ethnicity", "Not Hispanic"),
}
_VISIT = {v: voc.concept_id("Visit", v) for v in ("IP", "OP", "ER")}


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _case(column: str, mapping: dict[str, int], default: str) -> str:
    whens = " ".join(f"WHEN {_lit(k)} THEN {v}" for k, v in mapping.items())
    return f"CASE {column} {whens} ELSE {default} END"


def item_concept_sql() -> str:
    """hf_item_concept: each catalogue item's standard concept, own concept and code."""
    rows = []
    for number, item in enumerate(ITEMS, start=1):
        own = voc.concept_id(item.system, item.code)
        standard = voc.standard_concept_id(item.system, item.code)
        rows.append(f"({number}, {standard}, {own}, {_lit(item.code)})")
    return (
        "CREATE OR REPLACE TEMP TABLE hf_item_concept AS SELECT * FROM (VALUES "
        + ", ".join(rows)
        + ") t(item, concept_id, source_concept_id, code)"
    )


def _numbered(source: str, order: str, joins: str = "") -> str:
    """FROM rows of `source` numbered by `order` as `rn` (then joined), in `rn` order."""
    return (
        f"FROM (SELECT *, CAST(row_number() OVER (ORDER BY {order}) AS INTEGER) AS rn "
        f"FROM {source}) e {joins} ORDER BY rn"
    )


def _tables(spec: SynthSpec) -> dict[str, tuple[dict[str, str], str]]:
    """Per clinical table: column expressions and the FROM ... ORDER BY tail."""
    ic = "LEFT JOIN hf_item_concept ic ON ic.item = e.item"
    keyed = "person_id, s, k1, k2"
    ts = "CAST({} AS TIMESTAMP)".format
    person = {
        "person_id": "person_id",
        "gender_concept_id": _case("sex", _GENDER, str(_UNKNOWN_GENDER)),
        "year_of_birth": "CAST(year(birth_date) AS INTEGER)",
        "month_of_birth": "CAST(month(birth_date) AS INTEGER)",
        "day_of_birth": "CAST(day(birth_date) AS INTEGER)",
        "birth_datetime": ts("birth_date"),
        "race_concept_id": _case("race", _RACE, "0"),
        "ethnicity_concept_id": _case("ethnicity", _ETHNICITY, "0"),
        "person_source_value": "printf('%s-%07d', " + _lit(spec.site_abbreviation) + ", person_id)",
        "gender_source_value": "sex",
        "gender_source_concept_id": "0",
        "race_source_value": "race",
        "race_source_concept_id": "0",
        "ethnicity_source_value": "ethnicity",
        "ethnicity_source_concept_id": "0",
    }
    period = {
        "observation_period_id": "rn",
        "person_id": "person_id",
        "observation_period_start_date": "start_date",
        "observation_period_end_date": "end_date",
        "period_type_concept_id": str(EHR),
    }
    visit = {
        "visit_occurrence_id": "visit_id",
        "person_id": "person_id",
        "visit_concept_id": _case("visit_class", _VISIT, "0"),
        "visit_start_date": "start_date",
        "visit_start_datetime": ts("start_date"),
        "visit_end_date": "end_date",
        "visit_end_datetime": ts("end_date"),
        "visit_type_concept_id": str(EHR),
        "visit_source_value": "visit_class",
        "visit_source_concept_id": "0",
        "preceding_visit_occurrence_id": "preceding_visit_id",
    }
    condition = {
        "condition_occurrence_id": "rn",
        "person_id": "person_id",
        "condition_concept_id": "ic.concept_id",
        "condition_start_date": "start_date",
        "condition_start_datetime": ts("start_date"),
        "condition_end_date": "end_date",
        "condition_end_datetime": ts("end_date"),
        "condition_type_concept_id": str(EHR),
        "visit_occurrence_id": "visit_id",
        "condition_source_value": "coalesce(sc.code, ic.code)",
        "condition_source_concept_id": "coalesce(sc.source_concept_id, ic.source_concept_id)",
    }
    drug = {
        "drug_exposure_id": "rn",
        "person_id": "person_id",
        "drug_concept_id": "ic.concept_id",
        "drug_exposure_start_date": "start_date",
        "drug_exposure_start_datetime": ts("start_date"),
        "drug_exposure_end_date": "end_date",
        "drug_exposure_end_datetime": ts("end_date"),
        "drug_type_concept_id": str(EHR),
        "refills": "refills",
        "quantity": "quantity",
        "days_supply": "days_supply",
        "visit_occurrence_id": "visit_id",
        "drug_source_value": "ic.code",
        "drug_source_concept_id": "ic.source_concept_id",
    }
    procedure = {
        "procedure_occurrence_id": "rn",
        "person_id": "person_id",
        "procedure_concept_id": "ic.concept_id",
        "procedure_date": "procedure_date",
        "procedure_datetime": ts("procedure_date"),
        "procedure_end_date": "procedure_date",
        "procedure_end_datetime": ts("procedure_date"),
        "procedure_type_concept_id": str(EHR),
        "quantity": "1",
        "visit_occurrence_id": "visit_id",
        "procedure_source_value": "ic.code",
        "procedure_source_concept_id": "ic.source_concept_id",
    }
    measurement = {
        "measurement_id": "rn",
        "person_id": "person_id",
        "measurement_concept_id": "ic.concept_id",
        "measurement_date": "measurement_date",
        "measurement_datetime": ts("measurement_date"),
        "measurement_type_concept_id": str(LAB),
        "value_as_number": "value",
        # a result without unit: half the rows say 0 ("no matching concept"), half NULL
        "unit_concept_id": "CASE WHEN e.unit_item IS NOT NULL THEN uc.concept_id "
        "WHEN rn % 2 = 0 THEN 0 END",
        "visit_occurrence_id": "visit_id",
        "measurement_source_value": "ic.code",
        "measurement_source_concept_id": "ic.source_concept_id",
        "unit_source_value": "uc.code",
        "unit_source_concept_id": "uc.source_concept_id",
    }
    observation = {
        "observation_id": "rn",
        "person_id": "person_id",
        "observation_concept_id": "ic.concept_id",
        "observation_date": "observation_date",
        "observation_datetime": ts("observation_date"),
        "observation_type_concept_id": str(EHR),
        "value_as_concept_id": "vc.concept_id",
        "visit_occurrence_id": "visit_id",
        "observation_source_value": "ic.code",
        "observation_source_concept_id": "ic.source_concept_id",
        "value_source_value": "vc.code",
    }
    death = {
        "person_id": "person_id",
        "death_date": "death_date",
        "death_datetime": ts("death_date"),
        "death_type_concept_id": str(EHR),
        "cause_concept_id": "coalesce(cc.concept_id, 0)",
        "cause_source_value": "cc.code",
        "cause_source_concept_id": "coalesce(cc.source_concept_id, 0)",
    }
    event = _numbered
    return {
        "person": (person, "FROM pop_person ORDER BY person_id"),
        "observation_period": (
            period,
            event("pop_period", "person_id, period_no"),
        ),
        "visit_occurrence": (visit, "FROM pop_visit ORDER BY visit_id"),
        "condition_occurrence": (
            condition,
            event(
                "pop_condition",
                keyed,
                ic + " LEFT JOIN hf_item_concept sc ON sc.item = e.source_item",
            ),
        ),
        "drug_exposure": (drug, event("pop_drug", keyed, ic)),
        "procedure_occurrence": (procedure, event("pop_procedure", keyed, ic)),
        "device_exposure": ({}, "FROM pop_person WHERE false"),
        "measurement": (
            measurement,
            event(
                "pop_measurement",
                keyed,
                ic + " LEFT JOIN hf_item_concept uc ON uc.item = e.unit_item",
            ),
        ),
        "observation": (
            observation,
            event(
                "pop_observation",
                keyed,
                ic + " LEFT JOIN hf_item_concept vc ON vc.item = e.value_item",
            ),
        ),
        "death": (
            death,
            "FROM pop_death d LEFT JOIN hf_item_concept cc ON cc.item = d.cause_item "
            "ORDER BY person_id",
        ),
    }


def clinical_select_sql(spec: SynthSpec, table: str) -> str:
    """The SELECT producing `table`'s rows in the column order of the spec's CDM version."""
    exprs, tail = _tables(spec)[table]
    cols = columns(table, spec.cdm_version)
    select = ",\n  ".join(exprs.get(c.name, f"CAST(NULL AS {c.type})") for c in cols)
    return f"SELECT\n  {select}\n{tail}"


def vocabulary_rows(spec: SynthSpec) -> dict[str, list[tuple[object, ...]]]:
    """Rows of the vocabulary tables and CDM_SOURCE, in each table's column order."""
    start, end = voc.VALID_START, voc.VALID_END
    release = date(spec.end_year, 12, 31)
    cdm_source: dict[str, object] = {
        "cdm_source_name": spec.site_name,
        "cdm_source_abbreviation": spec.site_abbreviation,
        "cdm_holder": "Hyperfed synthetic data generator",
        "source_description": (
            f"Deterministic synthetic population: {spec.persons} persons, seed {spec.seed}, "
            f"{spec.start_year}-{spec.end_year} (hyperfed.synth)"
        ),
        "source_documentation_reference": None,
        "cdm_etl_reference": "hyperfed.synth",
        "source_release_date": release,
        "cdm_release_date": release,
        "cdm_version": spec.cdm_version,
        "cdm_version_concept_id": 756265,
        "vocabulary_version": voc.VOCABULARY_VERSION,
    }
    rows: dict[str, list[tuple[object, ...]]] = {
        "concept": [
            (
                c.concept_id,
                c.concept_name,
                c.domain_id,
                c.vocabulary_id,
                c.concept_class_id,
                c.standard_concept,
                c.concept_code,
                start,
                end,
                None,
            )
            for c in voc.CONCEPTS
        ],
        "concept_ancestor": [tuple(r) for r in voc.ancestor_rows()],
        "concept_relationship": [
            (a, b, rel, start, end, None) for a, b, rel in voc.relationship_rows()
        ],
        "vocabulary": [
            (vid, name, ref, voc.VOCABULARY_VERSION if vid == "None" else None, cid)
            for vid, name, ref, cid in voc.VOCABULARIES
        ],
        "domain": [tuple(d) for d in voc.DOMAINS],
        "cdm_source": [tuple(cdm_source[c.name] for c in columns("cdm_source", spec.cdm_version))],
    }
    return {table: rows[table] for table in VOCABULARY_TABLES}
