"""`HubStore`: the hub's durable state behind one object, SQLite or PostgreSQL.

Jobs (start, finish, fail, interrupt_running, get, job_owner, history, audit_log), the
tamper-evident audit trail (`append`, `records`, `verify`, `export`) and the sub-stores
`nodes` (registry), `identity` (principals, clients, codes, keys) and `budgets`.

Every method is one transaction: a job and its audit record are written together or not
at all; an audit record is linked to the last one under a lock (PostgreSQL: the head row
`FOR UPDATE`; SQLite: `BEGIN IMMEDIATE`). The schema is migrated to the newest Alembic
revision when the store opens (`migrate=False` to refuse an old schema instead).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import IO, Any, cast

from sqlalchemy import Connection, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hyperfed.hub.db.access import access
from hyperfed.hub.db.budgets import BudgetStore
from hyperfed.hub.db.chain import GENESIS, ChainReport, Link, link_hash, make_body, verify_chain
from hyperfed.hub.db.engine import current_revision, head_revision, make_engine, migrate
from hyperfed.hub.db.identity import IdentityStore
from hyperfed.hub.db.models import AuditHead, AuditRecord, Job
from hyperfed.hub.db.nodes import NodeStore
from hyperfed.hub.errors import HubError

__all__ = ["INTERRUPTED", "HubStore", "SchemaOutdated", "query_outcome"]

INTERRUPTED = "the hub stopped while this query ran; no result was kept: ask again"

jobs = cast(Table, Job.__table__)
audit = cast(Table, AuditRecord.__table__)
head = cast(Table, AuditHead.__table__)


class SchemaOutdated(HubError):
    """The database is not at the newest schema revision (run `hyperfed hub migrate`)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def query_outcome(result: dict[str, Any]) -> dict[str, Any]:
    """What the audit keeps of a finished query: released numbers only."""

    def released(x: dict[str, Any] | None) -> dict[str, Any] | None:
        if x is None:
            return None
        return {k: x.get(k) for k in ("status", "count", "countAdjustedTo")}

    return {
        "total": released(result.get("total")),
        "nodes": [
            {k: n.get(k) for k in ("node", "status", "count", "countAdjustedTo")}
            for n in result.get("nodes", [])
        ],
    }


class HubStore:
    def __init__(self, url: str, *, migrate_schema: bool = True, interrupt: bool = True) -> None:
        """`interrupt`: mark jobs left running as interrupted (the hub, at its start); tools
        that open the database beside a running hub (the CLI) pass False, or they would
        mark that hub's jobs in flight."""
        self.url = url
        self.engine = make_engine(url)
        if migrate_schema:
            migrate(self.engine)
        elif current_revision(self.engine) != head_revision():
            raise SchemaOutdated(
                f"{url}: schema revision {current_revision(self.engine)!r}, the hub needs "
                f"{head_revision()!r}: run `hyperfed hub migrate`"
            )
        db = access(url, self.engine)
        _, self.reader, self._lock, self._rlock = db
        self._ensure_head()
        self.nodes = NodeStore(db, self.append_in)
        self.identity = IdentityStore(db, self.append_in)
        self.budgets = BudgetStore(db)
        if interrupt:
            self.interrupt_running()

    def _ensure_head(self) -> None:
        """The one head row every append locks (two first appends cannot both make it)."""
        with self._lock:
            try:
                with self.engine.begin() as con:
                    if con.execute(select(head.c.id).where(head.c.id == 1)).first() is None:
                        con.execute(insert(head).values(id=1, seq=0, hash=GENESIS))
            except IntegrityError:
                pass  # another process made it at the same moment

    # -- jobs -------------------------------------------------------------------------------

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
        """Store a finished job and its audit record in one transaction."""
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
            data = {
                "query_key": result["query_key"],
                "query": result["query"],
                **query_outcome(result),
            }
            self.append_in(con, "query", researcher, data, job_id=job_id, at=finished)

    def fail(self, job_id: str, result: dict[str, Any]) -> None:
        with self._lock, self.engine.begin() as con:
            con.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(status=result["status"], finished=_now(), result=result)
            )
            row = con.execute(select(jobs.c.researcher).where(jobs.c.id == job_id)).first()
            self.append_in(
                con,
                "query.failed",
                None if row is None else row[0],
                {"status": result["status"], "error": result.get("error")},
                job_id=job_id,
            )

    def interrupt_running(self) -> int:
        """Mark jobs left running by a stopped process as interrupted, with a reason, and
        audit each (their nodes' answers were never kept, so nothing can be resumed)."""
        with self._lock, self.engine.begin() as con:
            rows = con.execute(
                select(jobs.c.id, jobs.c.researcher, jobs.c.result).where(
                    jobs.c.status == "running"
                )
            ).all()
            for job_id, researcher, result in rows:
                marked = {**result, "status": "interrupted", "error": INTERRUPTED}
                con.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id)
                    .values(status="interrupted", finished=_now(), result=marked)
                )
                self.append_in(con, "query.interrupted", researcher, {}, job_id=job_id)
        return len(rows)

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._rlock, self.reader.connect() as con:
            row = con.execute(select(jobs.c.result).where(jobs.c.id == job_id)).first()
        return None if row is None else dict(row[0])

    def job_owner(self, job_id: str) -> tuple[bool, str | None]:
        """(exists, researcher) of a job, for 'see own results only'."""
        with self._rlock, self.reader.connect() as con:
            row = con.execute(select(jobs.c.researcher).where(jobs.c.id == job_id)).first()
        return (False, None) if row is None else (True, row[0])

    def history(self, researcher: str, limit: int = 100) -> list[dict[str, Any]]:
        """A researcher's own jobs, newest first."""
        with self._rlock, self.reader.connect() as con:
            rows = con.execute(
                select(jobs.c.result)
                .where(jobs.c.researcher == researcher)
                .order_by(jobs.c.created.desc())
                .limit(limit)
            ).all()
        return [dict(r[0]) for r in rows]

    # -- the audit trail ---------------------------------------------------------------------

    def append_in(
        self,
        con: Connection,
        kind: str,
        actor: str | None,
        data: Any,
        *,
        job_id: str | None = None,
        at: dt.datetime | None = None,
    ) -> int:
        """Append one record inside the caller's transaction; returns its seq."""
        at = at or _now()
        last = con.execute(select(head.c.seq, head.c.hash).where(head.c.id == 1).with_for_update())
        row = last.first()
        if row is None:  # made when the store opens; a database emptied by hand has none
            raise RuntimeError("the audit head is missing: reopen the store")
        seq, prev = row[0] + 1, row[1]
        body = make_body(seq, at, kind, actor, job_id, data)
        digest = link_hash(prev, body)
        con.execute(
            insert(audit).values(
                seq=seq,
                at=at,
                kind=kind,
                actor=actor,
                job_id=job_id,
                body=body,
                prev_hash=prev,
                hash=digest,
            )
        )
        con.execute(update(head).where(head.c.id == 1).values(seq=seq, hash=digest))
        return seq

    def append(self, kind: str, actor: str | None, data: Any, *, job_id: str | None = None) -> int:
        with self._lock, self.engine.begin() as con:
            return self.append_in(con, kind, actor, data, job_id=job_id)

    def _links(self, after: int = 0, batch: int = 1000) -> Iterator[Link]:
        while True:
            with self._rlock, self.reader.connect() as con:
                rows = con.execute(
                    select(audit).where(audit.c.seq > after).order_by(audit.c.seq).limit(batch)
                ).all()
            for r in rows:
                yield Link(r.seq, r.at, r.kind, r.actor, r.job_id, r.body, r.prev_hash, r.hash)
            if len(rows) < batch:
                return
            after = rows[-1].seq

    def head(self) -> tuple[int, str] | None:
        with self._rlock, self.reader.connect() as con:
            row = con.execute(select(head.c.seq, head.c.hash).where(head.c.id == 1)).first()
        return None if row is None else (int(row[0]), str(row[1]))

    def verify(self) -> ChainReport:
        """Check the whole chain; the report names the first broken record."""
        return verify_chain(self._links(), self.head())

    def records(
        self, limit: int = 100, kind: str | None = None, before: int | None = None
    ) -> list[dict[str, Any]]:
        """Audit records, newest first (as stored: the hashed body, decoded)."""
        import json

        query = select(audit).order_by(audit.c.seq.desc()).limit(limit)
        if kind is not None:
            query = query.where(audit.c.kind == kind)
        if before is not None:
            query = query.where(audit.c.seq < before)
        with self._rlock, self.reader.connect() as con:
            rows = con.execute(query).all()
        return [{**json.loads(r.body), "hash": r.hash, "prev_hash": r.prev_hash} for r in rows]

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        """The query records, newest first (what `GET /audit` shows)."""
        out = []
        for r in self.records(limit, kind="query"):
            data = r["data"]
            out.append(
                {
                    "seq": r["seq"],
                    "job_id": r["job_id"],
                    "at": dt.datetime.fromisoformat(r["at"]),
                    "researcher": r["actor"],
                    "query_key": data["query_key"],
                    "query": data["query"],
                    "outcome": {"total": data["total"], "nodes": data["nodes"]},
                    "hash": r["hash"],
                }
            )
        return out

    def export(self, out: IO[str]) -> int:
        """Write the whole trail as JSON lines (oldest first, each with its hashes); returns
        the number of records. Re-verifiable offline with `verify_jsonl`."""
        import json

        n = 0
        for link in self._links():
            out.write(
                json.dumps(
                    {"body": link.body, "prev_hash": link.prev_hash, "hash": link.hash},
                    ensure_ascii=False,
                )
                + "\n"
            )
            n += 1
        return n

    def count(self) -> int:
        with self._rlock, self.reader.connect() as con:
            return int(con.execute(select(func.count()).select_from(audit)).scalar_one())

    def close(self) -> None:
        self.engine.dispose()
        if self.reader is not self.engine:
            self.reader.dispose()
