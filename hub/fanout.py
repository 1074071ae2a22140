"""Concurrent fan-out of a prepared query to every node, each with a deadline.

A node that is down, slow or answers garbage gets that status; the others' results
still come back within the deadline. The total is built only from protected counts and
protected again under the federation floor.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from pydantic import ValidationError

from hyperfed.adapters.disclosure import Policy, Protected, protect_sum, reprotect
from hyperfed.adapters.protocol import CountRequest, NodeCount, NodeStatus, Stratum
from hyperfed.hub.prepare import Prepared
from hyperfed.hub.results import NodeResult, TotalResult, TotalStratum
from hyperfed.hub.settings import NodeEntry

MAX_RESPONSE_BYTES = 4_000_000

__all__ = ["ask_node", "fan_out", "federated_strata", "federated_total"]


def _failed(node: NodeEntry, status: NodeStatus, error: str, elapsed: float) -> NodeResult:
    return NodeResult(
        node=node.id,
        title=node.title,
        status=status,
        error=error,
        elapsed_ms=round(elapsed * 1000, 2),
    )


_NO_NUMBERS: dict[str, object] = {
    "count": None,
    "countAdjustedTo": [],
    "countPrecision": None,
    "strata": None,
}


def _floored(result: NodeCount, floor: Policy) -> NodeCount:
    """Re-protect what a node released under the federation floor (a node configured
    laxer than the floor cannot push a small count through). A node answer that is not
    ok/suppressed carries no number to the researcher, whatever the node sent."""
    if result.status not in ("ok", "suppressed"):
        return result.model_copy(update=_NO_NUMBERS)
    if result.countPrecision is None:
        return result.model_copy(
            update={
                **_NO_NUMBERS,
                "status": "error",
                "error": "node sent a count without its precision",
            }
        )
    numbers = [result.countPrecision] + [s.countPrecision for s in result.strata or []]
    if floor.epsilon is not None and any(p != "imprecise" for p in numbers if p):
        return result.model_copy(
            update={
                **_NO_NUMBERS,
                "status": "error",
                "error": (
                    "node releases counts without noise; the federation floor requires noise"
                ),
            }
        )
    released = _as_protected(result)
    if released is not None:
        total = reprotect(released, floor)
        result = result.model_copy(
            update={
                "status": "ok" if total.status == "ok" else "suppressed",
                "count": total.count,
                "countAdjustedTo": total.countAdjustedTo,
                "countPrecision": total.countPrecision,
            }
        )
    if result.strata:
        strata = [
            Stratum(
                **reprotect(Protected(**s.model_dump(exclude={"sex", "age"})), floor).model_dump(),
                sex=s.sex,
                age=s.age,
            )
            for s in result.strata
        ]
        result = result.model_copy(update={"strata": strata})
    return result


async def ask_node(
    client: httpx.AsyncClient, node: NodeEntry, body: bytes, deadline: float, floor: Policy
) -> NodeResult:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(node.deadline or deadline):
            response = await client.post(
                node.url.rstrip("/") + "/count",
                content=body,
                headers={"content-type": "application/json"},
            )
    except TimeoutError:
        return _failed(
            node,
            "timeout",
            f"no answer within {node.deadline or deadline} s",
            time.perf_counter() - started,
        )
    except httpx.HTTPError as exc:
        return _failed(
            node, "error", f"node unreachable ({type(exc).__name__})", time.perf_counter() - started
        )
    elapsed = time.perf_counter() - started
    if len(response.content) > MAX_RESPONSE_BYTES:
        return _failed(node, "error", "node sent an oversized response", elapsed)
    if response.status_code != 200:
        return _failed(node, "error", f"node answered HTTP {response.status_code}", elapsed)
    try:
        result = NodeCount.model_validate_json(response.content)
    except ValidationError:
        return _failed(node, "error", "node sent an invalid response", elapsed)
    if result.node != node.id:
        return _failed(node, "error", f"node identified itself as {result.node!r}", elapsed)
    result = _floored(result, floor)
    return NodeResult(**result.model_dump(), title=node.title, elapsed_ms=round(elapsed * 1000, 2))


async def fan_out(
    clients: dict[str, httpx.AsyncClient],
    nodes: list[NodeEntry],
    prepared: Prepared,
    deadline: float,
    floor: Policy,
) -> list[NodeResult]:
    bodies: dict[str, bytes] = {}
    for model in {n.model for n in nodes}:
        request = CountRequest(query=prepared.query, bindings=prepared.bindings.get(model, {}))
        bodies[model] = request.model_dump_json(by_alias=True, exclude_none=True).encode()
    answers = await asyncio.gather(
        *[ask_node(clients[n.id], n, bodies[n.model], deadline, floor) for n in nodes],
        return_exceptions=True,
    )
    return [
        a
        if isinstance(a, NodeResult)
        else _failed(n, "error", f"the hub could not read the answer ({type(a).__name__})", 0.0)
        for n, a in zip(nodes, answers, strict=True)
    ]


def _as_protected(r: NodeCount) -> Protected | None:
    if r.status not in ("ok", "suppressed") or r.countPrecision is None:
        return None
    return Protected(
        count=r.count,
        status="ok" if r.status == "ok" else "suppressed",
        countAdjustedTo=r.countAdjustedTo,
        countPrecision=r.countPrecision,
    )


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
    parts = [p for p in (_as_protected(r) for r in results) if p is not None]
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
