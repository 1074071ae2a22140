"""Walking a criterion tree: every event criterion with its JSON path."""

from __future__ import annotations

from collections.abc import Iterator

from hyperfed.adapters.hql.model import (
    AllCriterion,
    AnyCriterion,
    Criterion,
    EventCriterion,
    NotCriterion,
)

__all__ = ["iter_events"]


def iter_events(c: Criterion, path: str = "criteria") -> Iterator[tuple[str, EventCriterion]]:
    """Yield (json path, event criterion) for every event, `within.of` anchors included."""
    if isinstance(c, AllCriterion):
        for i, x in enumerate(c.all):
            yield from iter_events(x, f"{path}.all[{i}]")
    elif isinstance(c, AnyCriterion):
        for i, x in enumerate(c.any):
            yield from iter_events(x, f"{path}.any[{i}]")
    elif isinstance(c, NotCriterion):
        yield from iter_events(c.not_, f"{path}.not")
    elif isinstance(c, EventCriterion):
        yield path, c
        if c.within is not None:
            yield from iter_events(c.within.of, f"{path}.within.of")
