"""kill -9 at random moments: a child process writes registrations, jobs and audit records
in a loop and prints each acknowledged write; after SIGKILL a new store must hold every
acknowledged write, an intact audit chain, and no job left 'running'."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from hyperfed.hub.db import HubStore

ROUNDS = 4


def _run_and_kill(url: str, prefix: str, delay: float, repo: Path) -> list[str]:
    acked: list[str] = []
    errors = repo / ".hyperfed" / f"crash-writer-{prefix}.err"
    errors.parent.mkdir(exist_ok=True)
    with (
        errors.open("w") as stderr,
        subprocess.Popen(
            [sys.executable, "-m", "tests.hub.db.crash_writer", url, prefix],
            cwd=repo,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        ) as child,
    ):
        _watch(child, acked, delay, errors)
    return acked


def _watch(child: subprocess.Popen[str], acked: list[str], delay: float, errors: Path) -> None:
    ready = threading.Event()

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            if line.strip() == "ready":
                ready.set()
            else:
                acked.append(line.strip())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(60), f"the writer did not start: {errors.read_text()}"
        time.sleep(delay)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        reader.join(10)


def test_no_acknowledged_write_is_lost_after_kill_9(store_url: str, repo_root: Path) -> None:
    rng = random.Random(int.from_bytes(os.urandom(4)))
    HubStore(store_url).close()  # migrate once, so every round starts writing at once
    for r in range(ROUNDS):
        acked = _run_and_kill(store_url, f"r{r}", rng.uniform(0.05, 0.8), repo_root)
        assert acked, "the writer acknowledged nothing before it was killed"
        store = HubStore(store_url)
        try:
            report = store.verify()
            assert report.ok, report
            for line in acked:
                what, name = line.split()
                if what == "node":
                    assert store.nodes.get(name) is not None, line
                elif what == "start":
                    job = store.get(name)
                    assert job is not None and job["status"] in ("done", "interrupted"), line
                elif what == "done":
                    job = store.get(name)
                    assert job is not None and job["status"] == "done", line
                    assert any(a["job_id"] == name for a in store.audit_log(1000)), line
                else:
                    assert report.head_seq >= int(name), line
                    assert store.records(1, before=int(name) + 1)[0]["seq"] == int(name)
        finally:
            store.close()
