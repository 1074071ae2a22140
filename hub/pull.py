"""Pull mode: nodes that only connect outward fetch their tasks from the hub.

`PullTransport` is a `Transport` (the node client is the same for push and pull): a call
becomes a task in the node's queue, signed by the hub (`TaskSigner`), valid for the node's
deadline; the node long-polls `GET /pull/{node}/tasks`, runs the task and posts the answer
to `POST /pull/{node}/results/{task}` with its signature. An answer after the task's TTL
is discarded, answered `410 Gone` and reported (`on_late`). `ModeTransport` sends each
node's calls by its `mode` (push: HTTP to its URL; pull: the queue). `pull_router(...)`
is the hub side's APIRouter.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from hyperfed.adapters.node.trust import TaskRefused, verify_result
from hyperfed.adapters.problems import NotFound, problem
from hyperfed.hub.auth.deps import Auth, Forbidden, Unauthorized
from hyperfed.hub.auth.principal import Principal
from hyperfed.hub.settings import NodeEntry
from hyperfed.hub.signing import TaskSigner
from hyperfed.hub.transport import NodeUnreachable, Operation, Reply, Transport

__all__ = [
    "RESULT_SIGNATURE",
    "ModeTransport",
    "PullTask",
    "PullTransport",
    "pull_router",
]

RESULT_SIGNATURE = "Hyperfed-Signature"
MAX_WAIT = 30.0
MAX_RESULT_BYTES = 4_000_000
Delivery = Literal["accepted", "late", "unknown"]


@dataclass
class PullTask:
    id: str
    node: str
    operation: Operation
    body: bytes
    token: str | None
    expires: float  # time.time()
    future: asyncio.Future[Reply] = field(repr=False)

    def message(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "operation": self.operation,
            "body": self.body.decode(),
            "token": self.token,
            "expires_in": round(max(0.0, self.expires - now), 3),
        }


class PullTransport:
    def __init__(
        self,
        signer: TaskSigner | None,
        default_ttl: float,
        on_late: Callable[[str, str, float], None] | None = None,
        max_queue: int = 1000,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.signer = signer
        self.default_ttl = default_ttl
        self.on_late = on_late
        self.max_queue = max_queue
        self.now = now
        self._queues: dict[str, asyncio.Queue[PullTask]] = {}
        self._pending: dict[str, PullTask] = {}
        self._expired: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self.late = 0
        self.last_poll: dict[str, float] = {}
        self._ids = itertools.count()
        self._released: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def release(self) -> None:
        """End every long poll now (answered 204) and every later one at once: the hub is
        stopping, and a server waits for requests in flight. Safe from a signal handler."""
        if self._loop is not None and self._released is not None:
            self._loop.call_soon_threadsafe(self._released.set)

    def _release_event(self) -> asyncio.Event:
        if self._released is None:
            self._released = asyncio.Event()
            self._loop = asyncio.get_running_loop()
        return self._released

    def _queue(self, node_id: str) -> asyncio.Queue[PullTask]:
        q = self._queues.get(node_id)
        if q is None:
            q = self._queues[node_id] = asyncio.Queue(self.max_queue)
        return q

    async def open(self, nodes: Sequence[NodeEntry]) -> None:
        for n in nodes:
            if n.mode == "pull":
                self._queue(n.id)

    async def call(self, node: NodeEntry, operation: Operation, body: bytes | None) -> Reply:
        ttl = node.deadline or self.default_ttl
        content = body or b""
        token = self.signer.sign(node.id, operation, content, ttl) if self.signer else None
        loop = asyncio.get_running_loop()
        task = PullTask(
            id=f"{uuid.uuid4().hex[:16]}{next(self._ids):x}",
            node=node.id,
            operation=operation,
            body=content,
            token=token,
            expires=self.now() + ttl,
            future=loop.create_future(),
        )
        self._pending[task.id] = task
        try:
            self._queue(node.id).put_nowait(task)
        except asyncio.QueueFull as exc:
            del self._pending[task.id]
            raise NodeUnreachable("pull queue full: the node is not fetching its tasks") from exc
        try:
            return await task.future
        finally:
            if self._pending.pop(task.id, None) is not None and not task.future.done():
                task.future.cancel()
            self._expired[task.id] = (node.id, task.expires)
            while len(self._expired) > 10_000:
                self._expired.popitem(last=False)

    async def next_tasks(self, node_id: str, wait: float, limit: int = 8) -> list[PullTask]:
        """Up to `limit` live tasks for the node, waiting up to `wait` s for the first."""
        self.last_poll[node_id] = self.now()
        q = self._queue(node_id)
        out: list[PullTask] = []
        deadline = time.monotonic() + wait
        released = self._release_event()
        while not out and not released.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            get = asyncio.ensure_future(q.get())
            stop = asyncio.ensure_future(released.wait())
            done, _ = await asyncio.wait(
                {get, stop}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            stop.cancel()
            if get not in done:
                get.cancel()
                break
            task = get.result()
            if self._live(task):
                out.append(task)
        while len(out) < limit and not q.empty():
            task = q.get_nowait()
            if self._live(task):
                out.append(task)
        return out

    def _live(self, task: PullTask) -> bool:
        return not task.future.done() and task.expires > self.now()

    def deliver(self, node_id: str, task_id: str, reply: Reply) -> tuple[Delivery, float]:
        """Hand a node's answer to the waiting call: accepted, late (after its TTL: thrown
        away, counted and reported) or unknown; with how late it was (seconds)."""
        task = self._pending.get(task_id)
        if task is not None and task.node == node_id and not task.future.done():
            late = self.now() - task.expires
            if late <= 0:
                task.future.set_result(reply)
                return "accepted", 0.0
        expired = self._expired.get(task_id)
        if task is not None or (expired is not None and expired[0] == node_id):
            expires = task.expires if task is not None else expired[1]  # type: ignore[index]
            late = max(0.0, self.now() - expires)
            self.late += 1
            if self.on_late is not None:
                self.on_late(node_id, task_id, late)
            return "late", late
        return "unknown", 0.0

    def connected(self, node_id: str, within: float = MAX_WAIT * 2) -> bool:
        seen = self.last_poll.get(node_id)
        return seen is not None and self.now() - seen < within

    async def close(self) -> None:
        for task in list(self._pending.values()):
            if not task.future.done():
                task.future.cancel()


class ModeTransport:
    """Push nodes through one transport, pull nodes through the other."""

    def __init__(self, push: Transport, pull: PullTransport) -> None:
        self.push = push
        self.pull = pull

    async def open(self, nodes: Sequence[NodeEntry]) -> None:
        await self.push.open([n for n in nodes if n.mode == "push"])
        await self.pull.open([n for n in nodes if n.mode == "pull"])

    async def call(self, node: NodeEntry, operation: Operation, body: bytes | None) -> Reply:
        if node.mode == "pull":
            return await self.pull.call(node, operation, body)
        return await self.push.call(node, operation, body)

    async def close(self) -> None:
        await self.push.close()
        await self.pull.close()


def pull_router(
    transport: PullTransport,
    auth: Auth,
    node_key: Callable[[str], Any] | None,
    audit: Callable[[str, str | None, dict[str, Any]], Any] | None = None,
) -> APIRouter:
    """`node_key(node_id)`: the node's registered public key (None: unknown or suspended);
    None switches result signatures off (with authentication off, for benchmarks)."""
    router = APIRouter(tags=["pull"])
    node_principal = auth.require("node") if auth.verify is not None else auth.current_principal

    async def refused(principal: Principal, node_id: str, reason: str) -> None:
        if audit is not None:  # a database write: off the event loop
            data = {"node": node_id, "reason": reason}
            await asyncio.to_thread(audit, "node.refused", principal.id, data)

    async def same_node(principal: Principal, node_id: str) -> None:
        if auth.verify is not None and principal.id != f"node:{node_id}":
            await refused(principal, node_id, "acted for another node")
            raise Forbidden(f"{principal.id} may not act for node {node_id!r}")

    @router.get("/pull/{node_id}/tasks")
    async def tasks(
        node_id: str,
        wait: Annotated[float, Query(ge=0, le=MAX_WAIT)] = 25.0,
        principal: Principal = Depends(node_principal),
    ) -> Response:
        await same_node(principal, node_id)
        found = await transport.next_tasks(node_id, wait)
        if not found:
            return Response(status_code=204)
        now = transport.now()
        return JSONResponse({"tasks": [t.message(now) for t in found]})

    @router.post("/pull/{node_id}/results/{task_id}")
    async def result(
        node_id: str,
        task_id: str,
        request: Request,
        principal: Principal = Depends(node_principal),
    ) -> Response:
        await same_node(principal, node_id)
        content = await request.body()
        if len(content) > MAX_RESULT_BYTES:
            return problem(413, "Result too large", f"at most {MAX_RESULT_BYTES} bytes")
        status = 200
        if node_key is not None:
            key = node_key(node_id)
            signature = request.headers.get(RESULT_SIGNATURE, "")
            try:
                if key is None:
                    raise TaskRefused(f"node {node_id!r} is not registered or is suspended")
                status = verify_result(signature, key, node_id, task_id, content)
            except TaskRefused as exc:
                await refused(principal, node_id, str(exc))
                raise Unauthorized(str(exc)) from exc
        else:
            with contextlib.suppress(ValueError):
                status = int(request.headers.get("Hyperfed-Status", "200"))
        outcome, late = transport.deliver(node_id, task_id, Reply(status, content))
        if outcome == "accepted":
            return Response(status_code=204)
        if outcome == "late":
            return problem(
                410,
                "Result too late",
                f"task {task_id} expired {late * 1000:.0f} ms before this result "
                "arrived: it was discarded",
                late_ms=round(late * 1000, 1),
            )
        raise NotFound(f"no task {task_id!r} for node {node_id!r}")

    return router
