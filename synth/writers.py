"""Writers (the I/O edge): generate the population in DuckDB and store it as OMOP tables.

`write_omop_duckdb` inserts straight into a DuckDB file. `write_omop_postgres` generates in an
in-memory DuckDB, exports each table as CSV to a scratch directory and streams it into
PostgreSQL with COPY (psycopg), then adds primary keys and indexes. Both run the same SELECTs,
so a PostgreSQL copy holds exactly the rows of the DuckDB file for the same spec.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from os import PathLike
from pathlib import Path

import duckdb
import psycopg
from psycopg import sql as pgsql

from hyperfed.synth.errors import SynthWriteError
from hyperfed.synth.events import event_sql
from hyperfed.synth.omop import clinical_select_sql, item_concept_sql, vocabulary_rows
from hyperfed.synth.omop_schema import (
    CLINICAL_TABLES,
    VOCABULARY_TABLES,
    columns,
    create_table_sql,
    index_sql,
    quote,
    table_name,
)
from hyperfed.synth.population import person_sql, setup_sql, visit_sql
from hyperfed.synth.spec import Summary, SynthSpec

__all__ = ["ALL_TABLES", "generate_population", "write_omop_duckdb", "write_omop_postgres"]

ALL_TABLES = CLINICAL_TABLES + VOCABULARY_TABLES
_TEMP_VIEWS = (
    "pop_observation",
    "pop_procedure",
    "pop_measurement",
    "pop_drug",
    "pop_condition",
    "hf_acute_rec",
    "hf_chronic_rec",
    "pop_death",
    "pop_period",
    "pop_visit",
)
_TEMP_TABLES = ("hf_item_concept", "hf_visit", "pop_person")


def generate_population(con: duckdb.DuckDBPyConnection, spec: SynthSpec) -> None:
    """Create the population (temp table `pop_person` and the `pop_*` views) in `con`."""
    for statement in setup_sql(spec):
        con.execute(statement)
    con.execute(person_sql(spec))
    for statement in [*visit_sql(), *event_sql(spec), item_concept_sql()]:
        con.execute(statement)


def _drop_population(con: duckdb.DuckDBPyConnection) -> None:
    for view in _TEMP_VIEWS:
        con.execute(f"DROP VIEW IF EXISTS temp.main.{view}")
    for table in _TEMP_TABLES:
        con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")


@contextmanager
def _step(target: str, table: str) -> Iterator[None]:
    try:
        yield
    except (duckdb.Error, psycopg.Error, OSError) as exc:
        raise SynthWriteError(f"writing table {table!r} to {target}: {exc}") from exc


def write_omop_duckdb(
    spec: SynthSpec,
    path: str | PathLike[str],
    schema: str = "main",
    *,
    replace: bool = False,
    threads: int | None = None,
) -> Summary:
    """Generate `spec` into OMOP tables of the DuckDB file `path` (created if missing).

    Existing tables of the same names make it fail unless `replace=True` (which drops only
    those tables; anything else in the file is left alone).
    """
    target = str(Path(path))
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    with _step(target, "(connect)"):
        con = duckdb.connect(target)
    try:
        if threads is not None:
            con.execute(f"SET threads = {int(threads)}")
        with _step(target, "(population)"):
            generate_population(con, spec)
            con.execute("BEGIN TRANSACTION")
            if schema != "main":
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema, False)}")
        for table in ALL_TABLES:
            name = table_name(table, schema, spec.upper_case_names)
            with _step(target, table):
                if replace:
                    con.execute(f"DROP TABLE IF EXISTS {name}")
                _create(con, target, table, spec, schema)
        with _step(target, "vocabulary"):
            for table, rows in vocabulary_rows(spec).items():
                name = table_name(table, schema, spec.upper_case_names)
                marks = ", ".join("?" for _ in columns(table, spec.cdm_version))
                con.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)
        for table in CLINICAL_TABLES:
            t0 = time.perf_counter()
            name = table_name(table, schema, spec.upper_case_names)
            with _step(target, table):
                con.execute(f"INSERT INTO {name} {clinical_select_sql(spec, table)}")
            seconds[table] = time.perf_counter() - t0
        with _step(target, "(commit)"):
            con.execute("COMMIT")
            _drop_population(con)
            con.execute("CHECKPOINT")
            counts = _counts(con, schema, spec)
    finally:
        con.close()
    seconds["total"] = time.perf_counter() - started
    return Summary(spec=spec, target=target, row_counts=counts, seconds=seconds)


def _create(
    con: duckdb.DuckDBPyConnection, target: str, table: str, spec: SynthSpec, schema: str
) -> None:
    try:
        con.execute(create_table_sql(table, spec.cdm_version, schema, spec.upper_case_names))
    except duckdb.CatalogException as exc:
        raise SynthWriteError(
            f"table {table!r} already exists in {target} (schema {schema!r}); "
            "pass replace=True (--replace) to overwrite it"
        ) from exc


def _counts(con: duckdb.DuckDBPyConnection, schema: str, spec: SynthSpec) -> dict[str, int]:
    counts = {}
    for table in ALL_TABLES:
        row = con.execute(
            f"SELECT count(*) FROM {table_name(table, schema, spec.upper_case_names)}"
        ).fetchone()
        counts[table] = int(row[0]) if row else 0
    return counts


def _describe_dsn(dsn: str, schema: str) -> str:
    """host:port/dbname and schema, never the password."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return f"postgresql (schema {schema})"
    host, port, db = info.get("host", "localhost"), info.get("port", "5432"), info.get("dbname")
    return f"postgresql://{host}:{port}/{db or ''} (schema {schema})"


def write_omop_postgres(
    spec: SynthSpec,
    dsn: str,
    schema: str = "public",
    *,
    replace: bool = False,
    indexes: bool = True,
    scratch_dir: str | PathLike[str] | None = None,
    threads: int | None = None,
) -> Summary:
    """Generate `spec` into OMOP tables of a PostgreSQL schema (created if missing), in one
    transaction: on failure nothing is left behind. `indexes` adds primary keys and the
    person_id / concept_id indexes of the official DDL, then ANALYZEs."""
    target = _describe_dsn(dsn, schema)
    upper = spec.upper_case_names
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    con = duckdb.connect()
    try:
        if threads is not None:
            con.execute(f"SET threads = {int(threads)}")
        with _step(target, "(population)"):
            generate_population(con, spec)
        with (
            _step(target, "(connect)"),
            psycopg.connect(dsn) as pg,
            tempfile.TemporaryDirectory(dir=scratch_dir, prefix="hf-synth-") as scratch,
        ):
            cur = pg.cursor()
            cur.execute(
                pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(pgsql.Identifier(schema))
            )
            for table in ALL_TABLES:
                with _step(target, table):
                    if replace:
                        cur.execute(f"DROP TABLE IF EXISTS {table_name(table, schema, upper)}")
                    _pg_create(cur, target, table, spec, schema)
            for table, rows in vocabulary_rows(spec).items():
                with _step(target, table), cur.copy(_copy_in(table, spec, schema)) as copy:
                    for values in rows:
                        copy.write_row(values)
            seconds.update(_pg_copy_clinical(con, cur, Path(scratch), target, spec, schema))
            if indexes:
                t0 = time.perf_counter()
                for statement in index_sql(schema, upper, ALL_TABLES):
                    with _step(target, statement):
                        cur.execute(statement)
                seconds["indexes"] = time.perf_counter() - t0
            with _step(target, "(analyze)"):
                for table in ALL_TABLES:
                    cur.execute(f"ANALYZE {table_name(table, schema, upper)}")
                counts = {}
                for table in ALL_TABLES:
                    cur.execute(f"SELECT count(*) FROM {table_name(table, schema, upper)}")
                    row = cur.fetchone()
                    counts[table] = int(row[0]) if row else 0
            pg.commit()
    finally:
        con.close()
    seconds["total"] = time.perf_counter() - started
    return Summary(spec=spec, target=target, row_counts=counts, seconds=seconds)


def _pg_create(
    cur: psycopg.Cursor[tuple[object, ...]], target: str, table: str, spec: SynthSpec, schema: str
) -> None:
    try:
        cur.execute(create_table_sql(table, spec.cdm_version, schema, spec.upper_case_names))
    except psycopg.errors.DuplicateTable as exc:
        raise SynthWriteError(
            f"table {table!r} already exists in {target}; "
            "pass replace=True (--replace) to overwrite it"
        ) from exc


def _copy_in(table: str, spec: SynthSpec, schema: str) -> str:
    cols = ", ".join(quote(c.name, spec.upper_case_names) for c in columns(table, spec.cdm_version))
    return f"COPY {table_name(table, schema, spec.upper_case_names)} ({cols}) FROM STDIN"


def _pg_copy_clinical(
    con: duckdb.DuckDBPyConnection,
    cur: psycopg.Cursor[tuple[object, ...]],
    scratch: Path,
    target: str,
    spec: SynthSpec,
    schema: str,
) -> dict[str, float]:
    """Export each clinical table to CSV (DuckDB, this thread) while the previous one streams
    into PostgreSQL (one worker thread): at most two CSV files exist at a time."""
    seconds: dict[str, float] = {}
    previous: tuple[str, float, Future[float]] | None = None

    def finish(job: tuple[str, float, Future[float]]) -> None:
        table, exported, future = job
        with _step(target, table):
            seconds[table] = exported + future.result()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hf-synth-copy") as pool:
        for table in CLINICAL_TABLES:
            csv = scratch / f"{table}.csv"
            t0 = time.perf_counter()
            literal = "'" + str(csv).replace("'", "''") + "'"
            with _step(target, table):
                con.execute(
                    f"COPY ({clinical_select_sql(spec, table)}) TO {literal} "
                    "(FORMAT csv, HEADER false)"
                )
            exported = time.perf_counter() - t0
            if previous is not None:
                finish(previous)
            statement = _copy_in(table, spec, schema) + " (FORMAT csv)"
            previous = (table, exported, pool.submit(_stream_csv, cur, statement, csv))
        if previous is not None:
            finish(previous)
    return seconds


def _stream_csv(cur: psycopg.Cursor[tuple[object, ...]], statement: str, csv: Path) -> float:
    started = time.perf_counter()
    with cur.copy(statement) as copy, csv.open("rb") as f:
        while chunk := f.read(1 << 20):
            copy.write(chunk)
    csv.unlink()
    return time.perf_counter() - started
