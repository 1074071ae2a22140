"""The node registry: operators register their nodes, the hub checks what each node is
(capability handshake), an admin approves; nodes are suspended, resumed, re-keyed and
removed, and their health (last seen, latency, errors) is kept. Every change is audited.

Rules: an operator manages their own nodes only (403 otherwise); approving and resuming
are for admins. Only `approved` nodes get queries (`entries()`); `pending` ones may
authenticate (so a pull node can answer its handshake); suspended ones are refused.
A node authenticates with its registered key (`verify_assertion`, pull mode): a short-lived
assertion it signs and reuses while valid; an assertion for another node id, by a key that
is not the node's, or valid for too long is refused and audited.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from joserfc.jwt import JWTClaimsRegistry
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hyperfed.adapters.node.trust import ALG, public_jwk, read_public_key
from hyperfed.adapters.protocol import Capabilities
from hyperfed.hub.auth.principal import Principal
from hyperfed.hub.auth.rules import owns
from hyperfed.hub.auth.verify import TokenRejected, unverified_claims
from hyperfed.hub.db.store import HubStore
from hyperfed.hub.errors import HubError
from hyperfed.hub.settings import NodeEntry

__all__ = [
    "NodeConflict",
    "NodeForbidden",
    "NodeNotFound",
    "NodeRegistry",
    "Registration",
    "RegistryError",
]

Status = Literal["pending", "approved", "suspended"]
ENTRIES_TTL = 5.0
MAX_ASSERTION_SECONDS = 120
"""the longest a node assertion may be valid (`exp - iat`)."""
Handshake = Callable[[NodeEntry], Awaitable[Capabilities]]


class RegistryError(HubError):
    """A registry request cannot be done (the message says why)."""


class NodeNotFound(RegistryError):
    pass


class NodeForbidden(RegistryError):
    pass


class NodeConflict(RegistryError):
    pass


class Registration(BaseModel):
    """What an operator sends to register a node."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    model: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")] = "omop"
    mode: Literal["push", "pull"] = "push"
    url: Annotated[str | None, Field(max_length=2048)] = None
    title: Annotated[str, Field(max_length=256)] = ""
    public_key: dict[str, Any]

    @model_validator(mode="after")
    def _check(self) -> Registration:
        if self.mode == "push" and not (self.url or "").startswith(("http://", "https://")):
            raise ValueError("url: a push node needs its http(s):// URL")
        if self.mode == "pull" and self.url:
            raise ValueError("url: a pull node has no URL (it connects to the hub)")
        try:
            read_public_key(self.public_key)
        except ValueError as exc:
            raise ValueError(f"public_key: {exc}") from exc
        if "d" in self.public_key:
            raise ValueError("public_key: send the public key only (it has a private part 'd')")
        return self


@dataclass(frozen=True)
class _Snapshot:
    at: float
    rows: dict[str, dict[str, Any]]
    entries: list[NodeEntry]


def _entry(row: dict[str, Any]) -> NodeEntry:
    """A registered node as the node client takes it."""
    return NodeEntry(
        id=row["id"], url=row["url"] or "", model=row["model"], title=row["title"], mode=row["mode"]
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def public_view(row: dict[str, Any]) -> dict[str, Any]:
    """A node as the registry API shows it (JSON-ready)."""
    out = {k: v for k, v in row.items() if k != "public_key"}
    out["public_key"] = json.loads(row["public_key"])
    for k in ("registered", "updated", "last_seen"):
        if out.get(k) is not None:
            out[k] = out[k].isoformat()
    return out


class NodeRegistry:
    def __init__(
        self,
        store: HubStore,
        audience: str,
        handshake: Handshake | None = None,
        now: Callable[[], float] = time.time,
        static_keys: dict[str, OKPKey] | None = None,
    ) -> None:
        """`static_keys`: public keys of the config file's pull nodes (always approved)."""
        self.static_keys = dict(static_keys or {})
        self.store = store
        self.audience = audience
        self.handshake_call = handshake
        self.now = now
        self._verified: dict[str, tuple[float, str]] = {}  # token -> (expiry, its key)
        self._keys: dict[str, OKPKey] = {}
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None

    # -- reading ---------------------------------------------------------------------------

    def _row(self, node_id: str) -> dict[str, Any]:
        row = self.store.nodes.get(node_id)
        if row is None:
            raise NodeNotFound(f"no node {node_id!r}")
        return row

    def _owned(self, principal: Principal, node_id: str) -> dict[str, Any]:
        row = self._row(node_id)
        if not owns(principal, row["owner"]):
            raise NodeForbidden(f"node {node_id!r} belongs to another operator")
        return row

    def get(self, principal: Principal, node_id: str) -> dict[str, Any]:
        return public_view(self._owned(principal, node_id))

    def visible(self, principal: Principal) -> list[dict[str, Any]]:
        owner = None if principal.has("admin") else principal.id
        return [public_view(r) for r in self.store.nodes.list(owner=owner)]

    def _read(self) -> _Snapshot:
        """Every registered node's row and the approved ones as `NodeEntry`s, read again
        after each change through this registry and at least every `ENTRIES_TTL` seconds
        (what each query, poll and answer checks costs no database read)."""
        cached = self._snapshot
        if cached is not None and self.now() - cached.at < ENTRIES_TTL:
            return cached
        rows = {r["id"]: r for r in self.store.nodes.list()}
        entries = [_entry(r) for r in rows.values() if r["status"] == "approved"]
        self._snapshot = _Snapshot(self.now(), rows, entries)
        return self._snapshot

    def _rows(self) -> dict[str, dict[str, Any]]:
        return self._read().rows

    def _changed(self) -> None:
        self._snapshot = None

    def entries(self) -> list[NodeEntry]:
        """The approved nodes, as the node client takes them."""
        return list(self._read().entries)

    # -- changes ---------------------------------------------------------------------------

    def register(self, principal: Principal, reg: Registration) -> dict[str, Any]:
        now = _now()
        key = public_jwk(read_public_key(reg.public_key))
        row = {
            "id": reg.id,
            "owner": principal.id,
            "title": reg.title,
            "model": reg.model,
            "mode": reg.mode,
            "url": reg.url,
            "public_key": json.dumps(key, sort_keys=True),
            "key_version": 1,
            "status": "pending",
            "registered": now,
            "updated": now,
            "calls": 0,
            "errors": 0,
        }
        audit = (
            "registration",
            principal.id,
            {
                "node": reg.id,
                "model": reg.model,
                "mode": reg.mode,
                "url": reg.url,
                "key": key["kid"],
            },
        )
        if not self.store.nodes.insert(row, audit):
            raise NodeConflict(f"node id {reg.id!r} is taken")
        self._changed()
        return public_view(row)

    def _change(
        self,
        principal: Principal,
        node_id: str,
        values: dict[str, Any],
        kind: str,
        data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        values = {**values, "updated": _now()}
        audit = (kind, principal.id, {"node": node_id, **(data or {})})
        if not self.store.nodes.update(node_id, values, audit):
            raise NodeNotFound(f"no node {node_id!r}")
        self._changed()
        return public_view(self._row(node_id))

    async def handshake(self, principal: Principal, node_id: str) -> dict[str, Any]:
        """Ask the node what it is (through the node client: push or pull) and keep it."""
        row = self._owned(principal, node_id)
        if self.handshake_call is None:
            raise RegistryError("this hub cannot reach nodes")
        entry = _entry(row)
        try:
            caps = await self.handshake_call(entry)
        except Exception as exc:
            self.store.nodes.record_call(node_id, _now(), None, f"handshake: {type(exc).__name__}")
            raise RegistryError(
                f"node {node_id!r} did not answer the handshake ({type(exc).__name__})"
            ) from exc
        if caps.node != node_id:
            await self._refused(node_id, f"answered the handshake as node {caps.node[:64]!r}")
            raise RegistryError(
                f"the node at that address says it is {caps.node!r}, not {node_id!r}"
            )
        if caps.model != row["model"]:
            raise RegistryError(
                f"node {node_id!r} serves model {caps.model!r}, not {row['model']!r}"
            )
        return self._change(
            principal,
            node_id,
            {"capabilities": caps.model_dump(mode="json"), "title": row["title"] or caps.title},
            "node.handshake",
            {"protocol": caps.protocol},
        )

    def approve(self, principal: Principal, node_id: str) -> dict[str, Any]:
        if not principal.has("admin"):
            raise NodeForbidden("only an admin approves nodes")
        row = self._row(node_id)
        if row["capabilities"] is None:
            raise RegistryError(f"node {node_id!r} has not passed the capability handshake yet")
        return self._change(principal, node_id, {"status": "approved"}, "node.approve")

    def suspend(self, principal: Principal, node_id: str, reason: str = "") -> dict[str, Any]:
        self._owned(principal, node_id)
        return self._change(
            principal, node_id, {"status": "suspended"}, "node.suspend", {"reason": reason[:256]}
        )

    def resume(self, principal: Principal, node_id: str) -> dict[str, Any]:
        if not principal.has("admin"):
            raise NodeForbidden("only an admin resumes a suspended node")
        if self._row(node_id)["status"] != "suspended":
            raise RegistryError(f"node {node_id!r} is not suspended (a pending node is approved)")
        return self._change(principal, node_id, {"status": "approved"}, "node.resume")

    def rekey(
        self, principal: Principal, node_id: str, public_key: dict[str, Any]
    ) -> dict[str, Any]:
        row = self._owned(principal, node_id)
        if "d" in public_key:  # as at registration: the private half must not travel
            raise RegistryError("public_key: send the public key only (it has a private part 'd')")
        try:
            key = public_jwk(read_public_key(public_key))
        except ValueError as exc:
            raise RegistryError(f"public_key: {exc}") from exc
        return self._change(
            principal,
            node_id,
            {"public_key": json.dumps(key, sort_keys=True), "key_version": row["key_version"] + 1},
            "node.rekey",
            {"key": key["kid"], "version": row["key_version"] + 1},
        )

    def remove(self, principal: Principal, node_id: str) -> None:
        self._owned(principal, node_id)
        self.store.nodes.delete(node_id, ("node.remove", principal.id, {"node": node_id}))
        self._changed()

    def record_call(self, node_id: str, elapsed_ms: float | None, error: str | None) -> None:
        self.store.nodes.record_call(node_id, _now(), elapsed_ms, error)

    # -- nodes authenticating with their own key --------------------------------------------

    def public_key(self, node_id: str) -> Any:
        if node_id in self.static_keys:
            return self.static_keys[node_id]
        row = self._rows().get(node_id)
        if row is None or row["status"] == "suspended":
            return None
        return read_public_key(row["public_key"])

    def _refuse(self, node_id: str, reason: str) -> TokenRejected:
        self.store.append("node.refused", f"node:{node_id}", {"node": node_id, "reason": reason})
        return TokenRejected(reason)

    async def _refused(self, node_id: str, reason: str) -> TokenRejected:
        """`_refuse` off the event loop (the audit write is a database transaction)."""
        return await asyncio.to_thread(self._refuse, node_id, reason)

    def _key(self, text: str) -> OKPKey:
        key = self._keys.get(text)
        if key is None:
            key = self._keys[text] = read_public_key(text)
        return key

    async def verify_assertion(self, token: str) -> Principal:
        """The node a pull request comes from, by its assertion: a JWT it signs with its
        registered key (`iss`/`sub` `node:<id>`, our audience, valid at most
        `MAX_ASSERTION_SECONDS`). A node reuses its assertion while it is valid; the hub
        keeps the ones it has verified until they expire, so each is checked once — but
        the node's status and key are looked at on every request (a suspension or a new
        key applies at once)."""
        iss = str(unverified_claims(token).get("iss", ""))
        node_id = iss.removeprefix("node:")
        static = self.static_keys.get(node_id)
        if static is None:
            row = self._rows().get(node_id)
            if row is None:
                raise await self._refused(node_id[:64], f"no registered node {node_id!r}")
            if row["status"] == "suspended":
                raise await self._refused(node_id, f"node {node_id!r} is suspended")
            key_ref, key = row["public_key"], self._key(row["public_key"])
        else:
            key_ref, key = "config", static
        now = self.now()
        seen = self._verified.get(token)
        if seen is not None and seen[0] > now and seen[1] == key_ref:
            return Principal(id=iss, roles=frozenset({"node"}), name=node_id)
        try:
            claims = jwt.decode(token, key, algorithms=[ALG]).claims
            JWTClaimsRegistry(
                now=lambda: int(now),
                leeway=10,
                iss={"essential": True, "value": iss},
                sub={"essential": True, "value": iss},
                aud={"essential": True, "value": self.audience},
                exp={"essential": True},
            ).validate(claims)
        except JoseError as exc:
            raise await self._refused(
                node_id,
                f"the assertion of node {node_id!r} is not valid "
                f"({exc.error}): not signed with its registered key?",
            ) from exc
        if claims["exp"] - claims.get("iat", 0) > MAX_ASSERTION_SECONDS:
            raise await self._refused(
                node_id, f"a node assertion valid for over {MAX_ASSERTION_SECONDS} s"
            )
        with self._lock:
            if len(self._verified) > 10_000:
                self._verified = {t: v for t, v in self._verified.items() if v[0] > now}
            self._verified[token] = (float(claims["exp"]), key_ref)
        return Principal(id=iss, roles=frozenset({"node"}), name=node_id)
