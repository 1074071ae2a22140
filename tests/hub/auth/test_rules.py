"""Roles and rules: every route of the hub has a rule, and a route without one is refused
(fail closed). The route x role matrix on the real hub is tests/hub/test_access_matrix.py."""

from __future__ import annotations

import httpx

from hyperfed.hub.app import create_app
from hyperfed.hub.auth import routes_without_rules
from hyperfed.hub.auth.deps import Auth
from hyperfed.hub.pull import PullTransport, pull_router
from hyperfed.hub.settings import HubSettings
from tests.hub.auth.conftest import Env, identity_app
from tests.servers import serve


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
