"""An ASGI wrapper that makes a node app take work only from its hub:

    app = require_hub_signature(create_node_app(service), TaskVerifier(hub_key, node_id))

`POST /count`, `GET /capabilities` and `GET /catalog` must carry a valid `Hyperfed-Task`
signature over the exact body (`TaskVerifier`); anything else gets a 401 problem+json
naming the reason, and the adapter never runs. `GET /health` stays open. The body is read
once (bounded) and handed on unchanged.
"""

from __future__ import annotations

import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hyperfed.adapters.node.trust import TASK_HEADER, TaskRefused, TaskVerifier

__all__ = ["MAX_TASK_BYTES", "require_hub_signature"]

MAX_TASK_BYTES = 16_000_000
GUARDED = {
    ("POST", "/count"): "count",
    ("GET", "/capabilities"): "capabilities",
    ("GET", "/catalog"): "catalogue",
}
log = logging.getLogger("hyperfed.node")


def _refuse(reason: str, status: int = 401) -> tuple[Message, Message]:
    body = json.dumps(
        {"type": "about:blank", "title": "Task refused", "status": status, "detail": reason}
    ).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


def require_hub_signature(app: ASGIApp, verifier: TaskVerifier) -> ASGIApp:
    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        operation = GUARDED.get((scope.get("method", ""), scope.get("path", "")))
        if scope["type"] != "http" or operation is None:
            await app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_TASK_BYTES:
                for m in _refuse("the task is too large", 413):
                    await send(m)
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        token = next(
            (
                v.decode("latin-1")
                for k, v in scope["headers"]
                if k.decode("latin-1").lower() == TASK_HEADER.lower()
            ),
            None,
        )
        try:
            verifier.verify(token, body, operation)
        except TaskRefused as exc:
            log.warning("refused a task: %s", exc)
            for m in _refuse(str(exc)):
                await send(m)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await app(scope, replay, send)

    return guarded
