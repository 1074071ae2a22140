"""Run tests on a real PostgreSQL server: the Eunomia CDM loaded twice, once with
lower-case and once with upper-case table and column names (as real-world CSV exports
come). Expected counts: the same hand-written SQL battery, run on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hyperfed.adapters.hql.canonical import canonicalize
from hyperfed.adapters.hql.model import Query
from hyperfed.adapters.omop import OmopAdapter
from tests.adapters.omop import pgload
from tests.adapters.omop.battery import CASES, Case
from tests.adapters.omop.test_run_eunomia import BINDINGS

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_eunomia(pg_database: Callable[[str], str], eunomia_path: Path) -> str:
    dsn = pg_database("eunomia")
    pgload.load(eunomia_path, dsn, "cdm", upper=False)
    pgload.load(eunomia_path, dsn, "CDM_UPPER", upper=True)
    return dsn


@pytest.fixture(scope="module", params=["cdm", "CDM_UPPER"])
def adapter(request: pytest.FixtureRequest, pg_eunomia: str) -> Iterator[OmopAdapter]:
    a = OmopAdapter.from_source(pg_eunomia, schema=request.param)
    yield a
    a.close()


def truth(dsn: str, text: str) -> int:
    with psycopg.connect(dsn) as con:
        con.execute("SET search_path TO cdm")
        row = con.execute(text.encode()).fetchone()
        assert row is not None
        return int(row[0])


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_battery_on_postgres(adapter: OmopAdapter, pg_eunomia: str, case: Case) -> None:
    q = canonicalize(
        Query.model_validate(
            {"hql": "1", "criteria": case.criteria, "as_of": "2020-01-01", **case.extra}
        )
    )
    assert q.as_of is not None
    result = adapter.count(q, BINDINGS)
    assert result.total == truth(pg_eunomia, case.truth)


def test_postgres_and_duckdb_agree(adapter: OmopAdapter, eunomia_path: Path) -> None:
    duck = OmopAdapter.from_source(f"duckdb://{eunomia_path}")
    try:
        for case in CASES:
            q = canonicalize(
                Query.model_validate({"hql": "1", "criteria": case.criteria, "as_of": "2020-01-01"})
            )
            assert q.as_of is not None
            a: Any = adapter.count(q, BINDINGS).total
            assert a == duck.count(q, BINDINGS).total, case.id
    finally:
        duck.close()


def test_the_stored_case_of_names_is_detected(adapter: OmopAdapter) -> None:
    person = adapter.schema.table("person")
    assert person is not None
    expected = "PERSON" if adapter.schema.schema == "CDM_UPPER" else "person"
    assert person.name == expected


def test_queries_run_read_only(pg_eunomia: str) -> None:
    a = OmopAdapter.from_source(pg_eunomia, schema="cdm")
    try:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            a.runner.fetch("CREATE TABLE cdm.x (i int)")
    finally:
        a.close()
