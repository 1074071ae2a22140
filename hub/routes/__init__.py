"""The hub's HTTP routes, one router module per area; `create_app` includes them. Who may
call each is the rule table's (`hyperfed.hub.auth.rules.HUB_RULES`), checked for every
route by the app's guard.

meta       GET /api (the JSON index), /health, /schema/query
queries    POST /queries, GET /queries/{id}; GET /audit, /audit/verify, /audit/export
nodes      GET /nodes (config and approved registered nodes, live capabilities, health)
ontology   GET /concepts, /concepts/{ref}, /ontology; GET|POST /ontology/sparql
me         GET /me, /me/queries, /me/budget
registry   /registry/nodes... (register, handshake, approve, suspend, resume, rekey, remove)
admin      GET|PUT /admin/principals/{subject}, POST /admin/keys/rotate

Mounted by `create_app` from other packages: the catalogue (`/`, `/catalog...`,
`/services/...`, `/sparql`: `hyperfed.catalog.catalog_router`), the built-in issuer
(`/.well-known/...`, `/oauth/...`: `hyperfed.hub.auth.issuer`) and the pull endpoints
(`/pull/{node}/...`: `hyperfed.hub.pull.pull_router`).
"""

from hyperfed.hub.routes import admin, me, meta, nodes, ontology, queries, registry

ROUTERS = (
    meta.router,
    queries.router,
    nodes.router,
    ontology.router,
    me.router,
    registry.router,
    admin.router,
)

__all__ = ["ROUTERS"]
