"""Database access for the OMOP adapter: DuckDB files and PostgreSQL (the only I/O here).

A `Runner` executes SQL text rendered for its `dialect` and returns rows. Sources are
URLs: ``duckdb:///path/to/file.duckdb`` (opened read-only) or ``postgresql://...``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

__all__ = ["DuckDBRunner", "PostgresRunner", "Runner", "SourceError", "open_source"]


class SourceError(Exception):
    """The data source cannot be opened or queried."""


class Runner(Protocol):
    dialect: str
    schema: str | None

    def fetch(self, sql: str, timeout_s: float | None = None) -> list[tuple[Any, ...]]: ...

    def describe(self) -> str: ...

    def close(self) -> None: ...


class DuckDBRunner:
    dialect = "duckdb"

    def __init__(self, path: Path, schema: str | None = None) -> None:
        import duckdb

        if not path.exists():
            raise SourceError(f"DuckDB file not found: {path}")
        self.path = path
        self.schema = schema
        try:
            self._con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            raise SourceError(f"cannot open DuckDB file {path}: {exc}") from exc
        self._lock = threading.Lock()

    def fetch(self, sql: str, timeout_s: float | None = None) -> list[tuple[Any, ...]]:
        import duckdb

        with self._lock:
            cur = self._con.cursor()
        timer = None
        if timeout_s:
            timer = threading.Timer(timeout_s, cur.interrupt)
            timer.daemon = True
            timer.start()
        try:
            return cur.execute(sql).fetchall()
        except duckdb.InterruptException as exc:
            raise TimeoutError(f"query exceeded {timeout_s} s") from exc
        finally:
            if timer is not None:
                timer.cancel()
            cur.close()

    def describe(self) -> str:
        return f"DuckDB {self.path.name}"

    def close(self) -> None:
        self._con.close()


class PostgresRunner:
    dialect = "postgres"

    def __init__(self, dsn: str, schema: str | None = None) -> None:
        from psycopg_pool import ConnectionPool

        self.schema: str | None = schema or "public"
        self._dsn = dsn
        try:
            self._pool = ConnectionPool(dsn, min_size=1, max_size=4, open=True, timeout=10)
            self._pool.wait(timeout=10)
        except Exception as exc:
            raise SourceError(f"cannot connect to PostgreSQL: {type(exc).__name__}") from exc

    def fetch(self, sql: str, timeout_s: float | None = None) -> list[tuple[Any, ...]]:
        import psycopg

        with self._pool.connection() as con, con.transaction(), con.cursor() as cur:
            cur.execute("SET TRANSACTION READ ONLY")
            if timeout_s:
                cur.execute(f"SET LOCAL statement_timeout = {int(timeout_s * 1000)}")
            try:
                cur.execute(sql.encode())
            except psycopg.errors.QueryCanceled as exc:
                raise TimeoutError(f"query exceeded {timeout_s} s") from exc
            return list(cur.fetchall())

    def describe(self) -> str:
        host = urlparse(self._dsn).hostname or "local socket"
        return f"PostgreSQL on {host}"

    def close(self) -> None:
        self._pool.close()


def open_source(url: str, schema: str | None = None) -> Runner:
    """Open a data source by URL: duckdb:///path or postgresql://user@host/db."""
    parsed = urlparse(url)
    if parsed.scheme == "duckdb":
        return DuckDBRunner(Path(url[len("duckdb://") :]).expanduser(), schema)
    if parsed.scheme in ("postgresql", "postgres"):
        return PostgresRunner(url, schema)
    raise SourceError(
        f"unsupported source {url!r}: use duckdb:///path/to/file.duckdb or postgresql://..."
    )
