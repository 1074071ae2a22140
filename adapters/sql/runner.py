"""Database access for SQL-based adapters: DuckDB files and PostgreSQL (the only I/O here).

A `Runner` executes SQL text rendered for its `dialect` and returns rows, read-only and
under a deadline: DuckDB files are opened read-only and a query is interrupted when its
deadline passes; PostgreSQL queries run in READ ONLY transactions with `statement_timeout`
set to the time left. Sources are URLs: ``duckdb:///path/to/file.duckdb`` or
``postgresql://user@host/db`` (also ``postgres://``).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.errors import QueryTimeout, SourceError

if TYPE_CHECKING:
    from sqlglot import exp

__all__ = [
    "DuckDBRunner",
    "PostgresRunner",
    "Runner",
    "fetch_query",
    "open_sql_source",
    "resolve_sql_source",
]


class Runner(Protocol):
    dialect: str
    schema: str | None

    def fetch(self, sql: str, deadline: Deadline | None = None) -> list[tuple[Any, ...]]: ...

    def describe(self) -> str: ...

    def close(self) -> None: ...


def fetch_query(
    runner: Runner, query: exp.Expr, deadline: Deadline | None = None
) -> list[tuple[Any, ...]]:
    """The rows of a sqlglot query, rendered in the runner's dialect."""
    return runner.fetch(query.sql(dialect=runner.dialect), deadline)


def _left(deadline: Deadline | None) -> float | None:
    if deadline is None:
        return None
    left = deadline.remaining()
    if left <= 0:
        raise QueryTimeout(f"the query ran longer than its {deadline.budget:g} s deadline")
    return left


def _interrupt_after(cur: Any, seconds: float, done: threading.Event) -> None:
    """Interrupt `cur` when `seconds` have passed, and again every 50 ms until it is done:
    an interrupt that arrives before the engine has started the query is otherwise lost."""
    if done.wait(seconds):
        return
    while not done.is_set():
        try:
            cur.interrupt()
        except Exception:  # the cursor closed meanwhile: the query is over
            return
        done.wait(0.05)


class DuckDBRunner:
    """A DuckDB file opened read-only, or (`over`) a connection an adapter built itself —
    e.g. data it loaded from files into DuckDB — which it must not write to afterwards."""

    dialect = "duckdb"

    def __init__(self, path: Path, schema: str | None = None) -> None:
        import duckdb

        if not path.exists():
            raise SourceError(f"DuckDB file not found: {path}")
        self.path = path
        self.schema = schema
        self._name = f"DuckDB {path.name}"
        try:
            self._con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            raise SourceError(f"cannot open DuckDB file {path}: {exc}") from exc
        self._lock = threading.Lock()

    @classmethod
    def over(cls, con: Any, name: str, schema: str | None = None) -> DuckDBRunner:
        """A runner over an open DuckDB connection (`name` describes it to operators)."""
        runner = cls.__new__(cls)
        runner.path = Path(name)
        runner.schema = schema
        runner._name = name
        runner._con = con
        runner._lock = threading.Lock()
        return runner

    def fetch(self, sql: str, deadline: Deadline | None = None) -> list[tuple[Any, ...]]:
        import duckdb

        left = _left(deadline)
        with self._lock:
            cur = self._con.cursor()
        done = threading.Event()
        if left is not None:
            threading.Thread(target=_interrupt_after, args=(cur, left, done), daemon=True).start()
        try:
            return cur.execute(sql).fetchall()
        except duckdb.InterruptException as exc:
            assert deadline is not None
            raise QueryTimeout(
                f"the query ran longer than its {deadline.budget:g} s deadline"
            ) from exc
        finally:
            done.set()
            cur.close()

    def describe(self) -> str:
        return self._name

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

    def fetch(self, sql: str, deadline: Deadline | None = None) -> list[tuple[Any, ...]]:
        import psycopg

        left = _left(deadline)
        with self._pool.connection() as con, con.transaction(), con.cursor() as cur:
            cur.execute("SET TRANSACTION READ ONLY")
            if left is not None:
                cur.execute(f"SET LOCAL statement_timeout = {max(1, int(left * 1000))}")
            try:
                cur.execute(sql.encode())
            except psycopg.errors.QueryCanceled as exc:
                assert deadline is not None
                raise QueryTimeout(
                    f"the query ran longer than its {deadline.budget:g} s deadline"
                ) from exc
            return list(cur.fetchall())

    def describe(self) -> str:
        host = urlparse(self._dsn).hostname or "local socket"
        return f"PostgreSQL on {host}"

    def close(self) -> None:
        self._pool.close()


def open_sql_source(url: str, schema: str | None = None) -> Runner:
    """Open a SQL source by URL: duckdb:///path or postgresql://user@host/db."""
    parsed = urlparse(url)
    if parsed.scheme == "duckdb":
        return DuckDBRunner(Path(url[len("duckdb://") :]).expanduser(), schema)
    if parsed.scheme in ("postgresql", "postgres"):
        return PostgresRunner(url, schema)
    raise SourceError(
        f"unsupported source {url!r}: use duckdb:///path/to/file.duckdb or postgresql://..."
    )


def resolve_sql_source(source: str, base_dir: Path) -> str:
    """A `duckdb://relative.duckdb` source made absolute against `base_dir`."""
    if not source.startswith("duckdb://"):
        return source
    p = Path(source[len("duckdb://") :]).expanduser()
    if not p.is_absolute():
        p = (base_dir / p).resolve()
    return f"duckdb://{p}"
