"""The node registry API: operators register and manage their own nodes, admins approve
and resume them (`hyperfed.hub.registry.NodeRegistry` does the work and the audit).

    POST   /registry/nodes                      register (201; pending)
    GET    /registry/nodes                      one's own nodes (admins: all)
    GET    /registry/nodes/{id}                 one node
    POST   /registry/nodes/{id}/handshake       ask the node what it is (capabilities)
    POST   /registry/nodes/{id}/approve         admins: the node gets queries
    POST   /registry/nodes/{id}/suspend         no queries, its pull requests refused
    POST   /registry/nodes/{id}/resume          admins
    POST   /registry/nodes/{id}/rekey           a new public key; the old one stops at once
    DELETE /registry/nodes/{id}                 remove (204)

Errors: another operator's node 403, no such node 404, a taken id 409 (also an id of the
config file's nodes), a registration that is not valid 422 naming the field, a node that
does not answer the handshake or is not what was registered 502.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Response

from hyperfed.adapters.problems import Conflict, Invalid, NotFound, ProblemError
from hyperfed.hub.auth import Forbidden
from hyperfed.hub.registry import (
    NodeConflict,
    NodeForbidden,
    NodeNotFound,
    Registration,
    RegistryError,
)
from hyperfed.hub.state import Hub, HubDep, WhoDep

__all__ = ["router"]

router = APIRouter(tags=["registry"])
T = TypeVar("T")


class HandshakeFailed(ProblemError):
    status = 502
    title = "Node handshake failed"


def _problem(exc: RegistryError) -> ProblemError:
    if isinstance(exc, NodeNotFound):
        return NotFound(str(exc))
    if isinstance(exc, NodeForbidden):
        return Forbidden(str(exc))
    if isinstance(exc, NodeConflict):
        return Conflict(str(exc))
    return Invalid([{"path": "$", "message": str(exc)}])


async def _do(hub: Hub, work: Callable[..., T], *args: Any) -> T:
    try:
        return await hub.offload(work, *args, what="registry change")
    except RegistryError as exc:
        raise _problem(exc) from exc


@router.post("/registry/nodes", status_code=201)
async def register(reg: Registration, hub: HubDep, who: WhoDep) -> dict[str, Any]:
    if hub.settings.node(reg.id) is not None:
        raise Conflict(f"node id {reg.id!r} is taken (a node of the hub's configuration)")
    if reg.model not in hub.ontology.models:
        known = ", ".join(hub.ontology.models)
        message = f"unknown data model {reg.model!r}; known: {known}"
        raise Invalid([{"path": "$.model", "message": message}])
    return await _do(hub, hub.registry.register, who, reg)


@router.get("/registry/nodes")
async def list_nodes(hub: HubDep, who: WhoDep) -> list[dict[str, Any]]:
    return await hub.offload(hub.registry.visible, who, what="registry read")


@router.get("/registry/nodes/{node_id}")
async def get_node(node_id: str, hub: HubDep, who: WhoDep) -> dict[str, Any]:
    return await _do(hub, hub.registry.get, who, node_id)


@router.post("/registry/nodes/{node_id}/handshake")
async def handshake(node_id: str, hub: HubDep, who: WhoDep) -> dict[str, Any]:
    try:
        return await hub.registry.handshake(who, node_id)
    except (NodeNotFound, NodeForbidden) as exc:
        raise _problem(exc) from exc
    except RegistryError as exc:
        raise HandshakeFailed(str(exc)) from exc


@router.post("/registry/nodes/{node_id}/approve")
async def approve(node_id: str, hub: HubDep, who: WhoDep) -> dict[str, Any]:
    return await _do(hub, hub.registry.approve, who, node_id)


@router.post("/registry/nodes/{node_id}/suspend")
async def suspend(
    node_id: str,
    hub: HubDep,
    who: WhoDep,
    reason: Annotated[str, Body(embed=True, max_length=256)] = "",
) -> dict[str, Any]:
    return await _do(hub, hub.registry.suspend, who, node_id, reason)


@router.post("/registry/nodes/{node_id}/resume")
async def resume(node_id: str, hub: HubDep, who: WhoDep) -> dict[str, Any]:
    return await _do(hub, hub.registry.resume, who, node_id)


@router.post("/registry/nodes/{node_id}/rekey")
async def rekey(
    node_id: str,
    hub: HubDep,
    who: WhoDep,
    public_key: Annotated[dict[str, Any], Body(embed=True)],
) -> dict[str, Any]:
    return await _do(hub, hub.registry.rekey, who, node_id, public_key)


@router.delete("/registry/nodes/{node_id}", status_code=204)
async def remove(node_id: str, hub: HubDep, who: WhoDep) -> Response:
    await _do(hub, hub.registry.remove, who, node_id)
    return Response(status_code=204)
