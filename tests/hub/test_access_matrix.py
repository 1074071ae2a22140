"""Roles and rules on the real hub: every route the hub serves x every role gets exactly
the access the issue asks for, over real HTTP with real tokens of each role (service
accounts of the hub's own issuer; a node authenticated by its registered key).

The expected matrix is written out here by hand, not derived from the rule table; a route
the hub serves that is not in it fails the suite (so does a route in it the hub lost).
"Allowed" means the request got past access control (any status but 401/403: a 404 for a
node that does not exist is fine); "denied" means 401 without a token, 403 with one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from joserfc.jwk import OKPKey

from hyperfed.adapters.node.trust import node_assertion, public_jwk, sign_result
from hyperfed.hub.app import create_app
from hyperfed.hub.auth import Principal
from hyperfed.hub.auth.rules import app_routes
from hyperfed.hub.registry import Registration
from hyperfed.hub.settings import HubSettings
from tests.identity import bearer
from tests.servers import free_port, serve

A, R, OP, D, N = "anonymous", "researcher", "operator", "admin", "node"
EVERYONE = {A, R, OP, D, N}
EXPECTED: dict[tuple[str, str], set[str]] = {
    ("GET", "/"): EVERYONE,
    ("GET", "/api"): EVERYONE,
    ("GET", "/health"): EVERYONE,
    ("GET", "/schema/query"): EVERYONE,
    ("GET", "/openapi.json"): EVERYONE,
    ("GET", "/docs"): EVERYONE,
    ("GET", "/docs/oauth2-redirect"): EVERYONE,
    ("GET", "/redoc"): EVERYONE,
    ("GET", "/catalog"): EVERYONE,
    ("GET", "/catalog.{ext}"): EVERYONE,
    ("POST", "/catalog/_validate"): {OP, D},
    ("GET", "/catalog/_status"): {D},
    ("POST", "/catalog/_refresh"): {D},
    ("POST", "/catalog/_refresh/{node}"): {D},
    ("GET", "/catalog/{node}/dataset/{dataset}/datacite"): EVERYONE,
    ("GET", "/catalog/{path:path}"): EVERYONE,
    ("GET", "/services/{name}"): EVERYONE,
    ("GET", "/sparql"): EVERYONE,
    ("POST", "/sparql"): EVERYONE,
    ("GET", "/nodes"): EVERYONE,
    ("GET", "/concepts"): EVERYONE,
    ("GET", "/concepts/{ref:path}"): EVERYONE,
    ("GET", "/ontology"): EVERYONE,
    ("GET", "/ontology/sparql"): EVERYONE,
    ("POST", "/ontology/sparql"): EVERYONE,
    ("GET", "/.well-known/openid-configuration"): EVERYONE,
    ("GET", "/.well-known/oauth-authorization-server"): EVERYONE,
    ("GET", "/oauth/jwks"): EVERYONE,
    ("POST", "/oauth/token"): EVERYONE,
    ("GET", "/oauth/authorize"): EVERYONE,
    ("POST", "/oauth/authorize"): EVERYONE,
    ("POST", "/queries"): {R},
    ("GET", "/queries/{job_id}"): {R, D},
    ("GET", "/audit"): {D},
    ("GET", "/audit/verify"): {D},
    ("GET", "/audit/export"): {D},
    ("GET", "/me"): {R, OP, D},
    ("GET", "/me/queries"): {R},
    ("GET", "/me/budget"): {R},
    ("POST", "/registry/nodes"): {OP, D},
    ("GET", "/registry/nodes"): {OP, D},
    ("GET", "/registry/nodes/{node_id}"): {OP, D},
    ("POST", "/registry/nodes/{node_id}/handshake"): {OP, D},
    ("POST", "/registry/nodes/{node_id}/suspend"): {OP, D},
    ("POST", "/registry/nodes/{node_id}/rekey"): {OP, D},
    ("DELETE", "/registry/nodes/{node_id}"): {OP, D},
    ("POST", "/registry/nodes/{node_id}/approve"): {D},
    ("POST", "/registry/nodes/{node_id}/resume"): {D},
    ("GET", "/admin/principals/{subject}"): {D},
    ("PUT", "/admin/principals/{subject}"): {D},
    ("POST", "/admin/keys/rotate"): {D},
    ("GET", "/pull/{node_id}/tasks"): {N},
    ("POST", "/pull/{node_id}/results/{task_id}"): {N},
}
VALUES = {
    "ref:path": "hf:Person",
    "ext": "ttl",
    "path:path": "nothing-here",
    "node": "n1",
    "dataset": "d1",
    "name": "sparql",
    "job_id": "no-such-job",
    "node_id": "ghost",  # the registry's routes: no such node (404 once past access)
    "subject": "nobody",
    "task_id": "t1",
}
QUERY = {"/pull/{node_id}/tasks": {"wait": "0"}, "/concepts": {"q": "lung"}}
# bodies that reach each route's own checks (a refusal there is not an access decision)
BODIES: dict[tuple[str, str], dict[str, object]] = {
    ("POST", "/oauth/token"): {"data": {"grant_type": "no-such-grant"}},
    ("POST", "/queries"): {"json": {"hql": "1", "criteria": {"concept": "hf:Female"}}},
    ("PUT", "/admin/principals/{subject}"): {"json": {"roles": ["researcher"]}},
}


def _concrete(path: str) -> str:
    if path.startswith("/pull/"):  # the node's own routes: the registered node n1
        path = path.replace("{node_id}", "n1")
    for name, value in VALUES.items():
        path = path.replace("{" + name + "}", value)
    return path


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FastAPI, OKPKey]]:
    base: Path = tmp_path_factory.mktemp("matrix")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = HubSettings(
        database=f"sqlite:///{base / 'hub.db'}", catalog={"base_url": url, "store": None}
    )
    app = create_app(settings)
    node_key = OKPKey.generate_key("Ed25519")
    hub = app.state.hub
    admin = Principal(id="setup", roles=frozenset({"admin"}))
    hub.registry.register(
        admin, Registration(id="n1", mode="pull", public_key=public_jwk(node_key))
    )
    with serve(app, port):
        yield url, app, node_key


def test_every_route_of_the_hub_is_in_the_matrix(hub: tuple[str, FastAPI, OKPKey]) -> None:
    _, app, _ = hub
    served = set(app_routes(app))
    assert served - set(EXPECTED) == set(), "routes without an expected access rule"
    assert set(EXPECTED) - served == set(), "routes the hub no longer serves"


def test_route_by_role_matrix_on_the_real_hub(hub: tuple[str, FastAPI, OKPKey]) -> None:
    url, app, node_key = hub
    store = app.state.hub.store
    headers = {
        A: {},
        R: bearer(url, store, "m-researcher", [R]),
        OP: bearer(url, store, "m-operator", [OP]),
        D: bearer(url, store, "m-admin", [D]),
    }
    wrong: list[tuple[str, str, str, int]] = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for (method, path), allowed in EXPECTED.items():
            for role in sorted(EVERYONE):
                if role == N:  # a fresh assertion each time: each works once
                    h = {
                        "Authorization": f"Bearer {node_assertion(node_key, 'n1', 'hyperfed-hub')}"
                    }
                else:
                    h = dict(headers[role])
                kw: dict[str, object] = dict(BODIES.get((method, path), {}))
                if path.startswith("/pull/") and method == "POST":
                    body = b'{"status": "ok"}'
                    h["Hyperfed-Signature"] = sign_result(node_key, "n1", "t1", 200, body)
                    kw = {"content": body}
                r = client.request(
                    method,
                    _concrete(path),
                    params=QUERY.get(path),
                    headers=h,
                    **kw,  # type: ignore[arg-type]
                )
                denied = r.status_code in (401, 403)
                if role in allowed and denied:
                    wrong.append((method, path, role, r.status_code))
                if role not in allowed and r.status_code != (401 if role == A else 403):
                    wrong.append((method, path, role, r.status_code))
    assert wrong == [], json.dumps(wrong, indent=1)
