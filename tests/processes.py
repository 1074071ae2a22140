"""`hyperfed` services as real processes in tests: start one (stderr to a log file), wait
until it answers /health, stop it with SIGTERM and time that, kill what is left."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

__all__ = ["kill", "start", "stop_time", "wait_healthy"]


def start(log: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`python -m hyperfed.hub.cli ARGS...` (wide rich output, for messages on one line)."""
    with log.open("wb") as out:  # the child keeps its own handle
        return subprocess.Popen(
            [sys.executable, "-m", "hyperfed.hub.cli", *args],
            stdout=subprocess.DEVNULL,
            stderr=out,
            env={**os.environ, "COLUMNS": "300", **(env or {})},
        )


def wait_healthy(proc: subprocess.Popen[bytes], url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{url} exited with status {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{url} did not start")


def stop_time(proc: subprocess.Popen[bytes]) -> float:
    """Seconds from SIGTERM to the process's end (30: it had to be killed)."""
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return 30.0
    return time.monotonic() - started


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
