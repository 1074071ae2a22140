"""Engines for the hub's database: SQLite (embedded default) or PostgreSQL, and migrations.

SQLite runs in WAL mode with `synchronous=FULL` (an acknowledged commit survives a crash of
the process and of the machine) and every transaction starts `BEGIN IMMEDIATE`, so writers
queue instead of failing half-way; PostgreSQL URLs are served by psycopg 3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import StaticPool

__all__ = [
    "MIGRATIONS",
    "current_revision",
    "head_revision",
    "make_engine",
    "migrate",
    "normalize_url",
]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def normalize_url(url: str) -> str:
    """`postgresql://` and `postgres://` mean psycopg 3 (the driver the project installs)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, immediate: bool = True) -> Engine:
    """An engine for `url`; `immediate=False` (SQLite) for a reader that never takes the
    write lock (WAL readers do not block writers, nor writers readers)."""
    url = normalize_url(url)
    kwargs: dict[str, Any] = {}
    sqlite = url.startswith("sqlite")
    if sqlite:
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if ":memory:" in url or url == "sqlite://":
            kwargs["poolclass"] = StaticPool
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if sqlite:

        @event.listens_for(engine, "connect")
        def _connect(con: Any, _: Any) -> None:
            con.isolation_level = None  # we issue BEGIN ourselves
            cur = con.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database to `revision` (the newest by default); idempotent."""
    with engine.connect() as con:
        command.upgrade(_config(con), revision)
        con.commit()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as con:
        return MigrationContext.configure(con).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()
