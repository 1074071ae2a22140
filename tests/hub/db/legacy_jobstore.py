"""The hub's store of earlier releases (`JobStore`: jobs and a plain audit table), kept
as it was so the migration test can make a database the way those releases did and
check that `HubStore` upgrades it in place. Not part of the product any more."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.pool import StaticPool

__all__ = ["JobStore"]

metadata = MetaData()

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("finished", DateTime(timezone=True)),
    Column("status", String(16), nullable=False),
    Column("query_key", String(64), nullable=False, index=True),
    Column("researcher", String(256)),
    Column("result", JSON),
)

audit = Table(
    "audit",
    metadata,
    Column("job_id", String(36), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("researcher", String(256)),
    Column("query_key", String(64), nullable=False, index=True),
    Column("query", Text, nullable=False),
    Column("outcome", JSON, nullable=False),
)


class JobStore:
    def __init__(self, url: str) -> None:
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False}
            if ":memory:" in url or url == "sqlite://":
                kwargs["poolclass"] = StaticPool
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):

            @event.listens_for(self.engine, "connect")
            def _pragmas(con: Any, _: Any) -> None:
                cur = con.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()

        metadata.create_all(self.engine)
        # SQLite serialises writers anyway; one lock keeps a shared in-memory connection safe
        self._lock = threading.RLock()
        self.interrupt_running()

    def start(
        self,
        job_id: str,
        created: dt.datetime,
        key: str,
        researcher: str | None,
        result: dict[str, Any],
    ) -> None:
        with self._lock, self.engine.begin() as con:
            con.execute(
                insert(jobs).values(
                    id=job_id,
                    created=created,
                    status="running",
                    query_key=key,
                    researcher=researcher,
                    result=result,
                )
            )

    def finish(
        self, job_id: str, finished: dt.datetime, researcher: str | None, result: dict[str, Any]
    ) -> None:
        outcome = {
            "total": result.get("total"),
            "nodes": [
                {k: n.get(k) for k in ("node", "status", "count")} for n in result.get("nodes", [])
            ],
        }
        with self._lock, self.engine.begin() as con:
            updated = con.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(status="done", finished=finished, result=result)
            )
            if updated.rowcount == 0:  # a synchronous query: one write, job and audit together
                con.execute(
                    insert(jobs).values(
                        id=job_id,
                        created=dt.datetime.fromisoformat(result["created"]),
                        finished=finished,
                        status="done",
                        query_key=result["query_key"],
                        researcher=researcher,
                        result=result,
                    )
                )
            con.execute(
                insert(audit).values(
                    job_id=job_id,
                    at=finished,
                    researcher=researcher,
                    query_key=result["query_key"],
                    query=json.dumps(result["query"], sort_keys=True),
                    outcome=outcome,
                )
            )

    def fail(self, job_id: str, result: dict[str, Any]) -> None:
        with self._lock, self.engine.begin() as con:
            con.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(status=result["status"], finished=dt.datetime.now(dt.UTC), result=result)
            )

    def interrupt_running(self) -> int:
        """Mark jobs left running by a previous process (it stopped) as interrupted."""
        with self._lock, self.engine.begin() as con:
            rows = con.execute(
                select(jobs.c.id, jobs.c.result).where(jobs.c.status == "running")
            ).all()
            for job_id, result in rows:
                con.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id)
                    .values(status="interrupted", result={**result, "status": "interrupted"})
                )
        return len(rows)

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock, self.engine.connect() as con:
            row = con.execute(select(jobs.c.result).where(jobs.c.id == job_id)).first()
        return None if row is None else dict(row[0])

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock, self.engine.connect() as con:
            rows = con.execute(select(audit).order_by(audit.c.at.desc()).limit(limit)).all()
        return [dict(r._mapping) for r in rows]

    def close(self) -> None:
        self.engine.dispose()
