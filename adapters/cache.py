"""A thread-safe look-up cache: what a node learnt about codes and units once, for every
later query (nodes answer concurrent requests from worker threads)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

__all__ = ["LookupCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LookupCache(Generic[K, V]):
    """Values by key, fetched in batches for the keys not seen yet. The fetch runs outside
    the lock (two threads may fetch the same key; both get the same answer)."""

    def __init__(self, missing: V | None = None) -> None:
        self._values: dict[K, V] = {}
        self._missing = missing
        self._lock = threading.Lock()

    def get_many(self, keys: Iterable[K], fetch: Callable[[set[K]], dict[K, V]]) -> dict[K, V]:
        """The values of `keys`; those not cached are fetched with `fetch(missing_keys)`
        (keys it does not return are cached as `missing`, when one was given)."""
        wanted = set(keys)
        with self._lock:
            absent = wanted - self._values.keys()
        if absent:
            found = fetch(absent)
            with self._lock:
                self._values.update(found)
                if self._missing is not None:
                    for k in absent - found.keys():
                        self._values.setdefault(k, self._missing)
        with self._lock:
            return {k: self._values[k] for k in wanted if k in self._values}
