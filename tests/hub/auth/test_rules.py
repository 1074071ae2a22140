"""Roles and rules: every route of the hub has a rule, and route x role gets exactly the
access the issue asks for (the expected matrix is written out here by hand, not derived
from the rule table), over real HTTP with real tokens of each role."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from hyperfed.adapters.node.trust import node_assertion
from hyperfed.hub.app import create_app
from hyperfed.hub.auth import HUB_RULES, routes_without_rules
from hyperfed.hub.auth.deps import Auth
from hyperfed.hub.pull import PullTransport, pull_router
from hyperfed.hub.settings import HubSettings
from tests.hub.auth.conftest import Env, identity_app
from tests.servers import serve

A, R, OP, D, N = "anonymous", "researcher", "operator", "admin", "node"
EVERYONE = {A, R, OP, D, N}
EXPECTED: dict[tuple[str, str], set[str]] = {
    ("GET", "/"): EVERYONE,
    ("GET", "/api"): EVERYONE,
    ("GET", "/catalog"): EVERYONE,
    ("GET", "/catalog.{ext}"): EVERYONE,
    # (the stubs are routed in this order: the catch-all after the specific routes)
    ("POST", "/catalog/_validate"): {OP, D},
    ("GET", "/catalog/_status"): {D},
    ("POST", "/catalog/_refresh"): {D},
    ("POST", "/catalog/_refresh/{node}"): {D},
    ("GET", "/catalog/{node}/dataset/{dataset}/datacite"): EVERYONE,
    ("GET", "/catalog/{path:path}"): EVERYONE,
    ("GET", "/services/{name}"): EVERYONE,
    ("GET", "/sparql"): EVERYONE,
    ("POST", "/sparql"): EVERYONE,
    ("GET", "/health"): EVERYONE,
    ("GET", "/schema/query"): EVERYONE,
    ("GET", "/nodes"): EVERYONE,
    ("GET", "/concepts"): EVERYONE,
    ("GET", "/concepts/{ref:path}"): EVERYONE,
    ("GET", "/ontology"): EVERYONE,
    ("GET", "/ontology/sparql"): EVERYONE,
    ("POST", "/ontology/sparql"): EVERYONE,
    ("POST", "/queries"): {R},
    ("GET", "/queries/{job_id}"): {R, D},
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
    ("GET", "/audit"): {D},
    ("GET", "/audit/verify"): {D},
    ("GET", "/audit/export"): {D},
    ("GET", "/pull/{node_id}/tasks"): {N},
    ("POST", "/pull/{node_id}/results/{task_id}"): {N},
}


def test_every_route_of_the_hub_has_a_rule() -> None:
    app = create_app(HubSettings())
    transport = PullTransport(None, 5.0)
    app.include_router(pull_router(transport, Auth(None), None))
    assert routes_without_rules(app) == []


def test_a_route_without_a_rule_is_found_and_refused(env: Env) -> None:
    app = identity_app(env.identity, [("GET", "/forgotten")])
    assert routes_without_rules(app) == [("GET", "/forgotten")]
    with serve(app) as url:
        token = env.token("svc-admin")
        r = httpx.get(f"{url}/forgotten", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403 and "no access rule" in r.json()["detail"]


@pytest.fixture(scope="module")
def matrix_app(env: Env) -> FastAPI:
    stubs = [r for r in EXPECTED if r != ("GET", "/me")]
    return identity_app(env.identity, stubs)


def _tokens(env: Env) -> dict[str, str | None]:
    return {
        A: None,
        R: env.token("svc-researcher"),
        OP: env.token("svc-operator"),
        D: env.token("svc-admin"),
        N: "",  # a fresh node assertion per request (each works once)
    }


def test_route_by_role_matrix(env: Env, matrix_app: FastAPI) -> None:
    assert set(EXPECTED) <= set(HUB_RULES)
    tokens = _tokens(env)
    with serve(matrix_app) as url, httpx.Client(base_url=url) as client:
        for (method, path), allowed in EXPECTED.items():
            concrete = path.replace("{ref:path}", "hf:Person").replace("{", "").replace("}", "")
            for role, token in tokens.items():
                if role == N:
                    token = node_assertion(env.node_key, "n1", "hyperfed-hub")
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                status = client.request(method, concrete, headers=headers).status_code
                if role in allowed:
                    assert status == 200, (method, path, role, status)
                else:
                    want = 401 if role == A else 403
                    assert status == want, (method, path, role, status)
