"""How a store reaches its database: a writer engine, a reader engine, and the locks
that go with them (pure wiring, shared by HubStore and its sub-stores).

SQLite file: writes take one process lock (then `BEGIN IMMEDIATE`), reads use a second
engine with plain `BEGIN` and no lock (WAL: readers and the writer do not wait for each
other). In-memory SQLite: one shared connection, so reads and writes share one lock.
PostgreSQL: the database handles concurrency; no process locks.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, NamedTuple

from sqlalchemy import Engine

from hyperfed.hub.db.engine import make_engine, normalize_url

__all__ = ["Access", "access"]


class _NoLock(contextlib.AbstractContextManager[None]):
    def __exit__(self, *_: Any) -> None:
        return None


class Access(NamedTuple):
    engine: Engine  # writes
    reader: Engine  # reads
    write_lock: contextlib.AbstractContextManager[Any]
    read_lock: contextlib.AbstractContextManager[Any]


def access(url: str, engine: Engine) -> Access:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        lock = threading.RLock()
        if ":memory:" in url or url == "sqlite://":
            return Access(engine, engine, lock, lock)
        return Access(engine, make_engine(url, immediate=False), lock, _NoLock())
    return Access(engine, engine, _NoLock(), _NoLock())
