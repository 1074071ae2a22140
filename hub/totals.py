"""Federated totals: built only from the nodes' protected counts, protected again under the
federation floor (no fresh noise: the parts are noisy already). The exact federated count is
never computed anywhere."""

from __future__ import annotations

from hyperfed.adapters.disclosure import Policy, Protected, protect_sum
from hyperfed.hub.client import as_protected
from hyperfed.hub.results import NodeResult, TotalResult, TotalStratum

__all__ = ["federated_strata", "federated_total"]


def _total(parts: list[Protected], expected: int, floor: Policy) -> TotalResult:
    if not parts:
        return TotalResult(
            count=None,
            status="unavailable",
            countAdjustedTo=[],
            countPrecision="imprecise",
            nodes_counted=0,
            lower_bound=True,
            note="no node returned a protected count",
        )
    total = protect_sum(parts, floor)
    counted = sum(1 for p in parts if p.status == "ok")
    lower = counted < expected
    note = ""
    if lower:
        note = (
            f"sum over {counted} of {expected} nodes: nodes that were suppressed, "
            "unsupported, failed or timed out contribute nothing, so this is a lower bound"
        )
    return TotalResult(**total.model_dump(), nodes_counted=counted, lower_bound=lower, note=note)


def federated_total(results: list[NodeResult], floor: Policy) -> TotalResult:
    parts = [p for p in (as_protected(r) for r in results) if p is not None]
    return _total(parts, len(results), floor)


def federated_strata(results: list[NodeResult], floor: Policy) -> list[TotalStratum] | None:
    cells: dict[tuple[str | None, str | None], list[Protected]] = {}
    for r in results:
        for s in r.strata or []:
            cells.setdefault((s.sex, s.age), []).append(
                Protected(
                    count=s.count,
                    status=s.status,
                    countAdjustedTo=s.countAdjustedTo,
                    countPrecision=s.countPrecision,
                )
            )
    if not cells:
        return None
    return [
        TotalStratum(**_total(parts, len(results), floor).model_dump(), sex=sex, age=age)
        for (sex, age), parts in cells.items()
    ]
