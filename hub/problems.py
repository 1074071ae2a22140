"""The one place where errors become HTTP problem+json (RFC 9457) responses.

Errors::

    HubError
    ├── NotFound      404
    └── BadRequest    400
    QueryRejected     422, `errors` lists each JSON path, message and value
    UnknownConcept    404 (concept look-up) with close matches
    JSONDecodeError   400
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from hyperfed.hub.prepare import QueryRejected
from hyperfed.ontology import OntologyError, UnknownConcept

__all__ = [
    "BadRequest",
    "HubError",
    "NotFound",
    "install_problem_handlers",
    "parse_json",
    "problem",
]

log = logging.getLogger("hyperfed.hub")
PROBLEM = "application/problem+json"


def parse_json(raw: bytes) -> Any:
    """The request body as JSON; BadRequest for anything that is not (bad UTF-8, too deep)."""
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the body is not UTF-8 text (byte {exc.start})") from exc
    except RecursionError as exc:
        raise BadRequest("the body is nested too deeply") from exc


class HubError(Exception):
    status = 400
    title = "Bad request"


class NotFound(HubError):
    status = 404
    title = "Not found"


class BadRequest(HubError):
    status = 400
    title = "Bad request"


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(QueryRejected)
    async def _rejected(_: Request, exc: QueryRejected) -> JSONResponse:
        first = exc.problems[0]
        return problem(
            422, "Invalid query", f"{first['path']}: {first['message']}", errors=exc.problems
        )

    @app.exception_handler(UnknownConcept)
    async def _unknown(_: Request, exc: UnknownConcept) -> JSONResponse:
        return problem(
            404, "Unknown concept", str(exc), value=exc.ref, suggestions=list(exc.suggestions)
        )

    @app.exception_handler(OntologyError)
    async def _ontology(_: Request, exc: OntologyError) -> JSONResponse:
        return problem(400, "Ontology request failed", str(exc))

    @app.exception_handler(json.JSONDecodeError)
    async def _json(_: Request, exc: json.JSONDecodeError) -> JSONResponse:
        return problem(
            400,
            "Malformed JSON",
            f"the body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        )

    @app.exception_handler(HubError)
    async def _hub(_: Request, exc: HubError) -> JSONResponse:
        return problem(exc.status, exc.title, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"path": ".".join(str(x) for x in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        detail = f"{errors[0]['path']}: {errors[0]['message']}" if errors else "invalid request"
        return problem(422, "Invalid request", detail, errors=errors)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), str(exc.detail))

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem(500, "Internal error", f"the hub failed ({type(exc).__name__})")
