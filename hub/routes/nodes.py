"""The federation's nodes (the config file's and the registry's approved ones), with
their live capabilities (through the node client) and their health: last seen, latency
of the last answer, calls and errors (registered nodes: since registration; config
nodes: since the hub started)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter

from hyperfed.hub.health import stored
from hyperfed.hub.settings import NodeEntry
from hyperfed.hub.state import HubDep

__all__ = ["router"]

router = APIRouter()


@router.get("/nodes")
async def nodes(hub: HubDep) -> list[dict[str, Any]]:
    timeout = min(hub.settings.deadline, 5.0)
    configured = {n.id for n in hub.settings.nodes}
    everyone = hub.nodes()
    rows = await hub.offload(
        lambda: {r["id"]: r for r in hub.store.nodes.list(status="approved")},
        what="registry read",
    )

    async def one(n: NodeEntry) -> dict[str, Any]:
        entry = n.model_dump()
        entry["source"] = "config" if n.id in configured else "registry"
        if n.id in rows:
            health = stored(rows[n.id]).plus(hub.health.unflushed(n.id))
        else:
            health = hub.health.since_start(n.id)
        entry["health"] = health.as_dict()
        try:
            caps = await hub.client.capabilities(n, timeout)
            entry["capabilities"] = caps.model_dump()
            entry["reachable"] = True
        except Exception as exc:
            entry["reachable"] = False
            entry["error"] = type(exc).__name__
        return entry

    return list(await asyncio.gather(*[one(n) for n in everyone]))
