"""The request guard: an ASGI middleware in front of the hub's and the node's apps that
bounds what a request may send before any route reads it.

- headers: each value at most `MAX_HEADER_BYTES`, all together `MAX_HEADERS_BYTES`, and
  the headers of `MAX_HEADER_CHARS` (X-Researcher ...) their own length: 431 naming the
  header;
- the body: a `Content-Length` over the route's limit is refused with 413 before a byte of
  the body is read; a body without one (chunked) is read up to the limit and refused as soon
  as it passes it. What passes is handed on to the app as it came.

Every refusal is problem+json (`hyperfed.adapters.problems`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from hyperfed.adapters import limits
from hyperfed.adapters.problems import HeaderTooLarge, ProblemError, TooLarge, problem

__all__ = ["RequestGuard"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class RequestGuard:
    """Bound headers and bodies. `max_body` applies to every route; `body_limits` gives
    some paths a limit of their own (exact paths)."""

    def __init__(
        self,
        app: ASGIApp,
        max_body: int = limits.MAX_BODY_BYTES,
        body_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.body_limits = dict(body_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._check_headers(scope)
            limit = self.body_limits.get(scope.get("path", ""), self.max_body)
            body = await self._read_body(scope, receive, limit)
        except ProblemError as exc:
            response = problem(exc.status, exc.title, exc.detail, **exc.extra)
            await response(scope, receive, send)
            return
        if body is None:
            await self.app(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    @staticmethod
    def _check_headers(scope: Scope) -> None:
        total = 0
        for raw_name, raw_value in scope.get("headers", []):
            total += len(raw_name) + len(raw_value)
            name = raw_name.decode("latin-1").lower()
            own = limits.MAX_HEADER_CHARS.get(name)
            if own is not None and len(raw_value) > own:
                raise HeaderTooLarge(
                    f"header {name} is {len(raw_value):,} characters long; at most {own:,}",
                    header=name,
                )
            if len(raw_value) > limits.MAX_HEADER_BYTES:
                raise HeaderTooLarge(
                    f"header {name} is {len(raw_value):,} bytes long; at most "
                    f"{limits.MAX_HEADER_BYTES:,}",
                    header=name,
                )
        if total > limits.MAX_HEADERS_BYTES:
            raise HeaderTooLarge(
                f"the request headers are {total:,} bytes long; at most "
                f"{limits.MAX_HEADERS_BYTES:,}",
                header="*",
            )

    @staticmethod
    async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
        """The whole body (None for methods without one), refused past `limit`."""
        if scope.get("method", "GET") not in _BODY_METHODS:
            return None
        declared = None
        for raw_name, raw_value in scope.get("headers", []):
            if raw_name.lower() == b"content-length":
                try:
                    declared = int(raw_value)
                except ValueError:
                    declared = None
        if declared is not None and declared > limit:
            raise TooLarge(f"the body is {declared:,} bytes long; at most {limit:,}", limit=limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"the body is longer than {limit:,} bytes", limit=limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
