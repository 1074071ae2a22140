"""The hub's HTTP routes, one router module per area; `create_app` includes them.

meta       GET /api (the JSON index), /health, /schema/query
queries    POST /queries, GET /queries/{id}, GET /audit
nodes      GET /nodes
ontology   GET /concepts, /concepts/{ref}, /ontology; GET|POST /ontology/sparql

The catalogue's routes (`/`, `/catalog...`, `/services/...`, `/sparql`) come from
`hyperfed.catalog.catalog_router`, mounted by `create_app`.
"""

from hyperfed.hub.routes import meta, nodes, ontology, queries

ROUTERS = (meta.router, queries.router, nodes.router, ontology.router)

__all__ = ["ROUTERS"]
