"""The SQL runners: read-only, and stopped when the deadline passes (DuckDB and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.errors import QueryTimeout, SourceError
from hyperfed.adapters.sql import DuckDBRunner, open_sql_source, read_tables, resolve_sql_source

HEAVY = "SELECT COUNT(*) FROM range(100000000) a, range(100000) b WHERE a.range + b.range < 0"
PG_HEAVY = "SELECT COUNT(*) FROM generate_series(1, 100000000) a, generate_series(1, 1000) b"


@pytest.fixture()
def small_duckdb(tmp_path: Path) -> Path:
    path = tmp_path / "t.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute('CREATE TABLE "Person" ("Person_Id" INTEGER, "Note" VARCHAR)')
        con.execute("INSERT INTO \"Person\" VALUES (1, 'a'), (2, 'b')")
    return path


def test_duckdb_is_read_only_and_names_keep_their_case(small_duckdb: Path) -> None:
    runner = open_sql_source(f"duckdb://{small_duckdb}")
    try:
        tables = read_tables(runner)
        assert (
            tables["person"].name == "Person" and tables["person"].col("person_id") == "Person_Id"
        )
        assert tables["person"].is_text("note") and not tables["person"].is_text("person_id")
        with pytest.raises(duckdb.Error):
            runner.fetch('DELETE FROM "Person"')
        assert runner.fetch('SELECT COUNT(*) FROM "Person"') == [(2,)]
    finally:
        runner.close()


def test_a_duckdb_query_is_interrupted_at_its_deadline(small_duckdb: Path) -> None:
    runner = open_sql_source(f"duckdb://{small_duckdb}")
    try:
        with pytest.raises(QueryTimeout, match=r"0\.3 s deadline"):
            runner.fetch(HEAVY, Deadline.after(0.3))
        with pytest.raises(QueryTimeout):  # already passed: nothing is started
            runner.fetch("SELECT 1", Deadline.after(0))
        assert runner.fetch("SELECT 42", Deadline.after(5)) == [(42,)]  # the runner still works
    finally:
        runner.close()


@pytest.mark.postgres
def test_postgres_is_read_only_and_times_out(pg_database: Callable[[str], str]) -> None:
    import psycopg

    dsn = pg_database("runner")
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("CREATE TABLE t (x int)")
    runner = open_sql_source(dsn)
    try:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            runner.fetch("INSERT INTO t VALUES (1)")
        with pytest.raises(QueryTimeout):
            runner.fetch(PG_HEAVY, Deadline.after(0.3))
        assert runner.fetch("SELECT 7") == [(7,)]
    finally:
        runner.close()


def test_sources_are_urls_and_relative_duckdb_paths_follow_the_config(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="unsupported source"):
        open_sql_source("mysql://x")
    with pytest.raises(SourceError, match="not found"):
        open_sql_source(f"duckdb://{tmp_path}/missing.duckdb")
    assert (
        resolve_sql_source("duckdb://site.duckdb", tmp_path) == f"duckdb://{tmp_path}/site.duckdb"
    )
    assert resolve_sql_source("postgresql://h/db", tmp_path) == "postgresql://h/db"


def test_a_runner_over_a_connection_the_adapter_built() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE subjects AS SELECT range AS id FROM range(5)")
    runner = DuckDBRunner.over(con, "SDTM folder /trial (5 subjects)")
    assert runner.fetch("SELECT COUNT(*) FROM subjects") == [(5,)]
    assert runner.describe() == "SDTM folder /trial (5 subjects)"
    with pytest.raises(QueryTimeout):
        runner.fetch(HEAVY, Deadline.after(0.2))
    runner.close()
