"""Real HTTP servers for tests: uvicorn on 127.0.0.1, a free port, in a thread; each
stops when its context exits (and at the latest when the test process ends: daemon
threads)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

__all__ = ["free_port", "serve"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.contextmanager
def serve(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (on `port`, or on one the system picks while binding, so no
    other process can take it in between); yields its base URL."""
    server = _Server(
        uvicorn.Config(app, host="127.0.0.1", port=port or 0, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"server on port {port} failed to start")
        if time.monotonic() > deadline:
            raise TimeoutError(f"server on port {port} did not start")
        time.sleep(0.01)
    bound = int(server.servers[0].sockets[0].getsockname()[1])
    try:
        yield f"http://127.0.0.1:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def omop_node_app(
    duckdb_file: Any, base_dir: Any, node_id: str = "eunomia", policy: Any = None
) -> Any:
    """A real node service (FastAPI app) over an OMOP DuckDB file."""
    from hyperfed.adapters.disclosure import Policy
    from hyperfed.adapters.node import create_node_app, open_node
    from hyperfed.adapters.node.config import NodeConfig, NodeSettings

    config = NodeConfig(
        node=NodeSettings(id=node_id, source=f"duckdb://{duckdb_file}"),
        policy=policy or Policy(),
        base_dir=base_dir,
    )
    return create_node_app(open_node(config))


@contextlib.contextmanager
def pulling(loops: Any) -> Iterator[None]:
    """Run pull nodes' loops (`PullLoop.run`) in a thread with an event loop of its own
    until the block ends."""
    import asyncio

    ready = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        stop = asyncio.Event()
        state["stop"], state["loop"] = stop, asyncio.get_running_loop()
        ready.set()
        await asyncio.gather(*(pull.run(stop) for pull in loops))

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    if not ready.wait(20):
        raise TimeoutError("the pull loops did not start")
    try:
        yield
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(timeout=10)


class CountCalls:
    """An ASGI wrapper that counts the HTTP requests reaching the node, by path."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)

    def count(self, path: str = "/count") -> int:
        return self.paths.count(path)
