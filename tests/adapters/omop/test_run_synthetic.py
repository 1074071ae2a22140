"""Run tests on the project's synthetic OMOP data (DuckDB and PostgreSQL): units, cancer
hierarchies, ICD-10-CM source codes, imaging around diagnosis — the parts Eunomia lacks.
Expected counts come from hand-written SQL with the concept ids looked up by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from hyperfed.adapters.hql.bindings import SexBinding
from hyperfed.adapters.hql.canonical import canonicalize
from hyperfed.adapters.hql.model import Query
from hyperfed.adapters.omop import OmopAdapter
from hyperfed.synth import SynthSpec, write_omop_duckdb, write_omop_postgres

SPEC = SynthSpec(persons=4000, seed=7, hemoglobin_g_per_l_share=0.4, cancer_scale=3.0)
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
BINDINGS: dict[str, Any] = {"hf:Male": SexBinding(sex="male")}
AS_OF = dt.date(2025, 1, 1)


def ids(sql_fetch: Callable[[str], list[tuple[Any, ...]]], vocabulary: str, code: str) -> str:
    rows = sql_fetch(
        "SELECT ca.descendant_concept_id FROM concept c JOIN concept_ancestor ca "
        f"ON ca.ancestor_concept_id = c.concept_id WHERE c.vocabulary_id = '{vocabulary}' "
        f"AND c.concept_code = '{code}'"
    )
    assert rows, (vocabulary, code)
    return ", ".join(str(r[0]) for r in rows)


def unit(sql_fetch: Callable[[str], list[tuple[Any, ...]]], code: str) -> int:
    rows = sql_fetch(
        f"SELECT concept_id FROM concept WHERE vocabulary_id = 'UCUM' AND concept_code = '{code}'"
    )
    return int(rows[0][0])


def cases(f: Callable[[str], list[tuple[Any, ...]]]) -> list[tuple[str, dict[str, Any], str]]:
    lung, nsclc = ids(f, "SNOMED", "363358000"), ids(f, "SNOMED", "254637007")
    ct, hb = ids(f, "SNOMED", "77477000"), ids(f, "LOINC", "718-7")
    g_dl, g_l, mg_dl = unit(f, "g/dL"), unit(f, "g/L"), unit(f, "mg/dL")
    icd = f(
        "SELECT concept_id FROM concept WHERE vocabulary_id = 'ICD10CM' AND concept_code = 'C34.90'"
    )[0][0]
    return [
        (
            "lung-cancer-with-descendants",
            {"code": {"system": SNOMED, "code": "363358000"}},
            f"SELECT COUNT(DISTINCT person_id) FROM condition_occurrence "
            f"WHERE condition_concept_id IN ({lung})",
        ),
        (
            "lung-cancer-code-only",
            {"code": {"system": SNOMED, "code": "363358000"}, "descendants": False},
            "SELECT COUNT(DISTINCT c.person_id) FROM condition_occurrence c JOIN concept k "
            "ON k.concept_id = c.condition_concept_id WHERE k.concept_code = '363358000'",
        ),
        (
            "nsclc",
            {"code": {"system": SNOMED, "code": "254637007"}},
            f"SELECT COUNT(DISTINCT person_id) FROM condition_occurrence "
            f"WHERE condition_concept_id IN ({nsclc})",
        ),
        # an ICD-10-CM code maps to its standard SNOMED concept (and its descendants)
        (
            "icd10cm-c34.90",
            {"code": {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C34.90"}},
            f"SELECT COUNT(DISTINCT person_id) FROM condition_occurrence "
            f"WHERE condition_concept_id IN (SELECT ca.descendant_concept_id FROM "
            f"concept_relationship r JOIN concept_ancestor ca ON ca.ancestor_concept_id = "
            f"r.concept_id_2 WHERE r.concept_id_1 = {icd} AND r.relationship_id = 'Maps to')",
        ),
        (
            "hemoglobin-below-12-g/dL-any-unit",
            {"code": {"system": LOINC, "code": "718-7"}, "value": {"max": 12, "unit": "g/dL"}},
            f"SELECT COUNT(DISTINCT person_id) FROM measurement WHERE measurement_concept_id "
            f"IN ({hb}) AND ((unit_concept_id = {g_dl} AND value_as_number <= 12) OR "
            f"(unit_concept_id = {g_l} AND value_as_number <= 120) OR "
            f"(unit_concept_id = {mg_dl} AND value_as_number <= 12000))",
        ),
        (
            "hemoglobin-12-to-14-g/L-men",
            {
                "all": [
                    {
                        "code": {"system": LOINC, "code": "718-7"},
                        "value": {"min": 120, "max": 140, "unit": "g/L"},
                    },
                    {"concept": "hf:Male"},
                ]
            },
            f"SELECT COUNT(DISTINCT m.person_id) FROM measurement m JOIN person p "
            f"ON p.person_id = m.person_id WHERE p.gender_concept_id = 8507 AND "
            f"m.measurement_concept_id IN ({hb}) AND ((m.unit_concept_id = {g_dl} AND "
            f"m.value_as_number BETWEEN 12 AND 14) OR (m.unit_concept_id = {g_l} AND "
            f"m.value_as_number BETWEEN 120 AND 140) OR (m.unit_concept_id = {mg_dl} AND "
            f"m.value_as_number BETWEEN 12000 AND 14000))",
        ),
        (
            "ct-within-30-days-before-lung-cancer",
            {
                "code": {"system": SNOMED, "code": "77477000"},
                "within": {
                    "of": {"code": {"system": SNOMED, "code": "363358000"}},
                    "days_before": 30,
                },
            },
            f"SELECT COUNT(DISTINCT x.person_id) FROM procedure_occurrence x "
            f"JOIN condition_occurrence c ON c.person_id = x.person_id "
            f"WHERE x.procedure_concept_id IN ({ct}) AND c.condition_concept_id IN ({lung}) "
            f"AND x.procedure_date BETWEEN c.condition_start_date - INTERVAL '30 days' "
            f"AND c.condition_start_date",
        ),
        (
            "lung-cancer-without-carboplatin",
            {
                "all": [
                    {"code": {"system": SNOMED, "code": "363358000"}},
                    {"not": {"code": {"system": RXNORM, "code": "40048"}}},
                ]
            },
            f"SELECT COUNT(*) FROM person WHERE person_id IN (SELECT person_id FROM "
            f"condition_occurrence WHERE condition_concept_id IN ({lung})) AND person_id NOT IN "
            f"(SELECT person_id FROM drug_exposure WHERE drug_concept_id IN "
            f"({ids(f, 'RxNorm', '40048')}))",
        ),
        (
            "two-or-more-hemoglobin-results-in-2020",
            {
                "code": {"system": LOINC, "code": "718-7"},
                "occurrences": {"min": 2},
                "during": {"from": "2020-01-01", "to": "2020-12-31"},
            },
            f"SELECT COUNT(*) FROM (SELECT person_id FROM measurement "
            f"WHERE measurement_concept_id IN ({hb}) AND measurement_date BETWEEN "
            f"DATE '2020-01-01' AND DATE '2020-12-31' GROUP BY person_id "
            f"HAVING COUNT(*) >= 2) y",
        ),
    ]


def _count(adapter: OmopAdapter, criteria: dict[str, Any]) -> int | None:
    q = canonicalize(
        Query.model_validate({"hql": "1", "criteria": criteria, "as_of": AS_OF.isoformat()})
    )
    return adapter.count(q, BINDINGS).total


@pytest.fixture(scope="module")
def synthetic_duckdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("synthetic") / "site.duckdb"
    write_omop_duckdb(SPEC, path)
    return path


def test_synthetic_duckdb_battery(synthetic_duckdb: Path) -> None:
    with duckdb.connect(str(synthetic_duckdb), read_only=True) as con:

        def fetch(sql: str) -> list[tuple[Any, ...]]:
            return con.execute(sql).fetchall()

        battery = cases(fetch)
        expected = {name: int(fetch(sql)[0][0]) for name, _, sql in battery}
    assert sum(1 for v in expected.values() if v > 0) == len(expected), expected
    adapter = OmopAdapter.from_source(f"duckdb://{synthetic_duckdb}")
    try:
        got = {name: _count(adapter, criteria) for name, criteria, _ in battery}
    finally:
        adapter.close()
    assert got == expected


@pytest.fixture(scope="module")
def synthetic_postgres(pg_database: Callable[[str], str]) -> Iterator[str]:
    dsn = pg_database("synthetic_run")
    write_omop_postgres(SPEC, dsn, schema="cdm")
    yield dsn


@pytest.mark.postgres
def test_synthetic_postgres_battery(synthetic_postgres: str, synthetic_duckdb: Path) -> None:
    with psycopg.connect(synthetic_postgres) as con:
        con.execute("SET search_path TO cdm")

        def fetch(sql: str) -> list[tuple[Any, ...]]:
            return list(con.execute(sql.encode()).fetchall())

        battery = cases(fetch)
        expected = {name: int(fetch(sql)[0][0]) for name, _, sql in battery}
    adapter = OmopAdapter.from_source(synthetic_postgres, schema="cdm")
    duck = OmopAdapter.from_source(f"duckdb://{synthetic_duckdb}")
    try:
        got = {name: _count(adapter, criteria) for name, criteria, _ in battery}
        same_data = {name: _count(duck, criteria) for name, criteria, _ in battery}
    finally:
        adapter.close()
        duck.close()
    assert got == expected
    assert got == same_data  # one population, two engines, one answer
