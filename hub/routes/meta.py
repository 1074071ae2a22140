"""What the hub is: its JSON index (`/api`; the root `/` is the catalogue's FAIR Data
Point), health and the query language's JSON Schema."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from hyperfed.adapters.hql.model import Query as HqlQuery
from hyperfed.hub.state import HubDep

__all__ = ["router"]

router = APIRouter()


@router.get("/api")
async def index(hub: HubDep) -> dict[str, Any]:
    return {
        "title": hub.settings.title,
        "ontology_version": hub.ontology.version,
        "links": {
            "queries": "/queries",
            "schema": "/schema/query",
            "nodes": "/nodes",
            "concepts": "/concepts",
            "ontology": "/ontology",
            "ontology_sparql": "/ontology/sparql",
            "catalog": "/catalog",
            "sparql": "/sparql",
            "fair_data_point": "/",
            "me": "/me",
            "my_queries": "/me/queries",
            "my_budget": "/me/budget",
            "registry": "/registry/nodes",
            "audit": "/audit",
            "openid_configuration": "/.well-known/openid-configuration",
            "token": "/oauth/token",
            "docs": "/docs",
        },
    }


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/schema/query")
async def query_schema() -> dict[str, Any]:
    schema = HqlQuery.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://w3id.org/hyperfed/hql/1"
    return schema
