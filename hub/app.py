"""The hub's HTTP API (FastAPI). `create_app(settings)` only assembles: the hub's state
(`hyperfed.hub.state.Hub`, injected into the routes), the access guard (every route
checked against the rule table `hyperfed.hub.auth.rules.HUB_RULES`: a route without a
rule is refused), the problem+json handlers (401/403/429 with their headers), the request
guard (bodies and headers bounded before a route reads them), one router per area
(`hyperfed.hub.routes`), the built-in OAuth2/OIDC issuer, the pull endpoints for nodes
behind firewalls, the FAIR catalogue (`hyperfed.catalog.catalog_router`: the FAIR Data
Point root at `/`, `/catalog...`, `/services/...`, `/sparql`) and the completed OpenAPI
document (`hyperfed.hub.openapi`). The hub's JSON index is at `/api`. There are no
import-time singletons."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI

from hyperfed.adapters.guard import RequestGuard
from hyperfed.adapters.limits import MAX_BODY_BYTES, MAX_SPARQL_BODY_BYTES
from hyperfed.catalog import catalog_router
from hyperfed.hub.auth import install_auth_problems
from hyperfed.hub.openapi import hub_openapi
from hyperfed.hub.problems import install_hub_problems
from hyperfed.hub.pull import pull_router
from hyperfed.hub.routes import ROUTERS
from hyperfed.hub.settings import HubSettings
from hyperfed.hub.state import Hub
from hyperfed.hub.transport import Transport
from hyperfed.ontology import Ontology

__all__ = ["create_app"]


def create_app(
    settings: HubSettings, ontology: Ontology | None = None, transport: Transport | None = None
) -> FastAPI:
    hub = Hub(settings, ontology, transport)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await hub.start()
        try:
            yield
        finally:
            await hub.stop()

    app = FastAPI(
        title=settings.title,
        version="0.1.0",
        lifespan=lifespan,
        description="Hyperfed hub: federated feasibility queries with protected counts.",
        dependencies=[Depends(hub.identity.auth.guard)],
    )
    app.state.hub = hub
    install_hub_problems(app)
    install_auth_problems(app)
    app.add_middleware(
        RequestGuard,
        max_body=MAX_BODY_BYTES,
        body_limits={"/ontology/sparql": MAX_SPARQL_BODY_BYTES, "/sparql": MAX_SPARQL_BODY_BYTES},
    )
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(hub.identity.router(settings.title))
    # with sign-in off (closed test setups) pulled answers are not signed either
    node_key = hub.registry.public_key if settings.identity.enabled else None
    app.include_router(pull_router(hub.pull, hub.identity.auth, node_key, audit=hub.store.append))
    app.include_router(catalog_router(hub.catalog, refresher=hub.refresher))

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = hub_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
