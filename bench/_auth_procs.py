"""Processes of bench/auth_load.py (one config JSON in WORKDIR/config.json):

    python -m bench._auth_procs hub WORKDIR     the hub (auth + durable audit on or off)
    python -m bench._auth_procs nodes WORKDIR   every node: push ones served, pull ones looping

With auth on, the hub is wired as phase two will wire it: the rule-table guard on every
route, the built-in issuer, HubStore (hash-chained audit), signed tasks, pull nodes
authenticated by their keys and their answers' signatures checked; push nodes verify
the hub's signature before they count. With auth off: today's hub (JobStore, no checks).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import Depends, FastAPI

from hyperfed.adapters.node import create_node_app, load_node_config, open_node
from hyperfed.adapters.node.guard import require_hub_signature
from hyperfed.adapters.node.pull import PullLoop
from hyperfed.adapters.node.trust import TaskVerifier, load_or_create_key, public_jwk
from hyperfed.hub.auth import IdentitySettings, Principal, build_identity, install_auth_problems
from hyperfed.hub.auth.deps import Auth
from hyperfed.hub.auth.setup import create_service_account
from hyperfed.hub.client import MAX_RESPONSE_BYTES
from hyperfed.hub.db import HubStore
from hyperfed.hub.demo import serve_all
from hyperfed.hub.problems import install_hub_problems
from hyperfed.hub.pull import ModeTransport, PullTransport, pull_router
from hyperfed.hub.registry import NodeRegistry, Registration
from hyperfed.hub.routes import ROUTERS
from hyperfed.hub.settings import HubSettings, NodeEntry
from hyperfed.hub.signing import TaskSigner
from hyperfed.hub.state import Hub
from hyperfed.hub.transport import HttpTransport

AUD = "hyperfed-hub"


def hub_app(work: Path, cfg: dict[str, Any]) -> FastAPI:
    on = bool(cfg["auth"])
    hub_url = cfg["hub_url"]
    nodes = [NodeEntry(id=n["id"], url=n.get("url", ""), mode=n["mode"]) for n in cfg["nodes"]]
    settings = HubSettings(database=f"sqlite:///{work / cfg['db']}", deadline=30, nodes=nodes)
    signer = TaskSigner(load_or_create_key(work / "hub.key"), hub_url) if on else None
    pulled = PullTransport(signer, 30.0)
    push = HttpTransport(MAX_RESPONSE_BYTES, sign=signer.headers if signer else None)
    hub = Hub(settings, transport=ModeTransport(push, pulled))
    auth = Auth(None)
    registry = None
    routers = list(ROUTERS)
    if on:
        hub.store.close()
        store = HubStore(settings.database)
        hub.store = store  # type: ignore[assignment]  # the one-line swap of phase two
        registry = NodeRegistry(store, AUD)
        admin = Principal(id="bench", roles=frozenset({"admin", "operator"}))
        for n in cfg["nodes"]:
            if n["mode"] == "pull" and store.nodes.get(n["id"]) is None:
                key = public_jwk(load_or_create_key(work / f"{n['id']}.key"))
                registry.register(admin, Registration(id=n["id"], mode="pull", public_key=key))
                store.nodes.update(n["id"], {"status": "approved", "capabilities": {}})
        identity = build_identity(
            store,
            IdentitySettings(issuer=hub_url, access_ttl=3600),
            nodes=registry.verify_assertion,
        )
        secret = create_service_account(store, "bench-researcher", ["researcher"])
        (work / "researcher.secret").write_text(secret)
        auth = identity.auth
        routers.append(identity.router())

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await hub.start()
        try:
            yield
        finally:
            await hub.stop()

    app = FastAPI(lifespan=lifespan, dependencies=[Depends(auth.guard)] if on else [])
    app.state.hub = hub
    install_hub_problems(app)
    install_auth_problems(app)
    for router in routers:
        app.include_router(router)
    app.include_router(pull_router(pulled, auth, registry.public_key if registry else None))
    return app


async def nodes_main(work: Path, cfg: dict[str, Any]) -> None:
    on = bool(cfg["auth"])
    hub_key = public_jwk(load_or_create_key(work / "hub.key")) if on else None
    servers: list[uvicorn.Config] = []
    loops: list[PullLoop] = []
    for n in cfg["nodes"]:
        service = open_node(load_node_config(work / f"{n['id']}.toml"))
        if n["mode"] == "push":
            app: Any = create_node_app(service)
            if hub_key is not None:
                app = require_hub_signature(app, TaskVerifier(hub_key, n["id"]))
            servers.append(
                uvicorn.Config(app, host="127.0.0.1", port=n["port"], log_level="warning")
            )
        else:
            key = load_or_create_key(work / f"{n['id']}.key") if on else None
            verifier = TaskVerifier(hub_key, n["id"]) if hub_key is not None else None
            loops.append(
                PullLoop(service, cfg["hub_url"], key, audience=AUD, verifier=verifier, wait=20)
            )
    stop = asyncio.Event()
    tasks = [asyncio.create_task(p.run(stop)) for p in loops]
    try:
        if servers:
            await serve_all(servers)  # until SIGINT/SIGTERM
        else:
            for sig in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(sig, stop.set)
            await stop.wait()
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    role, work = sys.argv[1], Path(sys.argv[2])
    cfg = json.loads((work / "config.json").read_text())
    if role == "hub":
        port = int(cfg["hub_url"].rsplit(":", 1)[1])
        uvicorn.run(hub_app(work, cfg), host="127.0.0.1", port=port, log_level="warning")
    else:
        asyncio.run(nodes_main(work, cfg))


if __name__ == "__main__":
    main()
