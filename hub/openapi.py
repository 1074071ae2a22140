"""The hub's OpenAPI 3.1 document: FastAPI's, completed (`hyperfed.adapters.openapi`) with
the HQL request body of `POST /queries` and every schema it references, its asynchronous
202 answer, the SPARQL request bodies, the Turtle and SPARQL results media types and the
problem+json error answers; for the catalogue's routes, the RDF formats each document is
served in (content negotiation), 406 when none is acceptable, and 503 where a node fetch
or a SPARQL worker can be unavailable."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from hyperfed.adapters.hql.model import Query
from hyperfed.adapters.openapi import complete_openapi

__all__ = ["hub_openapi"]

_PROBLEM_REF = "#/components/schemas/Problem"

_SPARQL = ["application/sparql-results+json", "text/turtle"]
_RDF = [
    "text/turtle",
    "application/ld+json",
    "application/rdf+xml",
    "application/n-triples",
    "text/html",
]
_NEGOTIATED = ["/", "/catalog"]
_CATALOGUE_503 = ["/catalog/_refresh", "/catalog/_refresh/{node}", "/sparql"]
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
            "/sparql": {"get": {"200": _SPARQL}, "post": {"200": _SPARQL}},
            "/catalog/{node}/dataset/{dataset}/datacite": {
                "get": {"200": ["application/vnd.api+json"]}
            },
            "/audit/export": {"get": {"200": ["application/jsonl"]}},
            **{path: {"get": {"200": _RDF}} for path in _NEGOTIATED},
        },
        not_found=["/catalog"],
        unavailable=[*_OFFLOADED, "/ontology/sparql", *_CATALOGUE_503],
    )
    for path in _NEGOTIATED:
        op = doc["paths"][path]["get"]
        op["responses"]["406"] = {
            "description": "No acceptable format (Accept admits none of the RDF formats)",
            "content": {"application/problem+json": {"schema": {"$ref": _PROBLEM_REF}}},
        }
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
    ]
    ok = post["responses"]["200"]
    location = {"Location": {"description": "the job", "schema": {"type": "string"}}}
    ok["headers"] = location
    post["responses"]["202"] = {
        "description": "Accepted: the query runs as a job; poll Location",
        "headers": location,
        "content": ok["content"],
    }
    _security(doc)
    _identity(doc)
    tasks = doc["paths"].get("/pull/{node_id}/tasks", {}).get("get")
    if tasks is not None:
        tasks["responses"]["204"] = {"description": "No task for the node within `wait` seconds"}
    result = doc["paths"].get("/pull/{node_id}/results/{task_id}", {}).get("post")
    if result is not None:
        result["responses"]["204"] = {"description": "Accepted: the answer reaches the query"}
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


def _refusal(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": _PROBLEM_REF}}},
    }
    if headers:
        answer["headers"] = headers
    return answer


_UNAUTHORIZED = _refusal(
    "Unauthorized: no token, or one that is expired, forged or of an untrusted issuer",
    {"WWW-Authenticate": {"description": "the Bearer challenge", "schema": {"type": "string"}}},
)
_FORBIDDEN = _refusal("Forbidden: signed in, but without a role this route needs")
_TOO_MANY = _refusal(
    "Too many queries: a budget of the researcher is used up",
    {"Retry-After": {"description": "seconds until it frees up", "schema": {"type": "string"}}},
)


def _security(doc: dict[str, Any]) -> None:
    """Bearer tokens of the hub's issuer (or a trusted external provider) on every route
    that needs a role, by the rule table, with their refusals (401, 403; 429 where a
    budget applies); public routes have none."""
    from hyperfed.hub.auth.rules import HUB_RULES

    schemes = doc.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "an access token: `hyperfed token --hub URL`, or POST /oauth/token",
    }
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            roles = HUB_RULES.get((method.upper(), path))
            if roles is not None and "anonymous" not in roles:
                operation["security"] = [{"bearer": []}]
                responses = operation.setdefault("responses", {})
                responses.setdefault("401", _UNAUTHORIZED)
                responses.setdefault("403", _FORBIDDEN)
                if (method.upper(), path) == ("POST", "/queries"):
                    responses.setdefault("429", _TOO_MANY)
                operation.setdefault("description", "")
                operation["description"] = (
                    f"{operation['description']}\n\nRoles: {', '.join(sorted(roles))}."
                ).strip()


_OAUTH_ERROR = {
    "type": "object",
    "description": "An OAuth 2.0 error (RFC 6749 section 5.2)",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}


def _answer(description: str, content: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": content}


def _identity(doc: dict[str, Any]) -> None:
    """The built-in issuer's endpoints answer as OAuth 2.0 says, not in problem+json: the
    token endpoint's errors are OAuth error objects (400, 401 for a wrong client), the
    sign-in page is HTML (400 for an invalid sign-in link, 401 for a wrong password, 302 to
    the client with the code); the request guard's refusals stay problem+json."""
    paths = doc.get("paths", {})
    problem = {"application/problem+json": {"schema": {"$ref": _PROBLEM_REF}}}
    html = {"text/html": {"schema": {"type": "string"}}}
    token = paths.get("/oauth/token", {}).get("post")
    if token is not None:
        oauth = {"application/json": {"schema": _OAUTH_ERROR}}
        token["responses"]["200"]["content"] = {"application/json": {"schema": {"type": "object"}}}
        token["responses"]["400"] = _answer("Invalid request or grant", oauth | problem)
        token["responses"]["401"] = _answer("Unknown client or wrong secret", oauth)
    for method in ("get", "post"):
        page = paths.get("/oauth/authorize", {}).get(method)
        if page is None:
            continue
        page["responses"]["200"]["content"] = html
        page["responses"]["400"] = _answer("Invalid sign-in link", html | problem)
        if method == "post":
            page["responses"]["401"] = _answer("Wrong user name or password", html)
            page["responses"]["302"] = {
                "description": "Signed in: back to the client with the code",
                "headers": {"Location": {"schema": {"type": "string"}}},
            }
