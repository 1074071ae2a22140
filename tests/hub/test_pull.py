"""Pull mode over real HTTP on a real OMOP node behind the real hub: the same query gets
the same answer whether the node is pushed to or pulls; with signatures on, tasks are
signed by the hub, answers by the node, an impostor is refused and audited, and a late
answer is discarded (410) and reported."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from joserfc.jwk import OKPKey

from hyperfed.adapters.disclosure import Policy
from hyperfed.adapters.node import create_node_app, open_node
from hyperfed.adapters.node.config import NodeConfig, NodeSettings
from hyperfed.adapters.node.guard import require_hub_signature
from hyperfed.adapters.node.pull import PullLoop
from hyperfed.adapters.node.service import NodeService
from hyperfed.adapters.node.trust import (
    TaskVerifier,
    load_or_create_key,
    node_assertion,
    public_jwk,
    sign_result,
)
from hyperfed.adapters.problems import install_problem_handlers
from hyperfed.hub.app import create_app
from hyperfed.hub.auth.deps import Auth
from hyperfed.hub.db import HubStore
from hyperfed.hub.pull import PullTransport, pull_router
from hyperfed.hub.settings import HubSettings, NodeEntry
from hyperfed.hub.transport import Reply
from tests.identity import bearer
from tests.servers import free_port, serve

AUD = "hyperfed-hub"
QUERIES: list[dict[str, Any]] = [
    {"hql": "1", "as_of": "2020-01-01",
     "criteria": {"code": {"system": "http://snomed.info/sct", "code": "74474003"}}},
    {"hql": "1", "as_of": "2020-01-01", "criteria": {"age": {"min": 40}},
     "stratify": {"by": ["sex", "age"], "age_bands": [0, 40, 60]}},
    {"hql": "1", "as_of": "2020-01-01", "criteria": {"concept": "hf:LungCancer"}},
]  # fmt: skip


def _service(eunomia: Path, base: Path, node_id: str) -> NodeService:
    config = NodeConfig(
        node=NodeSettings(id=node_id, source=f"duckdb://{eunomia}", secret_file="shared.secret"),
        policy=Policy(),
        base_dir=base,
    )
    return open_node(config)


class LoopThread:
    """A node's pull loop in a thread of its own (its own event loop), stopped on exit."""

    def __init__(self, loop: PullLoop) -> None:
        self.pull = loop
        self._ev_loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._ev_loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await self.pull.run(self._stop)

        asyncio.run(main())

    def __enter__(self) -> LoopThread:
        self.thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        assert self._ev_loop is not None and self._stop is not None
        self._ev_loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(15)


@dataclass
class Fed:
    hub: str
    store: HubStore
    headers: dict[str, str]  # a researcher's (signed) or none (sign-in off)
    pull_key: OKPKey
    loop: PullLoop


@pytest.fixture(scope="module", params=["signed", "plain"])
def fed(
    request: pytest.FixtureRequest, eunomia_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fed]:
    """The real hub (its own pull endpoints, task signer and node keys) with a push node
    and a pull node on the same CDM. signed: sign-in on, the hub signs every task, both
    nodes check the signature, the pull node proves who it is with its key (registered
    in the hub's config file) and signs its answers; plain: sign-in off, nothing signed."""
    signed = request.param == "signed"
    base = tmp_path_factory.mktemp("pull")
    pull_key = OKPKey.generate_key("Ed25519")
    (base / "eu-pull.jwk").write_text(json.dumps(public_jwk(pull_key)))
    hub_key = load_or_create_key(base / "hub.key")
    push_app: Any = create_node_app(_service(eunomia_path, base, "eu-push"))
    if signed:
        push_app = require_hub_signature(push_app, TaskVerifier(public_jwk(hub_key), "eu-push"))
    port = free_port()
    hub_url = f"http://127.0.0.1:{port}"
    with serve(push_app) as push_url:
        settings = HubSettings(
            database=f"sqlite:///{base / 'hub.db'}",
            deadline=10,
            identity={"enabled": signed, "issuer": hub_url},
            signing={"key_file": base / "hub.key"},
            nodes=[
                NodeEntry(id="eu-push", url=push_url),
                NodeEntry(id="eu-pull", mode="pull", public_key_file=base / "eu-pull.jwk"),
            ],
        )
        app = create_app(settings)
        with serve(app, port):
            store = app.state.hub.store
            headers = bearer(hub_url, store, "rita", ["researcher"]) if signed else {}
            loop = PullLoop(
                _service(eunomia_path, base, "eu-pull"),
                hub_url,
                pull_key if signed else None,
                audience=AUD,
                verifier=TaskVerifier(public_jwk(hub_key), "eu-pull") if signed else None,
                wait=2,
            )
            with LoopThread(loop):
                yield Fed(hub_url, store, headers, pull_key, loop)


def _strip(node: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in node.items() if k not in ("node", "title", "elapsed_ms")}


def test_the_same_query_gets_the_same_answer_pushed_or_pulled(fed: Fed) -> None:
    for query in QUERIES:
        r = httpx.post(f"{fed.hub}/queries", json=query, headers=fed.headers, timeout=30)
        assert r.status_code == 200, r.text
        nodes = {n["node"]: n for n in r.json()["nodes"]}
        assert nodes["eu-pull"]["status"] in ("ok", "suppressed", "unsupported"), nodes
        assert _strip(nodes["eu-push"]) == _strip(nodes["eu-pull"])
    assert fed.loop.handled >= len(QUERIES)
    caps = {n["id"]: n for n in httpx.get(f"{fed.hub}/nodes", timeout=30).json()}
    assert caps["eu-pull"]["reachable"] and caps["eu-pull"]["capabilities"]["node"] == "eu-pull"


def test_a_late_answer_is_discarded_and_reported() -> None:
    late: list[tuple[str, str, float]] = []
    transport = PullTransport(None, 10.0, on_late=lambda *a: late.append(a))

    async def call() -> None:
        node = NodeEntry(id="slow", mode="pull", deadline=0.2)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await transport.call(node, "count", b"{}")
        task_id = next(reversed(transport._expired))
        assert transport.deliver("slow", task_id, Reply(200, b"{}"))[0] == "late"
        assert transport.deliver("other", task_id, Reply(200, b"{}"))[0] == "unknown"
        assert transport.deliver("slow", "nope", Reply(200, b"{}"))[0] == "unknown"

    asyncio.run(call())
    assert [x[:2] for x in late] == [("slow", next(reversed(transport._expired)))]


def test_a_late_answer_over_http_gets_410() -> None:
    late: list[tuple[str, str, float]] = []
    transport = PullTransport(None, 10.0, on_late=lambda *a: late.append(a))
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(pull_router(transport, Auth(None), None))

    @app.post("/trigger")
    async def trigger() -> dict[str, str]:
        try:
            async with asyncio.timeout(0.3):
                await transport.call(
                    NodeEntry(id="slow", mode="pull", deadline=0.3), "count", b"{}"
                )
        except TimeoutError:
            return {"outcome": "timeout"}
        return {"outcome": "answered"}

    with serve(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        outcome: dict[str, Any] = {}
        caller = threading.Thread(target=lambda: outcome.update(client.post("/trigger").json()))
        caller.start()
        tasks = client.get("/pull/slow/tasks", params={"wait": 5}).json()["tasks"]
        assert tasks[0]["operation"] == "count" and 0 < tasks[0]["expires_in"] <= 0.3
        caller.join(10)
        assert outcome == {"outcome": "timeout"}
        r = client.post(f"/pull/slow/results/{tasks[0]['id']}", content=b"{}")
        assert r.status_code == 410 and r.json()["late_ms"] >= 0, r.text
        assert "discarded" in r.json()["detail"]
        assert client.post("/pull/slow/results/nope", content=b"{}").status_code == 404
    assert late and late[0][:2] == ("slow", tasks[0]["id"])


def test_signed_pull_refuses_impostors(fed: Fed) -> None:
    if fed.loop.key is None:
        r = httpx.get(f"{fed.hub}/pull/eu-pull/tasks", params={"wait": 0})
        assert r.status_code == 204  # signatures off: anyone may poll (closed setups only)
        return
    r = httpx.get(f"{fed.hub}/pull/eu-pull/tasks", params={"wait": 0})
    assert r.status_code == 401
    stranger = OKPKey.generate_key("Ed25519")
    bearer = {"Authorization": f"Bearer {node_assertion(stranger, 'eu-pull', AUD)}"}
    r = httpx.get(f"{fed.hub}/pull/eu-pull/tasks", params={"wait": 0}, headers=bearer)
    assert r.status_code == 401 and "registered key" in r.json()["detail"]
    own = {"Authorization": f"Bearer {node_assertion(fed.pull_key, 'eu-pull', AUD)}"}
    other = httpx.get(f"{fed.hub}/pull/eu-push/tasks", params={"wait": 0}, headers=own)
    assert other.status_code == 403
    forged = {"Authorization": f"Bearer {node_assertion(fed.pull_key, 'eu-pull', AUD)}",
              "Hyperfed-Signature": sign_result(stranger, "eu-pull", "t1", 200, b"{}")}  # fmt: skip
    r = httpx.post(f"{fed.hub}/pull/eu-pull/results/t1", content=b"{}", headers=forged)
    assert r.status_code == 401 and "does not verify" in r.json()["detail"]
    reasons = [x["data"]["reason"] for x in fed.store.records(kind="node.refused")]
    assert any("another node" in x for x in reasons) and any("verify" in x for x in reasons)
