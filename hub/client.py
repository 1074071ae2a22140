"""The hub's one node client: every conversation with a node goes through it.

It sends each node the query with that node's model's bindings and the time it has left,
bounds every call by the node's deadline, validates what comes back (a node that is down,
slow, oversized, lying or garbled gets that status; the others' results still come back),
and re-protects every released number under the federation floor.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from hyperfed.adapters.disclosure import Policy, Protected, reprotect
from hyperfed.adapters.protocol import Capabilities, CountRequest, NodeCount, NodeStatus, Stratum
from hyperfed.hub.prepare import Prepared
from hyperfed.hub.results import NodeResult
from hyperfed.hub.settings import NodeEntry
from hyperfed.hub.transport import MAX_CATALOGUE_BYTES, NodeUnreachable, Transport

__all__ = ["MAX_RESPONSE_BYTES", "NodeClient", "floored"]

MAX_RESPONSE_BYTES = 4_000_000

_NO_NUMBERS: dict[str, object] = {
    "count": None,
    "countAdjustedTo": [],
    "countPrecision": None,
    "strata": None,
}


def _failed(node: NodeEntry, status: NodeStatus, error: str, elapsed: float) -> NodeResult:
    return NodeResult(
        node=node.id,
        title=node.title,
        status=status,
        error=error,
        elapsed_ms=round(elapsed * 1000, 2),
    )


def as_protected(r: NodeCount) -> Protected | None:
    """The released number of an ok/suppressed answer; None for every other status."""
    if r.status not in ("ok", "suppressed") or r.countPrecision is None:
        return None
    return Protected(
        count=r.count,
        status="ok" if r.status == "ok" else "suppressed",
        countAdjustedTo=r.countAdjustedTo,
        countPrecision=r.countPrecision,
    )


def floored(result: NodeCount, floor: Policy) -> NodeCount:
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
    released = as_protected(result)
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


class NodeClient:
    def __init__(
        self,
        transport: Transport,
        floor: Policy,
        deadline: float,
        on_impostor: Callable[[str, str], None] | None = None,
    ) -> None:
        """`on_impostor(node, claimed)`: an answer from `node` said it came from another
        node (refused; the hub audits it)."""
        self.transport = transport
        self.floor = floor
        self.deadline = deadline
        self.on_impostor = on_impostor

    def deadline_of(self, node: NodeEntry) -> float:
        return node.deadline or self.deadline

    async def capabilities(self, node: NodeEntry, timeout: float) -> Capabilities:
        """The node's live capabilities; raises (TimeoutError, NodeUnreachable,
        ValidationError, ValueError) when it cannot say."""
        async with asyncio.timeout(timeout):
            reply = await self.transport.call(node, "capabilities", None)
        if reply.status != 200:
            raise ValueError(f"HTTP {reply.status}")
        return Capabilities.model_validate_json(reply.content)

    async def catalogue(self, node: NodeEntry, timeout: float) -> bytes:
        """The node's catalogue publication (JSON, validated by the catalogue's refresher);
        raises (TimeoutError, NodeUnreachable, ValueError) when the node cannot give it."""
        async with asyncio.timeout(timeout):
            reply = await self.transport.call(node, "catalogue", None)
        if len(reply.content) > MAX_CATALOGUE_BYTES:
            raise ValueError("the node sent an oversized catalogue")
        if reply.status != 200:
            raise ValueError(f"the node answered HTTP {reply.status}")
        return reply.content

    async def count(self, node: NodeEntry, body: bytes) -> NodeResult:
        deadline = self.deadline_of(node)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(deadline):
                reply = await self.transport.call(node, "count", body)
        except TimeoutError:
            return _failed(
                node, "timeout", f"no answer within {deadline} s", time.perf_counter() - started
            )
        except NodeUnreachable as exc:
            return _failed(
                node, "error", f"node unreachable ({exc})", time.perf_counter() - started
            )
        elapsed = time.perf_counter() - started
        if len(reply.content) > MAX_RESPONSE_BYTES:
            return _failed(node, "error", "node sent an oversized response", elapsed)
        if reply.status != 200:
            return _failed(node, "error", f"node answered HTTP {reply.status}", elapsed)
        try:
            result = NodeCount.model_validate_json(reply.content)
        except ValidationError:
            return _failed(node, "error", "node sent an invalid response", elapsed)
        if result.node != node.id:
            if self.on_impostor is not None:
                self.on_impostor(node.id, result.node[:64])
            return _failed(node, "error", f"node identified itself as {result.node!r}", elapsed)
        result = floored(result, self.floor)
        return NodeResult(
            **result.model_dump(), title=node.title, elapsed_ms=round(elapsed * 1000, 2)
        )

    def body(self, prepared: Prepared, node: NodeEntry) -> bytes:
        request = CountRequest(
            query=prepared.query,
            bindings=prepared.bindings.get(node.model, {}),
            deadline_ms=int(self.deadline_of(node) * 1000),
        )
        return request.model_dump_json(by_alias=True, exclude_none=True).encode()

    async def fan_out(self, nodes: Sequence[NodeEntry], prepared: Prepared) -> list[NodeResult]:
        """Every node at once; one answer per node, whatever happened to the others."""
        answers = await asyncio.gather(
            *[self.count(n, self.body(prepared, n)) for n in nodes], return_exceptions=True
        )
        return [
            a
            if isinstance(a, NodeResult)
            else _failed(n, "error", f"the hub could not read the answer ({type(a).__name__})", 0)
            for n, a in zip(nodes, answers, strict=True)
        ]
