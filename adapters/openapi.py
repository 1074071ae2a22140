"""A complete OpenAPI 3.1 document for the hub's and the node's apps.

FastAPI documents what it can see: routes, their parameters, their response models. What
it cannot see, `complete_openapi()` adds, so that a client generated from the document can
call every route:

- request bodies read by hand (`bodies`: path -> method -> pydantic model), with every
  schema they reference in `components/schemas` (pydantic's `$defs` hoisted there);
- the error answers every route may give, as `application/problem+json` (`Problem`):
  400, 413, 415, 422 and 431 where they apply, 404 on routes with path parameters or where
  named, 503 where named; FastAPI's own `HTTPValidationError` is replaced;
- the media types a route answers with, where FastAPI cannot know them (`media`: path ->
  method -> {status: [types]}, e.g. `text/turtle`), replacing FastAPI's guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from hyperfed.adapters.problems import PROBLEM

__all__ = ["PROBLEM_SCHEMA", "complete_openapi"]

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An error (RFC 9457 problem details). `errors` lists each offending JSON "
    "path; `header` names an offending request header.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "message"],
                "properties": {
                    "path": {"type": "string"},
                    "message": {"type": "string"},
                    "value": {},
                    "suggestions": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "header": {"type": "string"},
        "limit": {"type": "integer"},
        "value": {},
        "suggestions": {"type": "array", "items": {"type": "string"}},
    },
}

_DESCRIPTIONS = {
    400: "Malformed request (not UTF-8, not JSON, or JSON outside the limits; names the path)",
    404: "Not found",
    405: "Method not allowed (the Allow header lists the methods)",
    413: "Request body too large",
    415: "Unsupported media type (send Content-Type: application/json)",
    422: "Invalid request (each problem with its JSON path)",
    431: "Request header too large (names the header)",
    503: "The work did not finish within the deadline",
}

_REF = "#/components/schemas/{model}"


def _problem(status: int) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS[status],
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def complete_openapi(
    app: FastAPI,
    bodies: Mapping[str, Mapping[str, type[BaseModel]]] | None = None,
    media: Mapping[str, Mapping[str, Mapping[str, Iterable[str]]]] | None = None,
    not_found: Iterable[str] = (),
    unavailable: Iterable[str] = (),
) -> dict[str, Any]:
    """The app's OpenAPI document, completed (see the module doc)."""
    doc = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version="3.1.0",
        description=app.description,
        routes=app.routes,
    )
    schemas: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    bodies = bodies or {}
    models = sorted({m for ops in bodies.values() for m in ops.values()}, key=lambda m: m.__name__)
    if models:
        _, defs = models_json_schema(
            [(m, "validation") for m in models], by_alias=True, ref_template=_REF
        )
        schemas.update(defs.get("$defs", {}))
    not_found, unavailable = set(not_found), set(unavailable)
    for path, ops in doc.get("paths", {}).items():
        for method, op in ops.items():
            responses = op.setdefault("responses", {})
            model = bodies.get(path, {}).get(method)
            if model is not None:
                op["requestBody"] = {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}
                    },
                }
            statuses = [400, 422, 431]
            if method in ("post", "put", "patch"):
                statuses += [413, 415] if model is not None else [413]
            if "{" in path or path in not_found:
                statuses.append(404)
            if path in unavailable:
                statuses.append(503)
            for code in sorted(statuses):
                responses[str(code)] = _problem(code)
            for status, types in media.get(path, {}).get(method, {}).items() if media else ():
                entry = responses.setdefault(status, {"description": "OK"})
                entry["content"] = {t: {"schema": _media_schema(t)} for t in types}
    return doc


def _media_schema(media_type: str) -> dict[str, Any]:
    if media_type.endswith("json"):
        return {"type": "object"}
    return {"type": "string"}
