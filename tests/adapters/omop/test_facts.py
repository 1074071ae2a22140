"""OMOP dataset facts (`OmopAdapter.facts`) against hand-written SQL over Eunomia."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from hyperfed.adapters.facts import ExactFacts
from hyperfed.adapters.omop import OmopAdapter

AS_OF = dt.date(2024, 6, 30)
EVENTS = {
    "condition_occurrence": ("condition_concept_id", "condition_start_date"),
    "drug_exposure": ("drug_concept_id", "drug_exposure_start_date"),
    "measurement": ("measurement_concept_id", "measurement_date"),
    "procedure_occurrence": ("procedure_concept_id", "procedure_date"),
    "observation": ("observation_concept_id", "observation_date"),
    "device_exposure": ("device_concept_id", "device_exposure_start_date"),
    "visit_occurrence": ("visit_concept_id", "visit_start_date"),
    "specimen": ("specimen_concept_id", "specimen_date"),
}
VOCABULARIES = {
    "SNOMED": "http://snomed.info/sct",
    "LOINC": "http://loinc.org",
    "RxNorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "CVX": "http://hl7.org/fhir/sid/cvx",
    "ICD10CM": "http://hl7.org/fhir/sid/icd-10-cm",
    "ICD10": "http://hl7.org/fhir/sid/icd-10",
    "ICDO3": "http://terminology.hl7.org/CodeSystem/icd-o-3",
    "NCIt": "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl",
    "UCUM": "http://unitsofmeasure.org",
    "ATC": "http://www.whocc.no/atc",
}


@pytest.fixture(scope="module")
def facts(eunomia_path: Path) -> ExactFacts:
    adapter = OmopAdapter.from_source(f"duckdb://{eunomia_path}")
    try:
        return adapter.facts("eunomia", AS_OF)
    finally:
        adapter.close()


@pytest.fixture(scope="module")
def con(eunomia_path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(eunomia_path), read_only=True)


def _events_sql(con: duckdb.DuckDBPyConnection, concept: bool = False) -> str:
    # tables with a person id (Eunomia's device_exposure and specimen are empty stubs)
    tables = {
        r[0].lower()
        for r in con.execute(
            "SELECT table_name FROM information_schema.columns WHERE lower(column_name) = "
            "'person_id'"
        ).fetchall()
    }
    parts = [
        f"SELECT person_id AS pid, year({start}) AS yr{', ' + cid + ' AS cid' if concept else ''} "
        f"FROM {t} WHERE person_id IN (SELECT person_id FROM person)"
        for t, (cid, start) in EVENTS.items()
        if t in tables
    ]
    return " UNION ALL ".join(parts)


def test_persons_sexes_and_ages(facts: ExactFacts, con: duckdb.DuckDBPyConnection) -> None:
    assert facts.persons == con.execute("SELECT count(*) FROM person").fetchone()[0]  # type: ignore[index]
    sexes = con.execute(
        "SELECT CASE gender_concept_id WHEN 8532 THEN 'female' WHEN 8507 THEN 'male' "
        "WHEN 8521 THEN 'other' ELSE 'unknown' END, count(*) FROM person GROUP BY 1"
    ).fetchall()
    assert dict(facts.persons_by_sex) == dict(sexes)
    ages = con.execute(
        "WITH b AS (SELECT year_of_birth * 10000 + coalesce(month_of_birth, 1) * 100 "
        "+ coalesce(day_of_birth, 1) AS k FROM person WHERE year_of_birth IS NOT NULL) "
        "SELECT (20240630 - k) // 10000, count(*) FROM b WHERE k <= 20240630 GROUP BY 1"
    ).fetchall()
    assert dict(facts.persons_by_age) == dict(ages)
    assert facts.as_of == AS_OF and facts.health_categories == ("EHRS",)


def test_records_and_years(facts: ExactFacts, con: duckdb.DuckDBPyConnection) -> None:
    events = _events_sql(con)
    assert facts.records == con.execute(f"SELECT count(*) FROM ({events})").fetchone()[0]  # type: ignore[index]
    years = con.execute(
        f"SELECT yr, count(DISTINCT pid) FROM ({events}) WHERE yr IS NOT NULL GROUP BY 1"
    ).fetchall()
    assert dict(facts.persons_by_year) == dict(years)
    assert facts.records > 100_000 and len(years) > 50


def test_coding_systems_and_code_values(facts: ExactFacts, con: duckdb.DuckDBPyConnection) -> None:
    events = _events_sql(con, concept=True)
    joined = f"FROM ({events}) e JOIN concept c ON c.concept_id = e.cid WHERE e.cid <> 0"
    systems = con.execute(
        f"SELECT vocabulary_id, count(DISTINCT pid) {joined} GROUP BY 1"
    ).fetchall()
    want = {VOCABULARIES[v]: n for v, n in systems if v in VOCABULARIES}
    assert dict(facts.coding_systems) == want
    codes = con.execute(
        f"SELECT vocabulary_id, concept_code, count(DISTINCT pid) {joined} GROUP BY 1, 2"
    ).fetchall()
    want_codes = {(VOCABULARIES[v], c): n for v, c, n in codes if v in VOCABULARIES}
    assert dict(facts.code_values) == want_codes
    # gastrointestinal hemorrhage (SNOMED 74474003, concept 192671) is Eunomia's GI bleed
    assert facts.code_values[("http://snomed.info/sct", "74474003")] > 400
