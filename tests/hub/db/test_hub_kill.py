"""The real hub process killed with SIGKILL under load, on SQLite and on PostgreSQL.

`python -m hyperfed.hub.cli hub serve --config hub.toml` runs with sign-in on and one
config-file push node (a real OMOP node in this process that checks the hub's task
signatures). Threads send registrations (fresh ids and keys), synchronous queries and
asynchronous ones (`Prefer: respond-async`) and remember every acknowledged one (2xx with
its id); the hub is killed at a random moment (3 rounds, each at most 5 s of load), then
started again on the same database. After every restart: each acknowledged registration
is in the registry (admin), each acknowledged synchronous job is done and readable by its
researcher, each acknowledged asynchronous job is done or `interrupted` with the
documented error (never `running`), every done job has its `query` audit record (an
interrupted one its `query.interrupted`), and at the end `hyperfed audit verify` (a
process) exits 0."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from joserfc.jwk import OKPKey

from hyperfed.adapters.node.guard import require_hub_signature
from hyperfed.adapters.node.trust import TaskVerifier, load_or_create_key, public_jwk
from tests.identity import hub_bearer
from tests.servers import free_port, omop_node_app, serve

ROUNDS = 3
MAX_LOAD_S = 5.0
INTERRUPTED = "the hub stopped while this query ran; no result was kept: ask again"  # docs
GI = {"code": {"system": "http://snomed.info/sct", "code": "74474003"}}
QUERY = {"hql": "1", "as_of": "2020-01-01", "criteria": GI}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    pg_database: Callable[[str], str] = request.getfixturevalue("pg_database")
    return pg_database("hubkill")


@dataclass
class Acked:
    """What the hub acknowledged (a 2xx with the id), across every round."""

    nodes: list[str] = field(default_factory=list)
    sync_jobs: list[str] = field(default_factory=list)
    async_jobs: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, where: list[str], value: str) -> None:
        with self.lock:
            where.append(value)


class HubProcess:
    """`hyperfed hub serve` as a child process on a fixed port (the issuer's URL)."""

    def __init__(self, config: Path, port: int, log: Path) -> None:
        self.config, self.port, self.log = config, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hyperfed.hub.cli", "hub", "serve",
                 "--config", str(self.config), "--port", str(self.port)],
                stdout=subprocess.DEVNULL,
                stderr=err,
            )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the hub exited ({self.proc.returncode}): {self._log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the hub did not start: {self._log()}")

    def kill(self) -> None:
        """SIGKILL, to this one process (by its pid)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def _log(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@dataclass
class Setup:
    hub: HubProcess
    config: Path
    researcher: dict[str, str]
    operator: dict[str, str]
    admin: dict[str, str]


@pytest.fixture
def setup(database: str, tmp_path: Path, eunomia_path: Path) -> Iterator[Setup]:
    hub_key = load_or_create_key(tmp_path / "hub.key")
    node = require_hub_signature(
        omop_node_app(eunomia_path, tmp_path, "eunomia"),
        TaskVerifier(public_jwk(hub_key), "eunomia"),
    )
    port = free_port()
    with serve(node) as node_url:
        config = tmp_path / "hub.toml"
        config.write_text(
            f'[hub]\ndatabase = "{database}"\ndeadline = 20\n\n'
            f'[identity]\nissuer = "http://127.0.0.1:{port}"\n\n'
            '[signing]\nkey_file = "hub.key"\n\n'
            f'[[nodes]]\nid = "eunomia"\nurl = "{node_url}"\nmodel = "omop"\n'
        )
        hub = HubProcess(config, port, tmp_path / "hub.log")
        hub.start()
        try:
            yield Setup(
                hub,
                config,
                hub_bearer(hub.url, database, "kill-researcher", ["researcher"]),
                hub_bearer(hub.url, database, "kill-operator", ["operator"]),
                hub_bearer(hub.url, database, "kill-admin", ["admin"]),
            )
        finally:
            hub.kill()


def _load(s: Setup, acked: Acked, stop: threading.Event, prefix: str) -> list[threading.Thread]:
    """Threads that keep the hub busy until `stop`, each recording what was acknowledged."""

    def registrations() -> None:
        with httpx.Client(base_url=s.hub.url, timeout=30) as c:
            n = 0
            while not stop.is_set():
                n += 1
                node_id = f"{prefix}-n{n}"
                key = public_jwk(OKPKey.generate_key("Ed25519"))
                doc = {"id": node_id, "model": "omop", "mode": "pull", "public_key": key}
                try:
                    r = c.post("/registry/nodes", json=doc, headers=s.operator)
                except httpx.HTTPError:
                    continue
                if r.status_code == 201 and r.json()["id"] == node_id:
                    acked.add(acked.nodes, node_id)

    def queries(asynchronous: bool) -> None:
        headers = {**s.researcher, "Prefer": "respond-async"} if asynchronous else s.researcher
        expected, into = (202, acked.async_jobs) if asynchronous else (200, acked.sync_jobs)
        with httpx.Client(base_url=s.hub.url, timeout=30) as c:
            while not stop.is_set():
                try:
                    r = c.post("/queries", json=QUERY, headers=headers)
                except httpx.HTTPError:
                    continue
                if r.status_code == expected:
                    acked.add(into, r.json()["id"])

    threads = [
        threading.Thread(target=registrations, daemon=True),
        threading.Thread(target=queries, args=(False,), daemon=True),
        threading.Thread(target=queries, args=(True,), daemon=True),
        threading.Thread(target=queries, args=(False,), daemon=True),
    ]
    for t in threads:
        t.start()
    return threads


def _check(s: Setup, acked: Acked) -> None:
    """Everything acknowledged so far is there after a restart, and nothing is corrupt."""
    with httpx.Client(base_url=s.hub.url, timeout=60) as c:
        r = c.get("/registry/nodes", headers=s.admin)
        assert r.status_code == 200, r.text
        registered = {n["id"] for n in r.json()}
        lost = [n for n in acked.nodes if n not in registered]
        assert lost == [], f"acknowledged registrations lost: {lost}"

        done: list[str] = []
        interrupted: list[str] = []
        for job_id in acked.sync_jobs:
            r = c.get(f"/queries/{job_id}", headers=s.researcher)
            assert r.status_code == 200, (job_id, r.text)
            job = r.json()
            assert job["status"] == "done", job
            assert job["nodes"][0]["node"] == "eunomia" and job["nodes"][0]["status"] == "ok"
            done.append(job_id)
        for job_id in acked.async_jobs:
            r = c.get(f"/queries/{job_id}", headers=s.researcher)
            assert r.status_code == 200, (job_id, r.text)
            job = r.json()
            assert job["status"] in ("done", "interrupted"), job
            if job["status"] == "interrupted":
                assert job["error"] == INTERRUPTED, job
                interrupted.append(job_id)
            else:
                done.append(job_id)

        mine = c.get("/me/queries", params={"limit": 1000}, headers=s.researcher).json()
        assert [j["id"] for j in mine if j["status"] == "running"] == []

        r = c.get("/audit/export", headers=s.admin)
        assert r.status_code == 200, r.text
        bodies = [json.loads(json.loads(line)["body"]) for line in r.text.splitlines() if line]
        queried = {b["job_id"] for b in bodies if b["kind"] == "query"}
        assert [j for j in done if j not in queried] == [], "done jobs without a query record"
        marked = {b["job_id"] for b in bodies if b["kind"] == "query.interrupted"}
        assert [j for j in interrupted if j not in marked] == []
        registrations = {b["data"]["node"] for b in bodies if b["kind"] == "registration"}
        assert [n for n in acked.nodes if n not in registrations] == []
        r = c.get("/audit/verify", headers=s.admin)
        assert r.status_code == 200 and r.json()["ok"] is True, r.text


def test_a_hub_killed_at_any_moment_loses_nothing_acknowledged(setup: Setup) -> None:
    rng = random.Random(int.from_bytes(os.urandom(4)))
    acked = Acked()
    for round_no in range(ROUNDS):
        if round_no > 0:
            setup.hub.start()  # on the same database, after the kill
            _check(setup, acked)
        stop = threading.Event()
        threads = _load(setup, acked, stop, f"r{round_no}")
        time.sleep(rng.uniform(0.5, MAX_LOAD_S))
        setup.hub.kill()
        stop.set()
        for t in threads:
            t.join(60)
            assert not t.is_alive()
    setup.hub.start()
    _check(setup, acked)
    assert acked.nodes and acked.sync_jobs and acked.async_jobs, (
        "the load acknowledged too little to test anything",
        len(acked.nodes),
        len(acked.sync_jobs),
        len(acked.async_jobs),
    )
    setup.hub.stop()
    verify = subprocess.run(
        [
            sys.executable,
            "-m",
            "hyperfed.hub.cli",
            "audit",
            "verify",
            "--config",
            str(setup.config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "intact" in verify.stdout, verify.stdout
