"""The hub's OpenAPI 3.1 document: FastAPI's, completed (`hyperfed.adapters.openapi`) with
the HQL request body of `POST /queries` and every schema it references, its asynchronous
202 answer, the SPARQL request bodies, the Turtle and SPARQL results media types and the
problem+json error answers."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from hyperfed.adapters.hql.model import Query
from hyperfed.adapters.openapi import complete_openapi

__all__ = ["hub_openapi"]

_SPARQL = ["application/sparql-results+json", "text/turtle"]
_OFFLOADED = [
    "/queries",
    "/queries/{job_id}",
    "/audit",
    "/concepts",
    "/concepts/{ref}",
    "/ontology",
]


def hub_openapi(app: FastAPI) -> dict[str, Any]:
    doc = complete_openapi(
        app,
        bodies={"/queries": {"post": Query}},
        media={
            "/ontology": {"get": {"200": ["text/turtle"]}},
            "/ontology/sparql": {"get": {"200": _SPARQL}, "post": {"200": _SPARQL}},
        },
        unavailable=[*_OFFLOADED, "/ontology/sparql"],
    )
    post = doc["paths"]["/queries"]["post"]
    post["summary"] = "Run a feasibility query"
    post["parameters"] = [
        {
            "name": "Prefer",
            "in": "header",
            "required": False,
            "description": "respond-async: answer 202 at once and run the query as a job",
            "schema": {"type": "string", "maxLength": 256},
        },
        {
            "name": "X-Researcher",
            "in": "header",
            "required": False,
            "description": "who asks (recorded in the audit log)",
            "schema": {"type": "string", "maxLength": 256},
        },
    ]
    ok = post["responses"]["200"]
    location = {"Location": {"description": "the job", "schema": {"type": "string"}}}
    ok["headers"] = location
    post["responses"]["202"] = {
        "description": "Accepted: the query runs as a job; poll Location",
        "headers": location,
        "content": ok["content"],
    }
    sparql = doc["paths"]["/ontology/sparql"]["post"]
    sparql["requestBody"] = {
        "required": False,
        "content": {
            "application/sparql-query": {"schema": {"type": "string"}},
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": {"query": {"type": "string"}}}
            },
        },
    }
    sparql["responses"].setdefault("415", sparql["responses"]["413"] | {})
    return doc
