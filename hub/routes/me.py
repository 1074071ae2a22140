"""The signed-in caller: who they are, their own queries, their query budget."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from hyperfed.hub.state import HubDep, WhoDep

__all__ = ["router"]

router = APIRouter(tags=["me"])


@router.get("/me")
async def me(who: WhoDep) -> dict[str, Any]:
    return {
        "id": who.id,
        "name": who.name,
        "roles": sorted(who.roles),
        "issuer": who.issuer,
        "client_id": who.client_id,
    }


@router.get("/me/queries")
async def my_queries(
    hub: HubDep, who: WhoDep, limit: int = Query(default=100, ge=1, le=1000)
) -> list[dict[str, Any]]:
    """The caller's own query jobs, newest first (released numbers only, as answered)."""
    return await hub.offload(hub.store.history, who.id, limit, what="history read")


@router.get("/me/budget")
async def my_budget(hub: HubDep, who: WhoDep) -> dict[str, Any]:
    """Each quota's limit, window, used, remaining and when it frees up; the repeat limit."""
    return await hub.offload(hub.budgets.status, who.id, what="budget read")
