"""`hyperfed node serve` with a `[hub]` section, as real processes on the real Eunomia CDM:
in push mode with the hub's public key the node takes only tasks the hub signed for it (and
answers them exactly as the same node without `[hub]`); in pull mode it opens no port,
fetches its tasks from a hub on loopback, answers them as push would, and stops promptly
on SIGTERM."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from joserfc.jwt import JWTClaimsRegistry

from hyperfed.adapters.node.trust import TASK_HEADER, public_jwk, read_public_key
from hyperfed.adapters.problems import install_problem_handlers
from hyperfed.hub.auth import Principal
from hyperfed.hub.auth.deps import Auth, install_auth_problems
from hyperfed.hub.auth.verify import TokenRejected
from hyperfed.hub.pull import PullTransport, pull_router
from hyperfed.hub.settings import NodeEntry
from hyperfed.hub.signing import TaskSigner
from tests.processes import kill, start, stop_time, wait_healthy
from tests.servers import free_port, serve

NODE = "eunomia"
AUD = "hyperfed-hub"
STOP_WITHIN = 3.0
JSON = {"content-type": "application/json"}
SNOMED = "http://snomed.info/sct"
BODIES = [
    json.dumps(b).encode()
    for b in (
        {"query": {"hql": "1", "as_of": "2020-01-01",
                   "criteria": {"code": {"system": SNOMED, "code": "74474003"}}}},
        {"query": {"hql": "1", "as_of": "2020-01-01", "criteria": {"age": {"min": 40}},
                   "stratify": {"by": ["sex", "age"], "age_bands": [0, 40, 60]}}},
    )
]  # fmt: skip


def _write_config(base: Path, name: str, eunomia: Path, hub: str = "") -> Path:
    """A node config; every config of a test shares the node id and the noise secret, so
    the same question gets the same released answer from each."""
    path = base / name
    path.write_text(
        f'[node]\nid = "{NODE}"\nmodel = "omop"\nsource = "duckdb://{eunomia}"\n'
        f'secret_file = "node.secret"\n\n{hub}'
    )
    return path


@dataclass
class Nodes:
    base: Path
    hub_key: OKPKey
    signer: TaskSigner
    signed: str  # push, [hub] public_key_file
    plain: str  # push, no [hub]
    signed_log: Path


@pytest.fixture(scope="module")
def nodes(eunomia_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    base = tmp_path_factory.mktemp("node-trust")
    (base / "node.secret").write_text("5e" * 32)
    hub_key = OKPKey.generate_key("Ed25519")
    (base / "hub.pub.jwk").write_text(json.dumps(public_jwk(hub_key)))
    signed_cfg = _write_config(
        base, "signed.toml", eunomia_path, '[hub]\npublic_key_file = "hub.pub.jwk"\n'
    )
    plain_cfg = _write_config(base, "plain.toml", eunomia_path)
    ports = free_port(), free_port()
    log = base / "signed.log"
    procs = [
        start(log, "node", "serve", "--config", str(signed_cfg), "--port", str(ports[0])),
        start(
            base / "plain.log", "node", "serve", "--config", str(plain_cfg), "--port", str(ports[1])
        ),
    ]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        for proc, url in zip(procs, urls, strict=True):
            wait_healthy(proc, url)
        yield Nodes(base, hub_key, TaskSigner(hub_key, "http://hub"), urls[0], urls[1], log)
    finally:
        for proc in procs:
            kill(proc)


def _signed(signer: TaskSigner, body: bytes, node: str = NODE, op: str = "count") -> dict[str, str]:
    return {TASK_HEADER: signer.sign(node, op, body, ttl=30), **JSON}


def test_the_node_says_it_takes_only_signed_tasks(nodes: Nodes) -> None:
    line = nodes.signed_log.read_text()
    assert "push mode" in line and "signed by the hub key in hub.pub.jwk" in line, line


def test_an_unsigned_count_is_refused_with_the_reason(nodes: Nodes) -> None:
    r = httpx.post(f"{nodes.signed}/count", content=BODIES[0], headers=JSON, timeout=30)
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "unsigned task" in r.json()["detail"] and r.json()["status"] == 401
    # the same request to the node without [hub] is counted
    assert (
        httpx.post(f"{nodes.plain}/count", content=BODIES[0], headers=JSON, timeout=30).status_code
        == 200
    )


@pytest.mark.parametrize("body", BODIES, ids=["gi-bleed", "stratified"])
def test_a_signed_count_is_answered_as_the_same_node_without_hub(nodes: Nodes, body: bytes) -> None:
    signed = httpx.post(
        f"{nodes.signed}/count", content=body, headers=_signed(nodes.signer, body), timeout=30
    )
    plain = httpx.post(f"{nodes.plain}/count", content=body, headers=JSON, timeout=30)
    assert signed.status_code == 200 == plain.status_code, signed.text
    assert signed.json() == plain.json()
    assert signed.json()["node"] == NODE and signed.json()["status"] in ("ok", "suppressed")


def test_a_replayed_task_is_refused(nodes: Nodes) -> None:
    headers = _signed(nodes.signer, BODIES[0])
    first = httpx.post(f"{nodes.signed}/count", content=BODIES[0], headers=headers, timeout=30)
    again = httpx.post(f"{nodes.signed}/count", content=BODIES[0], headers=headers, timeout=30)
    assert first.status_code == 200, first.text
    assert again.status_code == 401 and "replay" in again.json()["detail"], again.text


def test_a_task_for_another_node_or_by_another_key_is_refused(nodes: Nodes) -> None:
    body = BODIES[0]
    other = httpx.post(
        f"{nodes.signed}/count",
        content=body,
        headers=_signed(nodes.signer, body, node="site-b"),
        timeout=30,
    )
    assert other.status_code == 401
    assert "the task is for node 'site-b'" in other.json()["detail"], other.text
    stranger = TaskSigner(OKPKey.generate_key("Ed25519"), "http://hub")
    forged = httpx.post(
        f"{nodes.signed}/count", content=body, headers=_signed(stranger, body), timeout=30
    )
    assert forged.status_code == 401 and "does not verify" in forged.json()["detail"]
    altered = httpx.post(
        f"{nodes.signed}/count", content=BODIES[1], headers=_signed(nodes.signer, body), timeout=30
    )
    assert altered.status_code == 401 and "not the one the hub signed" in altered.json()["detail"]


def test_health_stays_open_and_capabilities_need_a_signature(nodes: Nodes) -> None:
    assert httpx.get(f"{nodes.signed}/health", timeout=10).status_code == 200
    assert httpx.get(f"{nodes.signed}/capabilities", timeout=10).status_code == 401
    assert httpx.get(f"{nodes.signed}/catalog", timeout=10).status_code == 401
    caps = httpx.get(
        f"{nodes.signed}/capabilities",
        headers=_signed(nodes.signer, b"", op="capabilities"),
        timeout=30,
    )
    assert caps.status_code == 200 and caps.json()["node"] == NODE, caps.text


# -- pull mode ---------------------------------------------------------------------------


def _assertion_verifier(node_key: OKPKey) -> Any:
    """Node assertions checked the way the hub's registry checks them: signed by the node's
    registered key, issuer and subject `node:<id>`, the hub's audience, at most 120 s (a
    node reuses its assertion while it is valid)."""

    async def verify(token: str) -> Principal:
        try:
            claims = jwt.decode(token, node_key, algorithms=["Ed25519"]).claims
            JWTClaimsRegistry(
                iss={"essential": True, "value": f"node:{NODE}"},
                sub={"essential": True, "value": f"node:{NODE}"},
                aud={"essential": True, "value": AUD},
                exp={"essential": True},
                jti={"essential": True},
            ).validate(claims)
        except (JoseError, ValueError) as exc:
            raise TokenRejected(f"not node {NODE}'s assertion ({type(exc).__name__})") from exc
        if claims["exp"] - claims["iat"] > 120:
            raise TokenRejected("an assertion valid for too long")
        return Principal(id=f"node:{NODE}", roles=frozenset({"node"}), name=NODE)

    return verify


@dataclass
class Hub:
    url: str
    transport: PullTransport
    refused: list[str]


@contextlib.contextmanager
def _hub(hub_key: OKPKey, node_key: OKPKey) -> Iterator[Hub]:
    """A hub with the real pull endpoints; `POST /ask` sends its body to the node as a count
    task (`?forge=1`: signed by a stranger's key) and answers with the node's reply."""
    signer = TaskSigner(hub_key, "http://hub", default_ttl=20)
    transport = PullTransport(signer, 20.0)
    refused: list[str] = []
    app = FastAPI()
    install_problem_handlers(app)
    install_auth_problems(app)
    app.include_router(
        pull_router(
            transport,
            Auth(_assertion_verifier(node_key)),
            lambda n: node_key if n == NODE else None,
            audit=lambda kind, who, data: refused.append(str(data)),
        )
    )

    @app.post("/ask")
    async def ask(request: Request, forge: bool = False) -> Response:
        body = await request.body()
        transport.signer = TaskSigner(OKPKey.generate_key("Ed25519"), "x") if forge else signer
        reply = await transport.call(NodeEntry(id=NODE, mode="pull", deadline=20), "count", body)
        return Response(reply.content, status_code=reply.status, media_type="application/json")

    with serve(app) as url:
        yield Hub(url, transport, refused)


def _node_public_key(config: Path) -> OKPKey:
    r = subprocess.run(
        [sys.executable, "-m", "hyperfed.hub.cli", "node", "key", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    return read_public_key(r.stdout)


def _wait_polling(proc: subprocess.Popen[bytes], hub: Hub, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while NODE not in hub.transport.last_poll:
        if proc.poll() is not None:
            raise AssertionError(f"the pull node exited with status {proc.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError("the pull node never polled")
        time.sleep(0.1)


def test_a_pull_node_answers_as_push_and_stops_on_sigterm(nodes: Nodes, eunomia_path: Path) -> None:
    base = nodes.base
    pull_port = free_port()  # only to show the pull node opens none
    with contextlib.ExitStack() as stack:
        placeholder = _write_config(
            base, "pull-key.toml", eunomia_path, '[hub]\nkey_file = "p.key"\n'
        )
        node_key = _node_public_key(placeholder)
        hub = stack.enter_context(_hub(nodes.hub_key, node_key))
        config = _write_config(
            base,
            "pull.toml",
            eunomia_path,
            f'[hub]\nmode = "pull"\nurl = "{hub.url}"\npublic_key_file = "hub.pub.jwk"\n'
            'key_file = "p.key"\n',
        )
        log = base / "pull.log"
        proc = start(log, "node", "serve", "--config", str(config), "--port", str(pull_port))
        stack.callback(kill, proc)
        _wait_polling(proc, hub)
        line = log.read_text()
        assert f"pull mode, fetching tasks from {hub.url}" in line, line
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{pull_port}/health", timeout=2)

        for body in BODIES:
            pulled = httpx.post(f"{hub.url}/ask", content=body, timeout=30)
            pushed = httpx.post(
                f"{nodes.signed}/count",
                content=body,
                headers=_signed(nodes.signer, body),
                timeout=30,
            )
            assert pulled.status_code == 200 == pushed.status_code, pulled.text
            assert pulled.json() == pushed.json()

        forged = httpx.post(f"{hub.url}/ask", params={"forge": 1}, content=BODIES[0], timeout=30)
        assert forged.status_code == 401 and "does not verify" in forged.json()["detail"]
        assert hub.refused == []  # the node's own assertions and answer signatures verified

        took = stop_time(proc)
        assert took < STOP_WITHIN, took
        assert proc.returncode == 0, log.read_text()


def test_a_pull_node_whose_hub_is_down_stops_on_sigterm(nodes: Nodes, eunomia_path: Path) -> None:
    """Backing off after failed connections (1, 2, 4 … s) does not delay the stop."""
    down = f"http://127.0.0.1:{free_port()}"
    config = _write_config(
        nodes.base, "pull-down.toml", eunomia_path, f'[hub]\nmode = "pull"\nurl = "{down}"\n'
    )
    log = nodes.base / "pull-down.log"
    proc = start(log, "node", "serve", "--config", str(config))
    try:
        deadline = time.monotonic() + 60
        while "pull from the hub failed" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        time.sleep(3.5)  # now in the third back-off (4 s)
        assert "taking unsigned tasks (no [hub] public_key_file)" in log.read_text()
        took = stop_time(proc)
        assert took < STOP_WITHIN - 1, took  # the back-off wait ends at once, not at the grace
        assert (nodes.base / f"{NODE}.key").exists()  # the default key file, made at start
    finally:
        kill(proc)
