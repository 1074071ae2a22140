"""problem+json (RFC 9457): how the hub's and the node's HTTP apps say what went wrong.

Both apps raise `ProblemError`s (or let FastAPI raise its own) and call
`install_problem_handlers(app)`; this module is the one place where an error becomes a
response body. Bodies never carry a count or a data value beyond the offending input.

Errors::

    ProblemError            status 400 unless a subclass says otherwise; `extra` fields
    ├── BadRequest          400 (malformed body: not UTF-8, not JSON, nested too deeply)
    ├── NotFound            404
    └── Invalid             422 with `errors`: one {path, message, value?} per problem
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

__all__ = [
    "PROBLEM",
    "BadRequest",
    "Invalid",
    "NotFound",
    "ProblemError",
    "install_problem_handlers",
    "parse_json",
    "problem",
]

PROBLEM = "application/problem+json"
log = logging.getLogger("hyperfed.http")


class ProblemError(Exception):
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class BadRequest(ProblemError):
    status = 400
    title = "Bad request"


class NotFound(ProblemError):
    status = 404
    title = "Not found"


class Invalid(ProblemError):
    status = 422
    title = "Invalid request"

    def __init__(self, errors: Sequence[dict[str, Any]], title: str | None = None) -> None:
        first = errors[0] if errors else {"path": "$", "message": "invalid request"}
        super().__init__(f"{first['path']}: {first['message']}", errors=list(errors))
        self.custom_title = title or self.title


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def parse_json(raw: bytes) -> Any:
    """The request body as JSON; `BadRequest` for anything that is not (bad UTF-8, not JSON,
    too deep)."""
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the body is not UTF-8 text (byte {exc.start})") from exc
    except RecursionError as exc:
        raise BadRequest("the body is nested too deeply") from exc
    except json.JSONDecodeError as exc:
        raise _Malformed(
            f"the body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc


class _Malformed(BadRequest):
    title = "Malformed JSON"


def _loc_path(loc: Sequence[int | str]) -> str:
    return ".".join(str(x) for x in loc)


def install_problem_handlers(app: FastAPI, service: str = "service") -> None:
    """Turn every error into problem+json: ours, FastAPI's validation errors, HTTP errors
    (404 of unknown routes, 405 ...), and anything unexpected (500, named by type only)."""

    @app.exception_handler(ProblemError)
    async def _ours(_: Request, exc: ProblemError) -> JSONResponse:
        title = exc.custom_title if isinstance(exc, Invalid) else exc.title
        return problem(exc.status, title, exc.detail, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"path": _loc_path(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        detail = f"{errors[0]['path']}: {errors[0]['message']}" if errors else "invalid request"
        return problem(422, "Invalid request", detail, errors=errors)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        response = problem(exc.status_code, str(exc.detail), str(exc.detail))
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in the %s", service)
        return problem(500, "Internal error", f"the {service} failed ({type(exc).__name__})")
