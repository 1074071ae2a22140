"""A point in time by which a query must be answered, on the monotonic clock.

The hub sends each node the time it has left (`CountRequest.deadline_ms`); the node turns it
into a `Deadline` (capped by its own `query_timeout`), which compilers check between criteria
and runners turn into engine timeouts, so work stops when nobody waits for it any more.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hyperfed.adapters.errors import QueryTimeout

__all__ = ["Deadline"]


@dataclass(frozen=True)
class Deadline:
    at: float
    """time.monotonic() value at which the deadline passes."""
    budget: float
    """the seconds it was given (for messages)."""

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds, seconds)

    @classmethod
    def within(cls, *limits: float | None) -> Deadline | None:
        """The tightest of several limits in seconds (None: no limit); None if all are None."""
        given = [s for s in limits if s is not None]
        return cls.after(min(given)) if given else None

    def remaining(self) -> float:
        """Seconds left (0 when passed)."""
        return max(0.0, self.at - time.monotonic())

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.at

    def check(self) -> None:
        """Raise `QueryTimeout` when the deadline has passed."""
        if self.expired:
            raise QueryTimeout(f"the query ran longer than its {self.budget:g} s deadline")
