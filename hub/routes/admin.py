"""Federation administration: people and their roles, the built-in issuer's signing keys.
Every change of roles is an audit record (`permission`, with the roles before). Roles are
carried in the access tokens: a change applies to the tokens issued after it (at most
`identity.access_ttl` later). `anonymous` and `node` are not granted to people (a node
is a node by its registered key)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from hyperfed.adapters.problems import Invalid, NotFound
from hyperfed.hub.auth import ROLES
from hyperfed.hub.state import HubDep, WhoDep

__all__ = ["router"]

router = APIRouter(tags=["admin"])
Subject = Annotated[str, Path(min_length=1, max_length=256)]


class PrincipalUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    roles: Annotated[list[str], Field(max_length=len(ROLES))]
    name: Annotated[str | None, Field(max_length=256)] = None


def _view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "subject": row["subject"],
        "name": row.get("name") or "",
        "roles": sorted(row.get("roles") or []),
        "created": row["created"].isoformat() if row.get("created") else None,
    }


@router.get("/admin/principals/{subject}")
async def get_principal(subject: Subject, hub: HubDep) -> dict[str, Any]:
    row = await hub.offload(hub.store.identity.principal, subject, what="principal read")
    if row is None:
        raise NotFound(f"no principal {subject!r}")
    return _view(row)


@router.put("/admin/principals/{subject}")
async def put_principal(
    subject: Subject, change: PrincipalUpdate, hub: HubDep, who: WhoDep
) -> dict[str, Any]:
    """Create a principal or set its roles (and name); its password is left as it is."""
    grantable_roles = [r for r in ROLES if r not in ("anonymous", "node")]
    unknown = sorted(set(change.roles) - set(grantable_roles))
    if unknown:
        grantable = ", ".join(grantable_roles)
        message = f"unknown or not grantable {unknown}; grant any of {grantable}"
        raise Invalid([{"path": "$.roles", "message": message}])

    def put() -> dict[str, Any] | None:
        before = hub.store.identity.principal(subject)
        name = change.name if change.name is not None else (before or {}).get("name") or ""
        hub.store.identity.put_principal(subject, change.roles, name=name, actor=who.id)
        return hub.store.identity.principal(subject)

    row = await hub.offload(put, what="principal change")
    assert row is not None
    return _view(row)


@router.post("/admin/keys/rotate")
async def rotate_keys(hub: HubDep, who: WhoDep) -> dict[str, Any]:
    """A new signing key for the built-in issuer; tokens signed by the old one stay valid
    until they expire (it stays in the JWKS)."""
    kid = await hub.offload(hub.identity.keyring.rotate, what="key rotation")
    await hub.offload(hub.store.append, "keys.rotate", who.id, {"kid": kid}, what="audit")
    return {"kid": kid, "jwks": hub.identity.keyring.jwks(reload=True)}
