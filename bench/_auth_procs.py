"""Processes of bench/auth_load.py (one config JSON in WORKDIR/config.json):

    python -m bench._auth_procs hub WORKDIR     the hub (`create_app`, sign-in on or off)
    python -m bench._auth_procs nodes WORKDIR   every node: push ones served, pull ones looping

The hub is the product's own: with auth on, sign-in (the built-in issuer, the rule-table
guard on every route), signed tasks verified by every node, pull nodes authenticated by
their keys and their answers' signatures checked; with auth off, `[identity] enabled =
false` and `[signing] enabled = false` (nothing signed or checked). The hash-chained audit
in SQLite (synchronous=FULL) is on in both: the hub has no mode without it.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from hyperfed.adapters.node import create_node_app, load_node_config, open_node
from hyperfed.adapters.node.guard import require_hub_signature
from hyperfed.adapters.node.pull import PullLoop
from hyperfed.adapters.node.trust import TaskVerifier, load_or_create_key, public_jwk
from hyperfed.hub.app import create_app
from hyperfed.hub.auth.setup import create_service_account
from hyperfed.hub.demo import serve_all
from hyperfed.hub.settings import HubSettings, NodeEntry

AUD = "hyperfed-hub"


def hub_app(work: Path, cfg: dict[str, Any]) -> FastAPI:
    on = bool(cfg["auth"])
    nodes = []
    for n in cfg["nodes"]:
        key_file = None
        if n["mode"] == "pull":
            key_file = work / f"{n['id']}.jwk"
            key_file.write_text(json.dumps(public_jwk(load_or_create_key(work / f"{n['id']}.key"))))
        nodes.append(
            NodeEntry(id=n["id"], url=n.get("url", ""), mode=n["mode"], public_key_file=key_file)
        )
    settings = HubSettings(
        database=f"sqlite:///{work / cfg['db']}",
        deadline=30,
        nodes=nodes,
        identity={"enabled": on, "issuer": cfg["hub_url"], "access_ttl": 3600},
        signing={"enabled": on, "key_file": work / "hub.key"},
        catalog={"base_url": cfg["hub_url"], "refresh_interval": 0},
    )
    app = create_app(settings)
    if on:
        secret = create_service_account(app.state.hub.store, "bench-researcher", ["researcher"])
        (work / "researcher.secret").write_text(secret)
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
