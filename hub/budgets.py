"""Per-researcher query budgets (pure): quotas of rate and total, near-identical repeats,
and when a used-up quota frees up. The store side is `HubStore.budgets`.

A quota is `limit` queries per sliding `window` (MII: 3 per minute and 50 per week,
`BudgetPolicy.mii()`). Every query a researcher sends counts once, whatever it returns.

**Near-identical** queries have the same canonical criteria once `as_of` and `stratify`
are dropped: the same question asked on another reference date or broken down another
way (`near_key`). Those are exactly the repeats that can draw fresh noise (questions with
ages change with `as_of`; a breakdown has its own cells), so they are counted, and past
`repeat_limit` in `repeat_window` the question is refused until the oldest repeat leaves
the window. Identical questions (same `query_key`) are near-identical too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hyperfed.adapters.hql.canonical import canonicalize, query_key
from hyperfed.adapters.hql.model import Query
from hyperfed.hub.db.budgets import BudgetStore, Event

__all__ = [
    "BudgetPolicy",
    "Budgets",
    "Decision",
    "Event",
    "Quota",
    "Usage",
    "decide",
    "near_key",
    "parse_window",
    "usage",
]

_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800, "week": 604800}


def parse_window(value: str | float) -> float:
    """Seconds of a window: a number, or '30s', '1m'/'1min', '2h', '7d', '1w'/'1week'."""
    if isinstance(value, int | float):
        if value <= 0:
            raise ValueError("a window must be positive")
        return float(value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*", value)
    if not m or m.group(2) not in _UNITS or float(m.group(1)) <= 0:
        raise ValueError(f"window {value!r}: write e.g. '1m', '7d', '1w' or seconds")
    return float(m.group(1)) * _UNITS[m.group(2)]


class Quota(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: Annotated[int, Field(ge=1)]
    window: float  # seconds (TOML may say "1m", "1w")

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, v: Any) -> float:
        return parse_window(v)

    @property
    def name(self) -> str:
        for unit, seconds in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
            if self.window % seconds == 0:
                n = int(self.window // seconds)
                return f"{self.limit} per {unit}" if n == 1 else f"{self.limit} per {n} {unit}s"
        return f"{self.limit} per {self.window:g} s"


class BudgetPolicy(BaseModel):
    """`[budgets]` of hub.toml; no quotas and no repeat limit means no budgets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quotas: list[Quota] = []
    repeat_limit: Annotated[int | None, Field(ge=1)] = None
    repeat_window: float = 7 * 86400.0

    @field_validator("repeat_window", mode="before")
    @classmethod
    def _repeat_window(cls, v: Any) -> float:
        return parse_window(v)

    @classmethod
    def mii(cls) -> BudgetPolicy:
        """MII feasibility's quotas (3 per minute, 50 per week) and at most 5
        near-identical repeats a week (an example: choose your federation's)."""
        return cls(
            quotas=[Quota(limit=3, window=60), Quota(limit=50, window=604800)],
            repeat_limit=5,
        )

    @property
    def horizon(self) -> float:
        """The longest window: older events never matter."""
        windows = [q.window for q in self.quotas]
        if self.repeat_limit is not None:
            windows.append(self.repeat_window)
        return max(windows, default=0.0)


def near_key(query: Query) -> str:
    """The identity of a question up to its reference date and its breakdown."""
    bare = canonicalize(query.model_copy(update={"as_of": None, "stratify": None}))
    return hashlib.sha256(query_key(bare).encode()).hexdigest()


@dataclass(frozen=True)
class Usage:
    quota: str
    limit: int
    window_s: float
    used: int
    remaining: int
    resets_at: dt.datetime | None  # when the oldest counted query leaves the window

    def as_dict(self) -> dict[str, Any]:
        return {
            "quota": self.quota,
            "limit": self.limit,
            "window_s": self.window_s,
            "used": self.used,
            "remaining": self.remaining,
            "resets_at": None if self.resets_at is None else self.resets_at.isoformat(),
        }


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int  # seconds (0 when allowed)
    frees_at: dt.datetime | None
    reason: str
    usage: tuple[Usage, ...]
    repeats: int  # near-identical queries before this one, in the repeat window

    def as_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "retry_after": self.retry_after,
            "frees_at": None if self.frees_at is None else self.frees_at.isoformat(),
            "reason": self.reason,
            "repeats": self.repeats,
            "quotas": [u.as_dict() for u in self.usage],
        }


def _in_window(events: Sequence[Event], now: dt.datetime, window: float) -> list[dt.datetime]:
    start = now - dt.timedelta(seconds=window)
    return sorted(at for at, _, _ in events if at > start)


def usage(policy: BudgetPolicy, events: Sequence[Event], now: dt.datetime) -> list[Usage]:
    out = []
    for q in policy.quotas:
        times = _in_window(events, now, q.window)
        resets = times[0] + dt.timedelta(seconds=q.window) if times else None
        out.append(
            Usage(q.name, q.limit, q.window, len(times), max(0, q.limit - len(times)), resets)
        )
    return out


def decide(policy: BudgetPolicy, events: Sequence[Event], now: dt.datetime, near: str) -> Decision:
    """May this query (of near-identity `near`) run now, given the principal's events?"""
    blocked: list[tuple[dt.datetime, str]] = []
    for q in policy.quotas:
        times = _in_window(events, now, q.window)
        if len(times) >= q.limit:
            # free again once enough queries have left the window to leave one unit
            frees = times[len(times) - q.limit] + dt.timedelta(seconds=q.window)
            blocked.append((frees, f"quota {q.name} is used up"))
    repeats = [e for e in events if e[2] == near]
    times = _in_window(repeats, now, policy.repeat_window)
    if policy.repeat_limit is not None and len(times) >= policy.repeat_limit:
        frees = times[len(times) - policy.repeat_limit] + dt.timedelta(seconds=policy.repeat_window)
        blocked.append(
            (
                frees,
                f"this question (or a near-identical one: another as_of or "
                f"stratification) was asked {len(times)} times",
            )
        )
    current = tuple(usage(policy, events, now))
    if not blocked:
        return Decision(True, 0, None, "", current, len(times))
    frees_at = max(b[0] for b in blocked)
    retry = max(1, math.ceil((frees_at - now).total_seconds()))
    reason = "; ".join(b[1] for b in blocked) + f": try again after {frees_at.isoformat()}"
    return Decision(False, retry, frees_at, reason, current, len(times))


class Budgets:
    """The policy over a store (`HubStore.budgets`): charge a query, or read the budget."""

    def __init__(self, store: BudgetStore, policy: BudgetPolicy) -> None:
        self.store = store
        self.policy = policy

    @property
    def limited(self) -> bool:
        """Whether any quota or repeat limit is set (no budget: nothing to count)."""
        return bool(self.policy.quotas) or self.policy.repeat_limit is not None

    def charge(
        self, principal: str, query: Query, key: str, now: dt.datetime | None = None
    ) -> Decision:
        """Count the query if the budget allows it (atomically); the decision either way."""
        now = now or dt.datetime.now(dt.UTC)
        near = near_key(query)
        if not self.limited:
            return Decision(True, 0, None, "", (), 0)
        since = now - dt.timedelta(seconds=self.policy.horizon)
        return self.store.charge(
            principal, now, key, near, since, lambda events: decide(self.policy, events, now, near)
        )

    def status(self, principal: str, now: dt.datetime | None = None) -> dict[str, Any]:
        """What `GET /me/budget` shows."""
        now = now or dt.datetime.now(dt.UTC)
        events = self.store.since(principal, now - dt.timedelta(seconds=self.policy.horizon))
        return {
            "quotas": [u.as_dict() for u in usage(self.policy, events, now)],
            "repeat_limit": self.policy.repeat_limit,
            "repeat_window_s": self.policy.repeat_window,
        }
