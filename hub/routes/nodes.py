"""The federation's nodes, with their live capabilities (through the node client)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter

from hyperfed.hub.settings import NodeEntry
from hyperfed.hub.state import HubDep

__all__ = ["router"]

router = APIRouter()


@router.get("/nodes")
async def nodes(hub: HubDep) -> list[dict[str, Any]]:
    timeout = min(hub.settings.deadline, 5.0)

    async def one(n: NodeEntry) -> dict[str, Any]:
        entry = n.model_dump()
        try:
            caps = await hub.client.capabilities(n, timeout)
            entry["capabilities"] = caps.model_dump()
            entry["reachable"] = True
        except Exception as exc:
            entry["reachable"] = False
            entry["error"] = type(exc).__name__
        return entry

    return list(await asyncio.gather(*[one(n) for n in hub.settings.nodes]))
