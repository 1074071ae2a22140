"""How the hub reaches a node: a small transport interface, one implementation per way.

`HttpTransport` pushes requests to a node's HTTP API (one connection pool per node). A node
behind a firewall that only connects outward will be served by a second transport that
queues the same calls for the node to pull; `NodeClient` is the same for both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx

from hyperfed.hub.errors import HubError
from hyperfed.hub.settings import NodeEntry

__all__ = [
    "MAX_CATALOGUE_BYTES",
    "HttpTransport",
    "NodeUnreachable",
    "Operation",
    "Reply",
    "Sign",
    "Transport",
]

Operation = Literal["capabilities", "count", "catalogue"]

MAX_CATALOGUE_BYTES = 64_000_000
"""the largest catalogue publication a node may send (descriptions and protected facts of
all its datasets; a count answer is bounded far lower)."""


@dataclass(frozen=True)
class Reply:
    status: int
    content: bytes


class NodeUnreachable(HubError):
    """The node could not be reached (the message names the kind of failure only)."""


class Transport(Protocol):
    async def open(self, nodes: Sequence[NodeEntry]) -> None: ...

    async def call(self, node: NodeEntry, operation: Operation, body: bytes | None) -> Reply:
        """One call; the caller bounds it in time (asyncio.timeout) and cancels it."""
        ...

    async def close(self) -> None: ...


# headers for one call (node id, operation, body, seconds the task is valid): the hub's
# signature over the task (hyperfed.hub.signing.TaskSigner.headers)
Sign = Callable[[str, str, bytes | None, float | None], Mapping[str, str]]

_PATHS: dict[Operation, str] = {
    "capabilities": "/capabilities",
    "count": "/count",
    "catalogue": "/catalog",
}


class HttpTransport:
    """Push over HTTP: GET /capabilities, POST /count, GET /catalog on the node's base URL
    (the catalogue may be up to `MAX_CATALOGUE_BYTES`, other answers `max_response_bytes`)."""

    def __init__(self, max_response_bytes: int, sign: Sign | None = None) -> None:
        self.max_response_bytes = max_response_bytes
        self.sign = sign
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._stack = contextlib.AsyncExitStack()

    async def open(self, nodes: Sequence[NodeEntry]) -> None:
        for n in nodes:
            await self._client(n.id)

    async def _client(self, node_id: str) -> httpx.AsyncClient:
        """The node's pool (made on first use: nodes may join through the registry)."""
        client = self._clients.get(node_id)
        if client is None:
            # one small pool per node keeps httpx's per-request pool scan cheap
            limits = httpx.Limits(max_connections=32, max_keepalive_connections=8)
            client = self._clients[node_id] = await self._stack.enter_async_context(
                httpx.AsyncClient(limits=limits, timeout=None)
            )
        return client

    async def call(self, node: NodeEntry, operation: Operation, body: bytes | None) -> Reply:
        url = node.url.rstrip("/") + _PATHS[operation]
        client = self._clients.get(node.id) or await self._client(node.id)
        headers = dict(self.sign(node.id, operation, body, node.deadline)) if self.sign else {}
        try:
            if body is None:
                request = client.build_request("GET", url, headers=headers)
            else:
                headers["content-type"] = "application/json"
                request = client.build_request("POST", url, content=body, headers=headers)
            response = await client.send(request, stream=True)
            limit = (
                max(self.max_response_bytes, MAX_CATALOGUE_BYTES)
                if operation == "catalogue"
                else self.max_response_bytes
            )
            try:
                content = bytearray()
                async for chunk in response.aiter_bytes():
                    content += chunk
                    if len(content) > limit:
                        return Reply(response.status_code, bytes(content))  # caller refuses
                return Reply(response.status_code, bytes(content))
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            raise NodeUnreachable(type(exc).__name__) from exc

    async def close(self) -> None:
        await self._stack.aclose()
