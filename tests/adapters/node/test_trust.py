"""Nodes trust only their hub: tasks signed by the hub's key, for this node, not expired,
not replayed, with the body the hub signed; the ASGI guard in front of a real node app."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from joserfc.jwk import OKPKey

from hyperfed.adapters.node.guard import require_hub_signature
from hyperfed.adapters.node.trust import (
    TASK_HEADER,
    TaskRefused,
    TaskVerifier,
    load_or_create_key,
    public_jwk,
    sign_result,
    verify_result,
)
from hyperfed.hub.signing import TaskSigner
from tests.servers import omop_node_app, serve

BODY = json.dumps({"query": {"hql": "1", "criteria": {"concept": "hf:Person"}}}).encode()


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def hub_key() -> OKPKey:
    return OKPKey.generate_key("Ed25519")


def test_a_signed_task_is_accepted_once(hub_key: OKPKey) -> None:
    clock = Clock()
    signer = TaskSigner(hub_key, "https://hub.example", now=clock)
    verifier = TaskVerifier(public_jwk(hub_key), "site-a", now=clock)
    token = signer.sign("site-a", "count", BODY, ttl=10)
    assert verifier.verify(token, BODY).node == "site-a"
    with pytest.raises(TaskRefused, match="replay"):
        verifier.verify(token, BODY)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("other node", "is for node 'site-b'"),
        ("altered body", "not the one the hub signed"),
        ("expired", "expired"),
        ("forged", "signature does not verify"),
        ("unsigned", "unsigned task"),
        ("other operation", "signed for 'capabilities'"),
        ("garbage", "not a signed task|signature does not verify"),
    ],
)
def test_bad_tasks_are_refused_with_the_reason(hub_key: OKPKey, case: str, reason: str) -> None:
    clock = Clock()
    signer = TaskSigner(hub_key, "https://hub.example", now=clock)
    verifier = TaskVerifier(public_jwk(hub_key), "site-a", now=clock)
    body, token = BODY, signer.sign("site-a", "count", BODY, ttl=10)
    if case == "other node":
        token = signer.sign("site-b", "count", BODY, ttl=10)
    elif case == "altered body":
        body = BODY.replace(b"Person", b"Female")
    elif case == "expired":
        clock.t += 60
    elif case == "forged":
        token = TaskSigner(OKPKey.generate_key("Ed25519"), "x", now=clock).sign(
            "site-a", "count", BODY
        )
    elif case == "unsigned":
        token = ""
    elif case == "other operation":
        token = signer.sign("site-a", "capabilities", BODY, ttl=10)
    elif case == "garbage":
        token = "a.b.c"
    with pytest.raises(TaskRefused, match=reason):
        verifier.verify(token, body)


def test_keys_are_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    key = load_or_create_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_key(path).thumbprint() == key.thumbprint()
    assert "d" not in public_jwk(key)
    path.write_text("{}")
    with pytest.raises(TaskRefused, match=r"node\.key"):
        load_or_create_key(path)


def test_result_signatures(hub_key: OKPKey) -> None:
    node = OKPKey.generate_key("Ed25519")
    sig = sign_result(node, "site-a", "t1", 200, b'{"x": 1}')
    assert verify_result(sig, node, "site-a", "t1", b'{"x": 1}') == 200
    for args, reason in [
        ((hub_key, "site-a", "t1", b'{"x": 1}'), "does not verify"),
        ((node, "site-b", "t1", b'{"x": 1}'), "another node"),
        ((node, "site-a", "t2", b'{"x": 1}'), "another node or task"),
        ((node, "site-a", "t1", b'{"x": 2}'), "not the one the node signed"),
    ]:
        with pytest.raises(TaskRefused, match=reason):
            verify_result(sig, *args)


def test_a_guarded_node_counts_only_for_its_hub(
    hub_key: OKPKey, eunomia_path: Path, tmp_path: Path
) -> None:
    signer = TaskSigner(hub_key, "https://hub.example")
    app = require_hub_signature(
        omop_node_app(eunomia_path, tmp_path, "eunomia"),
        TaskVerifier(public_jwk(hub_key), "eunomia"),
    )
    body = json.dumps(
        {"query": {"hql": "1", "as_of": "2020-01-01", "criteria": {"age": {"min": 18}}}}
    ).encode()
    with serve(app) as url:
        direct = httpx.post(f"{url}/count", content=body)
        assert direct.status_code == 401 and "unsigned" in direct.json()["detail"]
        headers = {
            TASK_HEADER: signer.sign("eunomia", "count", body),
            "content-type": "application/json",
        }
        ok = httpx.post(f"{url}/count", content=body, headers=headers)
        assert ok.status_code == 200 and ok.json()["status"] == "ok", ok.text
        replay = httpx.post(f"{url}/count", content=body, headers=headers)
        assert replay.status_code == 401 and "replay" in replay.json()["detail"]
        caps = httpx.get(f"{url}/capabilities")
        assert caps.status_code == 401
        signed = {TASK_HEADER: signer.sign("eunomia", "capabilities", b"")}
        assert httpx.get(f"{url}/capabilities", headers=signed).json()["node"] == "eunomia"
        assert httpx.get(f"{url}/health").status_code == 200
