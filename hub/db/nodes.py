"""The node registry's rows (`HubStore.nodes`): each change and its audit record are one
transaction. The rules (who may do what, state changes) live in `hyperfed.hub.registry`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, cast

from sqlalchemy import Connection, Table, delete, insert, select, update

from hyperfed.hub.db.access import Access
from hyperfed.hub.db.models import NodeRow

__all__ = ["AuditAppend", "NodeStore"]

AuditAppend = Callable[..., int]
nodes = cast(Table, NodeRow.__table__)
Audit = tuple[str, str | None, dict[str, Any]]


class NodeStore:
    def __init__(self, db: Access, append_in: AuditAppend) -> None:
        self.engine, self.reader, self._lock, self._rlock = db
        self._append_in = append_in

    def _audit(self, con: Connection, audit: Audit | None) -> None:
        if audit is not None:
            kind, actor, data = audit
            self._append_in(con, kind, actor, data)

    def insert(self, values: dict[str, Any], audit: Audit | None = None) -> bool:
        """Add a node; False if its id is taken (nothing written then)."""
        with self._lock, self.engine.begin() as con:
            if con.execute(select(nodes.c.id).where(nodes.c.id == values["id"])).first():
                return False
            con.execute(insert(nodes).values(**values))
            self._audit(con, audit)
        return True

    def get(self, node_id: str) -> dict[str, Any] | None:
        with self._rlock, self.reader.connect() as con:
            row = con.execute(select(nodes).where(nodes.c.id == node_id)).first()
        return None if row is None else dict(row._mapping)

    def list(self, owner: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        query = select(nodes).order_by(nodes.c.id)
        if owner is not None:
            query = query.where(nodes.c.owner == owner)
        if status is not None:
            query = query.where(nodes.c.status == status)
        with self._rlock, self.reader.connect() as con:
            return [dict(r._mapping) for r in con.execute(query).all()]

    def update(self, node_id: str, values: dict[str, Any], audit: Audit | None = None) -> bool:
        with self._lock, self.engine.begin() as con:
            n = con.execute(update(nodes).where(nodes.c.id == node_id).values(**values)).rowcount
            if n:
                self._audit(con, audit)
        return bool(n)

    def delete(self, node_id: str, audit: Audit | None = None) -> bool:
        with self._lock, self.engine.begin() as con:
            n = con.execute(delete(nodes).where(nodes.c.id == node_id)).rowcount
            if n:
                self._audit(con, audit)
        return bool(n)

    def record_calls(self, deltas: Sequence[tuple[str, Any]]) -> None:
        """Health counters of several nodes (`hyperfed.hub.health.Stats` deltas) in one
        transaction; rows of nodes that are not registered are left alone."""
        with self._lock, self.engine.begin() as con:
            for node_id, d in deltas:
                values: dict[str, Any] = {
                    "calls": nodes.c.calls + d.calls,
                    "errors": nodes.c.errors + d.errors,
                }
                if d.last_seen is not None:
                    values.update(last_seen=d.last_seen, latency_ms=d.latency_ms)
                if d.last_error is not None:
                    values["last_error"] = d.last_error
                con.execute(update(nodes).where(nodes.c.id == node_id).values(**values))

    def record_call(
        self, node_id: str, at: dt.datetime, latency_ms: float | None, error: str | None
    ) -> None:
        """Health: last seen and latency on an answer, an error count and reason otherwise."""
        values: dict[str, Any] = {"calls": nodes.c.calls + 1}
        if error is None:
            values.update(last_seen=at, latency_ms=latency_ms)
        else:
            values.update(errors=nodes.c.errors + 1, last_error=error[:256])
        with self._lock, self.engine.begin() as con:
            con.execute(update(nodes).where(nodes.c.id == node_id).values(**values))
