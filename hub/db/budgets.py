"""Budget events (`HubStore.budgets`): one row per counted query of a principal. The rules
(quotas, near-identical repeats, when a quota frees up) are pure: `hyperfed.hub.budgets`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Protocol, TypeVar, cast

from sqlalchemy import Table, delete, func, insert, select

from hyperfed.hub.db.access import Access
from hyperfed.hub.db.models import BudgetEvent

__all__ = ["BudgetStore", "Event"]


class _Decision(Protocol):
    @property
    def allowed(self) -> bool: ...


D = TypeVar("D", bound=_Decision)

events = cast(Table, BudgetEvent.__table__)
Event = tuple[dt.datetime, str, str]  # at, query_key, near_key


class BudgetStore:
    def __init__(self, db: Access) -> None:
        self.engine, self.reader, self._lock, self._rlock = db

    def since(self, principal: str, since: dt.datetime) -> list[Event]:
        with self._rlock, self.reader.connect() as con:
            rows = con.execute(
                select(events.c.at, events.c.query_key, events.c.near_key)
                .where(events.c.principal == principal, events.c.at >= since)
                .order_by(events.c.at)
            ).all()
        return [(r[0], r[1], r[2]) for r in rows]

    def record(self, principal: str, at: dt.datetime, query_key: str, near_key: str) -> None:
        with self._lock, self.engine.begin() as con:
            con.execute(
                insert(events).values(
                    principal=principal, at=at, query_key=query_key, near_key=near_key
                )
            )

    def charge(
        self,
        principal: str,
        at: dt.datetime,
        query_key: str,
        near_key: str,
        since: dt.datetime,
        decide: Callable[[list[Event]], D],
    ) -> D:
        """Decide on the principal's events since `since` and record this query if allowed,
        in one transaction (two concurrent queries cannot both take the last unit)."""
        with self._lock, self.engine.begin() as con:
            if con.dialect.name == "postgresql":  # one charge at a time per principal
                con.execute(select(func.pg_advisory_xact_lock(func.hashtext(principal))))
            rows = con.execute(
                select(events.c.at, events.c.query_key, events.c.near_key)
                .where(events.c.principal == principal, events.c.at >= since)
                .order_by(events.c.at)
            ).all()
            decision = decide([(r[0], r[1], r[2]) for r in rows])
            if decision.allowed:
                con.execute(
                    insert(events).values(
                        principal=principal, at=at, query_key=query_key, near_key=near_key
                    )
                )
        return decision

    def prune(self, before: dt.datetime) -> int:
        """Forget events older than every quota's window."""
        with self._lock, self.engine.begin() as con:
            return int(con.execute(delete(events).where(events.c.at < before)).rowcount)
