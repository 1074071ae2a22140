"""A small hub-like app for the identity tests: a HubStore on SQLite, the built-in issuer,
an external issuer on loopback, `Auth` with the hub's rule table and stub routes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from joserfc.jwk import OKPKey

from hyperfed.adapters.node.trust import public_jwk
from hyperfed.adapters.problems import install_problem_handlers
from hyperfed.hub.auth import IdentitySettings, Principal, ProviderSettings, build_identity
from hyperfed.hub.auth.deps import install_auth_problems
from hyperfed.hub.auth.setup import Identity, create_service_account, create_user, ensure_cli_client
from hyperfed.hub.db import HubStore
from hyperfed.hub.registry import NodeRegistry, Registration
from tests.hub.auth.oidc_issuer import ExternalIssuer
from tests.servers import free_port, serve


@dataclass
class Env:
    hub: str
    store: HubStore
    identity: Identity
    external: ExternalIssuer
    secrets: dict[str, str]  # client id -> secret
    registry: NodeRegistry
    node_key: OKPKey  # of node "n1", registered (pending)

    def token(self, client_id: str) -> str:
        r = httpx.post(
            f"{self.hub}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, self.secrets[client_id]),
        )
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])


def identity_app(identity: Identity, extra_routes: list[tuple[str, str]] = ()) -> FastAPI:  # type: ignore[assignment]
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await identity.aclose()

    app = FastAPI(dependencies=[Depends(identity.auth.guard)], lifespan=lifespan)
    install_problem_handlers(app, "hub")
    install_auth_problems(app)
    app.include_router(identity.router())

    @app.get("/me")
    async def me(who: Principal = Depends(identity.auth.current_principal)) -> dict[str, Any]:
        return {"id": who.id, "roles": sorted(who.roles), "name": who.name}

    for method, path in extra_routes:

        async def stub(request: Request) -> dict[str, Any]:
            return {"ok": True}

        app.add_api_route(path, stub, methods=[method])
    return app


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    base = tmp_path_factory.mktemp("identity")
    store = HubStore(f"sqlite:///{base / 'hub.db'}")
    external = ExternalIssuer()
    with serve(external.app()) as ext_url:
        external.url = ext_url
        port = free_port()
        hub_url = f"http://127.0.0.1:{port}"
        settings = IdentitySettings(
            issuer=hub_url,
            providers=[
                ProviderSettings(
                    issuer=ext_url,
                    audience="hyperfed-hub",
                    roles_claim="realm_access.roles",
                    default_roles=[],
                    role_map={"hf-researcher": "researcher", "hf-admin": "admin"},
                    jwks_min_refresh=0,
                )
            ],
        )
        registry = NodeRegistry(store, "hyperfed-hub")
        identity = build_identity(store, settings, nodes=registry.verify_assertion)
        node_key = OKPKey.generate_key("Ed25519")
        operator = Principal(id="svc-operator", roles=frozenset({"operator"}))
        registry.register(
            operator, Registration(id="n1", mode="pull", public_key=public_jwk(node_key))
        )
        ensure_cli_client(store)
        create_user(store, "alice", ["researcher"], "alice-password", name="Alice")
        secrets = {
            f"svc-{r}": create_service_account(store, f"svc-{r}", [r])
            for r in ("researcher", "operator", "admin")
        }
        with serve(identity_app(identity), port) as url:
            yield Env(url, store, identity, external, secrets, registry, node_key)
    store.close()
