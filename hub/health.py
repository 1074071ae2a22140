"""Node health: last seen, latency of the last answer, calls, errors and the last error of
every node, kept in memory from each fan-out and written to the registry's rows in one
transaction at most every `flush_every` seconds (`flush`), never on the event loop.

Health is not acknowledged state: a hub killed between two flushes loses the last few
seconds of counters, nothing else. A node's answer that is `error` or `timeout` counts as
an error; `unsupported` (the node cannot run that question) does not.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hyperfed.hub.results import NodeResult

__all__ = ["FAILED", "Health", "Stats"]

FAILED = frozenset({"error", "timeout"})


@dataclass(frozen=True)
class Stats:
    calls: int = 0
    errors: int = 0
    last_seen: dt.datetime | None = None
    latency_ms: float | None = None
    last_error: str | None = None

    def plus(self, other: Stats) -> Stats:
        return Stats(
            self.calls + other.calls,
            self.errors + other.errors,
            other.last_seen or self.last_seen,
            other.latency_ms if other.last_seen else self.latency_ms,
            other.last_error or self.last_error,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "errors": self.errors,
            "last_seen": None if self.last_seen is None else self.last_seen.isoformat(),
            "latency_ms": self.latency_ms,
            "last_error": self.last_error,
        }


Write = Callable[[Sequence[tuple[str, Stats]]], None]


class Health:
    def __init__(self, write: Write, flush_every: float = 10.0) -> None:
        """`write(deltas)`: add each node's counters to its stored row (one transaction)."""
        self.write = write
        self.flush_every = flush_every
        self._total: dict[str, Stats] = {}
        self._pending: dict[str, Stats] = {}
        self._lock = threading.Lock()
        self._flushed = time.monotonic()

    def record(self, results: Iterable[NodeResult]) -> None:
        now = dt.datetime.now(dt.UTC)
        with self._lock:
            for r in results:
                if r.status in FAILED:
                    delta = Stats(calls=1, errors=1, last_error=(r.error or r.status)[:256])
                else:
                    delta = Stats(calls=1, last_seen=now, latency_ms=r.elapsed_ms)
                self._total[r.node] = self._total.get(r.node, Stats()).plus(delta)
                self._pending[r.node] = self._pending.get(r.node, Stats()).plus(delta)

    def since_start(self, node_id: str) -> Stats:
        with self._lock:
            return self._total.get(node_id, Stats())

    def unflushed(self, node_id: str) -> Stats:
        with self._lock:
            return self._pending.get(node_id, Stats())

    def due(self) -> bool:
        return bool(self._pending) and time.monotonic() - self._flushed >= self.flush_every

    def flush(self) -> None:
        """Write the counters gathered since the last flush (blocking: call it in a worker
        thread)."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._flushed = time.monotonic()
        if not pending:
            return
        try:
            self.write(sorted(pending.items()))
        except Exception:
            with self._lock:  # keep them for the next flush
                for node, stats in pending.items():
                    self._pending[node] = stats.plus(self._pending.get(node, Stats()))
            raise


def stored(row: dict[str, Any]) -> Stats:
    """A registry row's counters as `Stats`."""
    return replace(
        Stats(),
        calls=row.get("calls") or 0,
        errors=row.get("errors") or 0,
        last_seen=row.get("last_seen"),
        latency_ms=row.get("latency_ms"),
        last_error=row.get("last_error"),
    )
