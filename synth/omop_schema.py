"""Our compact OMOP CDM DDL: the tables the generator writes, for CDM 5.4 and 5.3.

Column names, order, types and NOT NULL follow the official OHDSI CDM DDL of each version
(the 5.3 differences are the ones that matter to a query: renamed visit columns, no
procedure_end_date, fewer measurement/observation/device/cdm_source columns). Pure functions
returning SQL text; identifiers are always double-quoted, upper-cased on request.
"""

from __future__ import annotations

from dataclasses import dataclass

from hyperfed.synth.spec import CdmVersion

__all__ = [
    "CLINICAL_TABLES",
    "INDEXES",
    "PRIMARY_KEYS",
    "TABLES",
    "VOCABULARY_TABLES",
    "Column",
    "columns",
    "create_table_sql",
    "index_sql",
    "quote",
    "table_name",
]


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    not_null: bool = False
    only: CdmVersion | None = None  # the column exists in this CDM version only


def _cols(spec: str) -> tuple[Column, ...]:
    """Parse 'name type [!] [@5.4]' lines: ! for NOT NULL, @v for a version-only column."""
    out = []
    for line in spec.strip().splitlines():
        parts = line.split()
        only = next((p[1:] for p in parts if p.startswith("@")), None)
        out.append(Column(parts[0], parts[1], "!" in parts, only))  # type: ignore[arg-type]
    return tuple(out)


TABLES: dict[str, tuple[Column, ...]] = {
    "person": _cols("""
        person_id integer !
        gender_concept_id integer !
        year_of_birth integer !
        month_of_birth integer
        day_of_birth integer
        birth_datetime timestamp
        race_concept_id integer !
        ethnicity_concept_id integer !
        location_id integer
        provider_id integer
        care_site_id integer
        person_source_value varchar(50)
        gender_source_value varchar(50)
        gender_source_concept_id integer
        race_source_value varchar(50)
        race_source_concept_id integer
        ethnicity_source_value varchar(50)
        ethnicity_source_concept_id integer"""),
    "observation_period": _cols("""
        observation_period_id integer !
        person_id integer !
        observation_period_start_date date !
        observation_period_end_date date !
        period_type_concept_id integer !"""),
    "visit_occurrence": _cols("""
        visit_occurrence_id integer !
        person_id integer !
        visit_concept_id integer !
        visit_start_date date !
        visit_start_datetime timestamp
        visit_end_date date !
        visit_end_datetime timestamp
        visit_type_concept_id integer !
        provider_id integer
        care_site_id integer
        visit_source_value varchar(50)
        visit_source_concept_id integer
        admitted_from_concept_id integer @5.4
        admitted_from_source_value varchar(50) @5.4
        discharged_to_concept_id integer @5.4
        discharged_to_source_value varchar(50) @5.4
        admitting_source_concept_id integer @5.3
        admitting_source_value varchar(50) @5.3
        discharge_to_concept_id integer @5.3
        discharge_to_source_value varchar(50) @5.3
        preceding_visit_occurrence_id integer"""),
    "condition_occurrence": _cols("""
        condition_occurrence_id integer !
        person_id integer !
        condition_concept_id integer !
        condition_start_date date !
        condition_start_datetime timestamp
        condition_end_date date
        condition_end_datetime timestamp
        condition_type_concept_id integer !
        condition_status_concept_id integer
        stop_reason varchar(20)
        provider_id integer
        visit_occurrence_id integer
        visit_detail_id integer
        condition_source_value varchar(50)
        condition_source_concept_id integer
        condition_status_source_value varchar(50)"""),
    "drug_exposure": _cols("""
        drug_exposure_id integer !
        person_id integer !
        drug_concept_id integer !
        drug_exposure_start_date date !
        drug_exposure_start_datetime timestamp
        drug_exposure_end_date date !
        drug_exposure_end_datetime timestamp
        verbatim_end_date date
        drug_type_concept_id integer !
        stop_reason varchar(20)
        refills integer
        quantity numeric
        days_supply integer
        sig text
        route_concept_id integer
        lot_number varchar(50)
        provider_id integer
        visit_occurrence_id integer
        visit_detail_id integer
        drug_source_value varchar(50)
        drug_source_concept_id integer
        route_source_value varchar(50)
        dose_unit_source_value varchar(50)"""),
    "procedure_occurrence": _cols("""
        procedure_occurrence_id integer !
        person_id integer !
        procedure_concept_id integer !
        procedure_date date !
        procedure_datetime timestamp
        procedure_end_date date @5.4
        procedure_end_datetime timestamp @5.4
        procedure_type_concept_id integer !
        modifier_concept_id integer
        quantity integer
        provider_id integer
        visit_occurrence_id integer
        visit_detail_id integer
        procedure_source_value varchar(50)
        procedure_source_concept_id integer
        modifier_source_value varchar(50)"""),
    "device_exposure": _cols("""
        device_exposure_id integer !
        person_id integer !
        device_concept_id integer !
        device_exposure_start_date date !
        device_exposure_start_datetime timestamp
        device_exposure_end_date date
        device_exposure_end_datetime timestamp
        device_type_concept_id integer !
        unique_device_id varchar(255)
        production_id varchar(255) @5.4
        quantity integer
        provider_id integer
        visit_occurrence_id integer
        visit_detail_id integer
        device_source_value varchar(50)
        device_source_concept_id integer
        unit_concept_id integer @5.4
        unit_source_value varchar(50) @5.4
        unit_source_concept_id integer @5.4"""),
    "measurement": _cols("""
        measurement_id integer !
        person_id integer !
        measurement_concept_id integer !
        measurement_date date !
        measurement_datetime timestamp
        measurement_time varchar(10)
        measurement_type_concept_id integer !
        operator_concept_id integer
        value_as_number numeric
        value_as_concept_id integer
        unit_concept_id integer
        range_low numeric
        range_high numeric
        provider_id integer
        visit_occurrence_id integer
        visit_detail_id integer
        measurement_source_value varchar(50)
        measurement_source_concept_id integer
        unit_source_value varchar(50)
        unit_source_concept_id integer @5.4
        value_source_value varchar(50)
        measurement_event_id integer @5.4
        meas_event_field_concept_id integer @5.4"""),
    "observation": _cols("""
        observation_id integer !
        person_id integer !
        observation_concept_id integer !
        observation_date date !
        observation_datetime timestamp
        observation_type_concept_id integer !
        value_as_number numeric
        value_as_string varchar(60)
        value_as_concept_id integer
        qualifier_concept_id integer
        unit_concept_id integer
        provider_id integer
        visit_occurrence_id integer
        visit_detail_id integer
        observation_source_value varchar(50)
        observation_source_concept_id integer
        unit_source_value varchar(50)
        qualifier_source_value varchar(50)
        value_source_value varchar(50) @5.4
        observation_event_id integer @5.4
        obs_event_field_concept_id integer @5.4"""),
    "death": _cols("""
        person_id integer !
        death_date date !
        death_datetime timestamp
        death_type_concept_id integer
        cause_concept_id integer
        cause_source_value varchar(50)
        cause_source_concept_id integer"""),
    "concept": _cols("""
        concept_id integer !
        concept_name varchar(255) !
        domain_id varchar(20) !
        vocabulary_id varchar(20) !
        concept_class_id varchar(20) !
        standard_concept varchar(1)
        concept_code varchar(50) !
        valid_start_date date !
        valid_end_date date !
        invalid_reason varchar(1)"""),
    "concept_ancestor": _cols("""
        ancestor_concept_id integer !
        descendant_concept_id integer !
        min_levels_of_separation integer !
        max_levels_of_separation integer !"""),
    "concept_relationship": _cols("""
        concept_id_1 integer !
        concept_id_2 integer !
        relationship_id varchar(20) !
        valid_start_date date !
        valid_end_date date !
        invalid_reason varchar(1)"""),
    "vocabulary": _cols("""
        vocabulary_id varchar(20) !
        vocabulary_name varchar(255) !
        vocabulary_reference varchar(255)
        vocabulary_version varchar(255)
        vocabulary_concept_id integer !"""),
    "domain": _cols("""
        domain_id varchar(20) !
        domain_name varchar(255) !
        domain_concept_id integer !"""),
    "cdm_source": _cols("""
        cdm_source_name varchar(255) !
        cdm_source_abbreviation varchar(25) !
        cdm_holder varchar(255) !
        source_description text
        source_documentation_reference varchar(255)
        cdm_etl_reference varchar(255)
        source_release_date date !
        cdm_release_date date !
        cdm_version varchar(10)
        cdm_version_concept_id integer ! @5.4
        vocabulary_version varchar(20) !"""),
}

CLINICAL_TABLES = (
    "person",
    "observation_period",
    "visit_occurrence",
    "condition_occurrence",
    "drug_exposure",
    "procedure_occurrence",
    "device_exposure",
    "measurement",
    "observation",
    "death",
)
VOCABULARY_TABLES = (
    "concept",
    "concept_ancestor",
    "concept_relationship",
    "vocabulary",
    "domain",
    "cdm_source",
)

PRIMARY_KEYS: dict[str, str] = {
    "person": "person_id",
    "observation_period": "observation_period_id",
    "visit_occurrence": "visit_occurrence_id",
    "condition_occurrence": "condition_occurrence_id",
    "drug_exposure": "drug_exposure_id",
    "procedure_occurrence": "procedure_occurrence_id",
    "device_exposure": "device_exposure_id",
    "measurement": "measurement_id",
    "observation": "observation_id",
    "concept": "concept_id",
    "vocabulary": "vocabulary_id",
    "domain": "domain_id",
}

# Secondary indexes (PostgreSQL): person_id and the main concept columns, as the official DDL.
INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("person", ("gender_concept_id",)),
    ("observation_period", ("person_id",)),
    ("visit_occurrence", ("person_id",)),
    ("visit_occurrence", ("visit_concept_id",)),
    ("condition_occurrence", ("person_id",)),
    ("condition_occurrence", ("condition_concept_id",)),
    ("drug_exposure", ("person_id",)),
    ("drug_exposure", ("drug_concept_id",)),
    ("procedure_occurrence", ("person_id",)),
    ("procedure_occurrence", ("procedure_concept_id",)),
    ("device_exposure", ("person_id",)),
    ("device_exposure", ("device_concept_id",)),
    ("measurement", ("person_id",)),
    ("measurement", ("measurement_concept_id",)),
    ("observation", ("person_id",)),
    ("observation", ("observation_concept_id",)),
    ("death", ("person_id",)),
    ("concept", ("vocabulary_id", "concept_code")),
    ("concept_ancestor", ("ancestor_concept_id",)),
    ("concept_ancestor", ("descendant_concept_id",)),
    ("concept_relationship", ("concept_id_1",)),
    ("concept_relationship", ("concept_id_2",)),
)


def columns(table: str, version: CdmVersion) -> tuple[Column, ...]:
    return tuple(c for c in TABLES[table] if c.only in (None, version))


def quote(name: str, upper: bool) -> str:
    name = name.upper() if upper else name
    return '"' + name.replace('"', '""') + '"'


def table_name(table: str, schema: str | None, upper: bool) -> str:
    """The qualified, quoted table name (the schema is used as given, never upper-cased)."""
    qualified = quote(table, upper)
    return qualified if schema is None else f"{quote(schema, False)}.{qualified}"


def create_table_sql(table: str, version: CdmVersion, schema: str | None, upper: bool) -> str:
    cols = ",\n  ".join(
        f"{quote(c.name, upper)} {c.type}{' NOT NULL' if c.not_null else ''}"
        for c in columns(table, version)
    )
    return f"CREATE TABLE {table_name(table, schema, upper)} (\n  {cols}\n)"


def index_sql(schema: str | None, upper: bool, tables: tuple[str, ...]) -> list[str]:
    """Primary keys and secondary indexes for the given tables (PostgreSQL)."""
    out = []
    for table, key in PRIMARY_KEYS.items():
        if table in tables:
            name = f"xpk_{table}"
            out.append(
                f"ALTER TABLE {table_name(table, schema, upper)} ADD CONSTRAINT {name} "
                f"PRIMARY KEY ({quote(key, upper)})"
            )
    for table, cols in INDEXES:
        if table in tables:
            name = f"idx_{table}_{'_'.join(cols)}"
            quoted = ", ".join(quote(c, upper) for c in cols)
            out.append(f"CREATE INDEX {name} ON {table_name(table, schema, upper)} ({quoted})")
    return out
