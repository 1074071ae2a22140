"""The node registry API over real HTTP on the real hub (`create_app`, served on loopback)
with real OMOP nodes: an operator registers a push node that checks the hub's signature,
the hub shakes hands with it, an admin approves it, researchers' queries reach it; it is
suspended, resumed, re-keyed and removed; another operator cannot touch it; bad
registrations are refused naming the field; every step is in the audit trail under the
right actor and the chain verifies.

Expected values are worked out here: the node's id, the key thumbprints (joserfc), how
many queries the node was part of, which calls the node itself received (counted by a
wrapper around the node app)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey, OKPKey

from hyperfed.adapters.node.guard import require_hub_signature
from hyperfed.adapters.node.trust import TaskVerifier, load_or_create_key, public_jwk
from hyperfed.hub.app import create_app
from hyperfed.hub.settings import HubSettings, NodeEntry
from tests.identity import bearer
from tests.servers import CountCalls, free_port, omop_node_app, serve

GI = {"code": {"system": "http://snomed.info/sct", "code": "74474003"}}
QUERY = {"hql": "1", "as_of": "2020-01-01", "criteria": GI}
NODE = "site-a"
OP1, OP2, ADMIN, RESEARCHER = "op-olga", "op-oscar", "adm-ada", "res-rita"


@dataclass
class Fed:
    hub: str
    node_url: str  # site-a: a push node that checks the hub's signature
    impostor_url: str  # a node that says it is "impostor"
    node: CountCalls
    h: dict[str, dict[str, str]]  # Authorization headers by principal


@pytest.fixture(scope="module")
def fed(eunomia_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fed]:
    base = tmp_path_factory.mktemp("registry-api")
    hub_key = load_or_create_key(base / "hub.key")
    signed = require_hub_signature(
        omop_node_app(eunomia_path, base, NODE), TaskVerifier(public_jwk(hub_key), NODE)
    )
    node = CountCalls(signed)
    with (
        serve(node) as node_url,
        serve(omop_node_app(eunomia_path, base, "impostor")) as impostor_url,
        serve(omop_node_app(eunomia_path, base, "config-node")) as config_url,
    ):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        settings = HubSettings(
            database=f"sqlite:///{base / 'hub.db'}",
            deadline=20,
            identity={"issuer": url},
            signing={"key_file": base / "hub.key"},
            nodes=[NodeEntry(id="config-node", url=config_url)],
        )
        app = create_app(settings)
        store = app.state.hub.store
        with serve(app, port):
            h = {
                OP1: bearer(url, store, OP1, ["operator"]),
                OP2: bearer(url, store, OP2, ["operator"]),
                ADMIN: bearer(url, store, ADMIN, ["admin"]),
                RESEARCHER: bearer(url, store, RESEARCHER, ["researcher"]),
            }
            yield Fed(url, node_url, impostor_url, node, h)


def _reg(node_id: str, url: str | None, key: OKPKey, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": node_id, "model": "omop", "public_key": public_jwk(key)}
    if url is not None:
        doc["url"] = url
    return {**doc, **extra}


def _queried_nodes(fed: Fed, c: httpx.Client) -> dict[str, dict[str, Any]]:
    r = c.post("/queries", json=QUERY, headers=fed.h[RESEARCHER])
    assert r.status_code == 200, r.text
    return {n["node"]: n for n in r.json()["nodes"]}


def _listed(fed: Fed, c: httpx.Client) -> dict[str, dict[str, Any]]:
    r = c.get("/nodes")
    assert r.status_code == 200, r.text
    return {n["id"]: n for n in r.json()}


def _audit(fed: Fed, c: httpx.Client) -> list[dict[str, Any]]:
    r = c.get("/audit/export", headers=fed.h[ADMIN])
    assert r.status_code == 200, r.text
    lines = [json.loads(line) for line in r.text.splitlines() if line.strip()]
    return [json.loads(line["body"]) for line in lines]


def test_the_life_of_a_registered_node(fed: Fed) -> None:
    key = OKPKey.generate_key("Ed25519")
    op, admin = fed.h[OP1], fed.h[ADMIN]
    with httpx.Client(base_url=fed.hub, timeout=60) as c:
        r = c.post(
            "/registry/nodes", json=_reg(NODE, fed.node_url, key, title="Site A"), headers=op
        )
        assert r.status_code == 201, r.text
        node = r.json()
        assert (node["id"], node["status"], node["owner"]) == (NODE, "pending", OP1)
        assert (node["model"], node["mode"], node["url"]) == ("omop", "push", fed.node_url)
        assert node["public_key"]["x"] == public_jwk(key)["x"]
        assert node["public_key"]["kid"] == key.thumbprint() and node["key_version"] == 1

        # pending: not queried, not listed
        assert NODE not in _queried_nodes(fed, c)
        assert NODE not in _listed(fed, c)
        assert fed.node.count() == 0, "a pending node got a count task"

        # approval needs a handshake first; only admins approve
        r = c.post(f"/registry/nodes/{NODE}/approve", headers=admin)
        assert r.status_code == 422 and "handshake" in r.json()["detail"], r.text
        r = c.post(f"/registry/nodes/{NODE}/handshake", headers=op)
        assert r.status_code == 200, r.text
        caps = r.json()["capabilities"]
        assert caps["node"] == NODE and caps["model"] == "omop"
        assert c.get(f"/registry/nodes/{NODE}", headers=op).json()["capabilities"] == caps
        assert fed.node.count("/capabilities") >= 1  # the handshake reached the node
        r = c.post(f"/registry/nodes/{NODE}/approve", headers=op)
        assert r.status_code == 403, r.text
        assert c.get(f"/registry/nodes/{NODE}", headers=op).json()["status"] == "pending"
        r = c.post(f"/registry/nodes/{NODE}/approve", headers=admin)
        assert r.status_code == 200 and r.json()["status"] == "approved", r.text

        # approved: listed (no calls yet), queried, answers ok, health counted
        listed = _listed(fed, c)[NODE]
        assert listed["source"] == "registry" and _listed(fed, c)["config-node"]["source"] == (
            "config"
        )
        assert listed["health"]["calls"] == 0 and listed["health"]["last_seen"] is None
        answers = _queried_nodes(fed, c)
        assert answers[NODE]["status"] == "ok", answers
        assert isinstance(answers[NODE]["count"], int) and answers[NODE]["count"] > 0
        assert fed.node.count() == 1
        health = _listed(fed, c)[NODE]["health"]
        assert health["calls"] == 1 and health["errors"] == 0, health
        assert health["last_seen"] is not None and health["latency_ms"] is not None

        # suspended: not queried, not listed; operators cannot resume, admins can
        r = c.post(f"/registry/nodes/{NODE}/suspend", json={"reason": "maintenance"}, headers=op)
        assert r.status_code == 200 and r.json()["status"] == "suspended", r.text
        assert NODE not in _queried_nodes(fed, c) and NODE not in _listed(fed, c)
        assert fed.node.count() == 1, "a suspended node got a count task"
        assert c.post(f"/registry/nodes/{NODE}/resume", headers=op).status_code == 403
        r = c.post(f"/registry/nodes/{NODE}/resume", headers=admin)
        assert r.status_code == 200 and r.json()["status"] == "approved", r.text
        assert _queried_nodes(fed, c)[NODE]["status"] == "ok"
        assert fed.node.count() == 2
        assert _listed(fed, c)[NODE]["health"]["calls"] == 2

        # re-key: a new key, version 2
        new_key = OKPKey.generate_key("Ed25519")
        r = c.post(
            f"/registry/nodes/{NODE}/rekey", json={"public_key": public_jwk(new_key)}, headers=op
        )
        assert r.status_code == 200, r.text
        rekeyed = r.json()
        assert rekeyed["key_version"] == 2
        assert rekeyed["public_key"]["x"] == public_jwk(new_key)["x"] != public_jwk(key)["x"]
        assert rekeyed["public_key"]["kid"] == new_key.thumbprint()

        # removed
        assert c.delete(f"/registry/nodes/{NODE}", headers=op).status_code == 204
        assert c.get(f"/registry/nodes/{NODE}", headers=op).status_code == 404
        assert c.delete(f"/registry/nodes/{NODE}", headers=op).status_code == 404
        assert NODE not in _queried_nodes(fed, c) and NODE not in _listed(fed, c)
        assert fed.node.count() == 2

        # every step in the audit trail, by the right actor, in order
        steps = [
            (b["kind"], b["actor"])
            for b in _audit(fed, c)
            if b["kind"].startswith(("registration", "node.")) and b["data"].get("node") == NODE
        ]
        assert steps == [
            ("registration", OP1),
            ("node.handshake", OP1),
            ("node.approve", ADMIN),
            ("node.suspend", OP1),
            ("node.resume", ADMIN),
            ("node.rekey", OP1),
            ("node.remove", OP1),
        ]
        records = {b["kind"]: b for b in _audit(fed, c) if b["data"].get("node") == NODE}
        assert records["registration"]["data"]["key"] == key.thumbprint()
        assert records["node.rekey"]["data"]["key"] == new_key.thumbprint()
        assert records["node.suspend"]["data"]["reason"] == "maintenance"
        r = c.get("/audit/verify", headers=admin)
        assert r.status_code == 200 and r.json()["ok"] is True, r.text


def test_a_node_that_names_another_id_fails_the_handshake(fed: Fed) -> None:
    key = OKPKey.generate_key("Ed25519")
    with httpx.Client(base_url=fed.hub, timeout=60) as c:
        r = c.post(
            "/registry/nodes", json=_reg("site-x", fed.impostor_url, key), headers=fed.h[OP1]
        )
        assert r.status_code == 201, r.text
        r = c.post("/registry/nodes/site-x/handshake", headers=fed.h[OP1])
        assert r.status_code == 502, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "'impostor'" in r.json()["detail"] and "site-x" in r.json()["detail"]
        row = c.get("/registry/nodes/site-x", headers=fed.h[OP1]).json()
        assert row["capabilities"] is None and row["status"] == "pending"
        assert c.post("/registry/nodes/site-x/approve", headers=fed.h[ADMIN]).status_code == 422
        assert c.delete("/registry/nodes/site-x", headers=fed.h[OP1]).status_code == 204


def test_operators_touch_only_their_own_nodes(fed: Fed) -> None:
    mine, theirs = OKPKey.generate_key("Ed25519"), OKPKey.generate_key("Ed25519")
    op1, op2, admin = fed.h[OP1], fed.h[OP2], fed.h[ADMIN]
    with httpx.Client(base_url=fed.hub, timeout=60) as c:
        r = c.post("/registry/nodes", json=_reg("olga-1", fed.node_url, mine), headers=op1)
        assert r.status_code == 201, r.text
        r = c.post("/registry/nodes", json=_reg("oscar-1", None, theirs, mode="pull"), headers=op2)
        assert r.status_code == 201, r.text
        other_key = {"public_key": public_jwk(OKPKey.generate_key("Ed25519"))}
        for method, path, body in [
            ("GET", "/registry/nodes/olga-1", None),
            ("POST", "/registry/nodes/olga-1/handshake", None),
            ("POST", "/registry/nodes/olga-1/approve", None),
            ("POST", "/registry/nodes/olga-1/suspend", {"reason": "mine now"}),
            ("POST", "/registry/nodes/olga-1/resume", None),
            ("POST", "/registry/nodes/olga-1/rekey", other_key),
            ("DELETE", "/registry/nodes/olga-1", None),
        ]:
            r = c.request(method, path, json=body, headers=op2)
            assert r.status_code == 403, (method, path, r.text)
        row = c.get("/registry/nodes/olga-1", headers=op1).json()
        assert (row["status"], row["key_version"], row["owner"]) == ("pending", 1, OP1)
        assert row["public_key"]["x"] == public_jwk(mine)["x"]

        def ids(headers: dict[str, str]) -> set[str]:
            r = c.get("/registry/nodes", headers=headers)
            assert r.status_code == 200, r.text
            return {n["id"] for n in r.json()}

        assert "olga-1" in ids(op1) and "oscar-1" not in ids(op1)
        assert "oscar-1" in ids(op2) and "olga-1" not in ids(op2)
        assert {"olga-1", "oscar-1"} <= ids(admin)
        assert c.get("/registry/nodes", headers=fed.h[RESEARCHER]).status_code == 403
        assert c.get("/registry/nodes").status_code == 401

        # taken ids: a registered node's, a config-file node's
        r = c.post("/registry/nodes", json=_reg("olga-1", fed.node_url, theirs), headers=op2)
        assert r.status_code == 409 and "olga-1" in r.json()["detail"], r.text
        r = c.post("/registry/nodes", json=_reg("config-node", fed.node_url, theirs), headers=op2)
        assert r.status_code == 409 and "config-node" in r.json()["detail"], r.text
        assert c.get("/registry/nodes/config-node", headers=admin).status_code == 404
        for node_id, headers in (("olga-1", op1), ("oscar-1", op2)):
            assert c.delete(f"/registry/nodes/{node_id}", headers=headers).status_code == 204


def test_bad_registrations_are_refused_naming_the_field(fed: Fed) -> None:
    key = OKPKey.generate_key("Ed25519")
    private = key.as_dict(private=True)
    x25519 = OKPKey.generate_key("X25519").as_dict(private=False)
    ec = ECKey.generate_key("P-256").as_dict(private=False)
    cases: list[tuple[dict[str, Any], str, str]] = [
        (_reg("bad-1", None, key), "url", "push node needs"),
        (_reg("bad-2", "http://127.0.0.1:9", key, mode="pull"), "url", "pull node has no URL"),
        ({**_reg("bad-3", None, key, mode="pull"), "public_key": private}, "public_key", "'d'"),
        ({**_reg("bad-4", None, key, mode="pull"), "public_key": x25519}, "public_key", "Ed25519"),
        ({**_reg("bad-5", None, key, mode="pull"), "public_key": ec}, "public_key", "Ed25519"),
        (_reg("bad-6", None, key, mode="pull", model="fhirx"), "model", "'fhirx'"),
        (_reg("../etc", None, key, mode="pull"), "id", "pattern"),
    ]
    with httpx.Client(base_url=fed.hub, timeout=60) as c:
        for doc, field, fragment in cases:
            r = c.post("/registry/nodes", json=doc, headers=fed.h[OP1])
            assert r.status_code == 422, (doc, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            detail = r.json()["detail"]
            assert field in detail and fragment in detail, (field, fragment, detail)
        listed = {n["id"] for n in c.get("/registry/nodes", headers=fed.h[ADMIN]).json()}
        assert not {d["id"] for d, _, _ in cases} & listed
        audited = [b for b in _audit(fed, c) if str(b["data"].get("node", "")).startswith("bad-")]
        assert audited == [], "a refused registration was audited as made"


def test_a_rekey_with_a_bad_key_is_refused_naming_the_field(fed: Fed) -> None:
    key = OKPKey.generate_key("Ed25519")
    op = fed.h[OP1]
    with httpx.Client(base_url=fed.hub, timeout=60) as c:
        r = c.post("/registry/nodes", json=_reg("rekey-1", None, key, mode="pull"), headers=op)
        assert r.status_code == 201, r.text
        for bad, fragment in [
            (OKPKey.generate_key("Ed25519").as_dict(private=True), "'d'"),
            (ECKey.generate_key("P-256").as_dict(private=False), "Ed25519"),
            (OKPKey.generate_key("X25519").as_dict(private=False), "Ed25519"),
        ]:
            r = c.post("/registry/nodes/rekey-1/rekey", json={"public_key": bad}, headers=op)
            assert r.status_code == 422, (bad, r.text)
            detail = r.json()["detail"]
            assert "public_key" in detail and fragment in detail, detail
        row = c.get("/registry/nodes/rekey-1", headers=op).json()
        assert row["key_version"] == 1 and row["public_key"]["x"] == public_jwk(key)["x"]
        rekeys = [
            b
            for b in _audit(fed, c)
            if b["kind"] == "node.rekey" and b["data"]["node"] == "rekey-1"
        ]
        assert rekeys == []
        assert c.delete("/registry/nodes/rekey-1", headers=op).status_code == 204
