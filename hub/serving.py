"""Serving one app (the hub or a node) in this process, so that it stops promptly.

`serve_app()` runs uvicorn with a bounded graceful shutdown: on SIGTERM or SIGINT the
server stops accepting connections, gives the requests in flight `GRACE_SECONDS` to finish,
cancels the rest, runs the app's shutdown (the hub closes its store and its node clients)
and the process ends — without waiting for worker threads still compiling or counting
(their work is abandoned: only acknowledged, committed jobs matter, and the job store marks
jobs left running as interrupted on the next start).

`run_pull_loop()` does the same for a node in pull mode, which serves nothing: it runs the
node's `PullLoop` until SIGTERM or SIGINT and ends the process within `GRACE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any, Protocol

import uvicorn

__all__ = ["GRACE_SECONDS", "KEEP_ALIVE_SECONDS", "run_pull_loop", "serve_app"]

GRACE_SECONDS = 3
"""how long requests in flight may take to finish after SIGTERM."""

KEEP_ALIVE_SECONDS = 75
"""how long an idle connection stays open: longer than clients keep idle connections
(httpx: 5 s, the hub's node client included), so that a client never reuses a connection
the server is closing at that moment (a failed request, reported as a node error)."""


def serve_app(
    app: Any,
    host: str,
    port: int,
    log_level: str = "warning",
    on_stop: Callable[[], None] | None = None,
) -> None:
    """Serve `app` until SIGTERM/SIGINT; then end the process within a few seconds.
    `on_stop()` runs when the stop is asked for, before the requests in flight are waited
    for (the hub ends its pull nodes' long polls there)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=GRACE_SECONDS,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    server = _Server(config)
    server.on_stop = on_stop
    loop = asyncio.new_event_loop()
    with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C
        loop.run_until_complete(server.serve())
    sys.stdout.flush()
    sys.stderr.flush()
    # not asyncio.run(): it would wait for the worker threads (a compile in flight)
    os._exit(0 if server.started else 1)


class _Server(uvicorn.Server):
    """uvicorn's server, without re-raising the signal that stopped it (the process ends
    with status 0 after a requested stop)."""

    on_stop: Callable[[], None] | None = None

    def handle_exit(self, sig: int, frame: Any) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: stop waiting for requests
        else:
            self.should_exit = True
            if self.on_stop is not None:
                self.on_stop()


class _Loop(Protocol):
    async def run(self, stop: asyncio.Event | None = None) -> None: ...


async def _until_signal(pull: _Loop) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = asyncio.ensure_future(pull.run(stop))
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({runner, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not runner.done():
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(runner, GRACE_SECONDS)  # cancelled when it takes longer
    error = runner.exception() if runner.done() and not runner.cancelled() else None
    if error is not None:
        raise error


def run_pull_loop(pull: _Loop) -> None:
    """Run a node's pull loop (`hyperfed.adapters.node.pull.PullLoop`) until SIGTERM/SIGINT;
    then end the process within `GRACE_SECONDS` (a count still running in a worker thread is
    abandoned: the hub discards answers that never come)."""
    loop = asyncio.new_event_loop()
    code = 0
    try:
        loop.run_until_complete(_until_signal(pull))
    except Exception:  # a bug, not a connection problem (the loop retries those itself)
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # not asyncio.run(): it would wait for the worker threads
