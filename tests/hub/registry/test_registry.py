"""The node registry on SQLite and PostgreSQL: register, capability handshake with a real
node over HTTP, approval, suspension, re-keying, removal, health; operators touch only
their own nodes; nodes authenticate with their registered key; every change audited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from joserfc.jwk import OKPKey
from pydantic import ValidationError

from hyperfed.adapters.disclosure import Policy
from hyperfed.adapters.node.trust import node_assertion, public_jwk
from hyperfed.hub.auth import Principal, TokenRejected
from hyperfed.hub.client import NodeClient
from hyperfed.hub.db import HubStore
from hyperfed.hub.registry import (
    NodeConflict,
    NodeForbidden,
    NodeRegistry,
    Registration,
    RegistryError,
)
from hyperfed.hub.settings import NodeEntry
from hyperfed.hub.transport import HttpTransport
from tests.servers import omop_node_app, serve

OP = Principal(id="olga", roles=frozenset({"operator"}))
OTHER = Principal(id="oscar", roles=frozenset({"operator"}))
ADMIN = Principal(id="ada", roles=frozenset({"admin"}))
AUD = "hyperfed-hub"


@pytest.fixture(scope="module")
def node_url(eunomia_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(omop_node_app(eunomia_path, tmp_path_factory.mktemp("n"), "site-a")) as url:
        yield url


def _registry(store: HubStore) -> NodeRegistry:
    client = NodeClient(HttpTransport(1_000_000), Policy(), 5.0)

    async def handshake(entry: NodeEntry):  # type: ignore[no-untyped-def]
        try:
            return await client.capabilities(entry, 5.0)
        finally:
            await client.transport.close()

    return NodeRegistry(store, AUD, handshake)


def _reg(node_id: str, url: str, key: OKPKey) -> Registration:
    return Registration(id=node_id, url=url, public_key=public_jwk(key), title="Site A")


def test_registration_checks_its_input() -> None:
    key = public_jwk(OKPKey.generate_key("Ed25519"))
    for bad, fragment in [
        ({"id": "a", "mode": "push", "public_key": key}, "needs its http"),
        ({"id": "a", "mode": "pull", "url": "http://x", "public_key": key}, "has no URL"),
        ({"id": "a", "mode": "pull", "public_key": {"kty": "RSA"}}, "public_key"),
        ({"id": "a", "mode": "pull",
          "public_key": OKPKey.generate_key("Ed25519").as_dict(private=True)}, "private part"),
        ({"id": "../etc", "mode": "pull", "public_key": key}, "pattern"),
    ]:  # fmt: skip
        with pytest.raises(ValidationError, match=fragment):
            Registration.model_validate(bad)


def test_the_life_of_a_node(store: HubStore, node_url: str) -> None:
    registry = _registry(store)
    key = OKPKey.generate_key("Ed25519")
    node = registry.register(OP, _reg("site-a", node_url, key))
    assert node["status"] == "pending" and node["owner"] == "olga"
    with pytest.raises(NodeConflict):
        registry.register(OTHER, _reg("site-a", node_url, key))
    with pytest.raises(NodeForbidden):
        registry.approve(OP, "site-a")
    with pytest.raises(RegistryError, match="handshake"):
        registry.approve(ADMIN, "site-a")
    assert registry.entries() == []
    shaken = asyncio.run(registry.handshake(OP, "site-a"))
    assert shaken["capabilities"]["model"] == "omop" and shaken["capabilities"]["node"] == "site-a"
    assert registry.approve(ADMIN, "site-a")["status"] == "approved"
    assert [e.id for e in registry.entries()] == ["site-a"]
    # another operator may not touch it; the admin sees every node, an operator their own
    for action in (lambda: registry.get(OTHER, "site-a"), lambda: registry.suspend(OTHER, "site-a"),
                   lambda: registry.remove(OTHER, "site-a"),
                   lambda: registry.rekey(OTHER, "site-a", public_jwk(key))):  # fmt: skip
        with pytest.raises(NodeForbidden):
            action()
    assert [n["id"] for n in registry.visible(ADMIN)] == ["site-a"]
    assert registry.visible(OTHER) == []
    assert registry.suspend(OP, "site-a", "maintenance")["status"] == "suspended"
    assert registry.entries() == []
    with pytest.raises(NodeForbidden):
        registry.resume(OP, "site-a")
    registry.resume(ADMIN, "site-a")
    new = OKPKey.generate_key("Ed25519")
    assert registry.rekey(OP, "site-a", public_jwk(new))["key_version"] == 2
    registry.record_call("site-a", 12.5, None)
    registry.record_call("site-a", None, "timeout")
    health = registry.get(OP, "site-a")
    assert health["latency_ms"] == 12.5 and health["last_seen"] is not None
    assert (health["calls"], health["errors"], health["last_error"]) == (2, 1, "timeout")
    registry.remove(OP, "site-a")
    assert registry.visible(ADMIN) == []
    kinds = [r["kind"] for r in reversed(store.records())]
    assert kinds == ["registration", "node.handshake", "node.approve", "node.suspend",
                     "node.resume", "node.rekey", "node.remove"]  # fmt: skip
    assert store.verify().ok


def test_a_handshake_with_the_wrong_node_is_refused(store: HubStore, node_url: str) -> None:
    registry = _registry(store)
    registry.register(OP, _reg("site-b", node_url, OKPKey.generate_key("Ed25519")))
    with pytest.raises(RegistryError, match="says it is 'site-a'"):
        asyncio.run(registry.handshake(OP, "site-b"))


def test_nodes_authenticate_with_their_registered_key(store: HubStore) -> None:
    registry = NodeRegistry(store, AUD)
    a, b = OKPKey.generate_key("Ed25519"), OKPKey.generate_key("Ed25519")
    registry.register(OP, Registration(id="a", mode="pull", public_key=public_jwk(a)))
    registry.register(OP, Registration(id="b", mode="pull", public_key=public_jwk(b)))
    token = node_assertion(a, "a", AUD)
    who = asyncio.run(registry.verify_assertion(token))
    assert who.id == "node:a" and who.roles == {"node"}
    # reused while valid (the node signs one a minute), but never past its life
    assert asyncio.run(registry.verify_assertion(token)).id == "node:a"
    with pytest.raises(TokenRejected, match="over 120 s"):
        asyncio.run(registry.verify_assertion(node_assertion(a, "a", AUD, ttl=600)))
    stale = node_assertion(a, "a", AUD, ttl=60, now=lambda: time.time() - 120)
    with pytest.raises(TokenRejected, match="not valid"):
        asyncio.run(registry.verify_assertion(stale))
    with pytest.raises(TokenRejected, match="registered key"):  # a claims to be b
        asyncio.run(registry.verify_assertion(node_assertion(a, "b", AUD)))
    refused = store.records(kind="node.refused")
    assert refused and refused[0]["data"]["node"] == "b"
    with pytest.raises(TokenRejected, match="no registered node"):
        asyncio.run(registry.verify_assertion(node_assertion(a, "zzz", AUD)))
    with pytest.raises(TokenRejected):
        asyncio.run(registry.verify_assertion(node_assertion(a, "a", "another-hub")))
    old_b = node_assertion(b, "b", AUD)
    assert asyncio.run(registry.verify_assertion(old_b)).id == "node:b"  # verified, kept
    registry.suspend(OP, "a")
    with pytest.raises(TokenRejected, match="suspended"):  # the kept one too, at once
        asyncio.run(registry.verify_assertion(token))
    registry.rekey(OP, "b", public_jwk(a))
    with pytest.raises(TokenRejected):
        asyncio.run(registry.verify_assertion(old_b))  # by the old key, verified before
    with pytest.raises(TokenRejected):
        asyncio.run(registry.verify_assertion(node_assertion(b, "b", AUD)))  # the old key
    assert asyncio.run(registry.verify_assertion(node_assertion(a, "b", AUD))).id == "node:b"
