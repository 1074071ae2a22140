"""problem+json (RFC 9457): how the hub's and the node's HTTP apps say what went wrong.

Both apps raise `ProblemError`s (or let FastAPI raise its own) and call
`install_problem_handlers(app)`; this module is the one place where an error becomes a
response body. Bodies never carry a count or a data value beyond the offending input, and
always encode (a lone surrogate in the input becomes U+FFFD in the answer).

It also reads request bodies, for both apps: `require_json()` wants `Content-Type:
application/json`, and `parse_json()` parses strictly: I-JSON (RFC 7493) within the limits
of `hyperfed.adapters.limits` — no duplicate keys, no NaN/Infinity or numbers that overflow,
integers within 2^53, strings without lone surrogates and not too long, not nested too
deeply. Each refusal names the JSON path.

Errors::

    ProblemError            status 400 unless a subclass says otherwise; `extra` fields
    ├── BadRequest          400 (malformed body: not UTF-8, not JSON)
    │   └── BadJson         400 "Invalid JSON": JSON outside the limits, `errors` with paths
    ├── NotFound            404
    ├── Conflict            409 (a name that is taken)
    ├── TooLarge            413 (a body over its limit)
    ├── UnsupportedMedia    415 (a JSON route without Content-Type: application/json)
    ├── HeaderTooLarge      431 (a header over its limit; `header` names it)
    ├── Unavailable         503 (the work did not finish within the request's deadline)
    └── Invalid             422 with `errors`: one {path, message, value?} per problem
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from hyperfed.adapters import limits

__all__ = [
    "PROBLEM",
    "BadJson",
    "BadRequest",
    "Conflict",
    "HeaderTooLarge",
    "Invalid",
    "NotFound",
    "ProblemError",
    "TooLarge",
    "Unavailable",
    "UnsupportedMedia",
    "install_problem_handlers",
    "json_media_type",
    "parse_json",
    "problem",
    "require_json",
    "scrub",
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


class Conflict(ProblemError):
    status = 409
    title = "Conflict"


class TooLarge(ProblemError):
    status = 413
    title = "Request body too large"


class UnsupportedMedia(ProblemError):
    status = 415
    title = "Unsupported media type"


class HeaderTooLarge(ProblemError):
    status = 431
    title = "Request header too large"


class Unavailable(ProblemError):
    status = 503
    title = "Service unavailable"


class Invalid(ProblemError):
    status = 422
    title = "Invalid request"

    def __init__(self, errors: Sequence[dict[str, Any]], title: str | None = None) -> None:
        first = errors[0] if errors else {"path": "$", "message": "invalid request"}
        super().__init__(f"{first['path']}: {first['message']}", errors=list(errors))
        self.custom_title = title or self.title


_SURROGATE = re.compile("[\ud800-\udfff]")


def scrub(value: Any) -> Any:
    """`value` with every lone surrogate in its strings (keys too) replaced by U+FFFD, so
    that it encodes as UTF-8 (a problem body echoes what it refuses)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def problem(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(scrub(body), status_code=status, media_type=PROBLEM, headers=headers)


class BadJson(BadRequest):
    """JSON outside the limits; `errors` names the path of each problem found."""

    title = "Invalid JSON"

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}", errors=[{"path": path, "message": message}])


class _Malformed(BadRequest):
    title = "Malformed JSON"


class _Refused:
    """A parsed value the limits refuse, found (with its path) by the walk after parsing."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


class _Pairs(dict[str, Any]):
    """An object with a key given twice (`duplicate`)."""

    duplicate: str = ""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            dup = _Pairs(out)
            dup.duplicate = key
            return dup
        out[key] = value
    return out


def _constant(name: str) -> _Refused:
    return _Refused(f"{name} is not a number JSON allows (RFC 8259)")


def _int(text: str) -> int | _Refused:
    digits = len(text.lstrip("-"))
    if digits <= 16:
        value = int(text)
        if abs(value) <= limits.MAX_INT:
            return value
    shown = text if digits <= 24 else f"an integer of {digits:,} digits"
    return _Refused(f"{shown} is out of range: integers are at most 2^53 - 1 in magnitude")


def _float(text: str) -> float | _Refused:
    value = float(text)
    if math.isfinite(value):
        return value
    shown = text if len(text) <= 24 else f"a number of {len(text):,} characters"
    return _Refused(f"{shown} is out of range: numbers must be finite (at most 1.8e308)")


def _key_path(path: str, key: str) -> str:
    key = scrub(key[:64])
    return f"{path}.{key}" if path != "$" else key


def _check(doc: Any) -> None:
    """Walk the parsed document once (iteratively): refused values, duplicate keys,
    strings, depth. Raises `BadJson` with the path of the first problem."""
    stack: list[tuple[Any, str, int]] = [(doc, "$", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            _check_string(value, path)
        elif isinstance(value, _Refused):
            raise BadJson(path, value.message)
        elif isinstance(value, dict | list):
            if depth >= limits.MAX_JSON_DEPTH:
                raise BadJson(path, f"nested too deeply (at most {limits.MAX_JSON_DEPTH} levels)")
            if isinstance(value, list):
                for i in range(len(value) - 1, -1, -1):
                    stack.append((value[i], f"{path}[{i}]" if path != "$" else f"[{i}]", depth + 1))
                continue
            if isinstance(value, _Pairs):
                raise BadJson(
                    _key_path(path, value.duplicate),
                    f"the key {scrub(value.duplicate)!r} is given twice",
                )
            for key in reversed(list(value)):
                sub = _key_path(path, key)
                _check_string(key, sub, "key")
                stack.append((value[key], sub, depth + 1))


def _check_string(value: str, path: str, what: str = "string") -> None:
    if len(value) > limits.MAX_STRING_CHARS:
        raise BadJson(
            path,
            f"the {what} is {len(value):,} characters long; at most {limits.MAX_STRING_CHARS:,}",
        )
    found = _SURROGATE.search(value)
    if found:
        raise BadJson(
            path,
            f"the {what} holds a lone surrogate (\\u{ord(found.group()):04x} at character "
            f"{found.start()}), which is not Unicode text",
        )


def parse_json(raw: bytes) -> Any:
    """The request body as JSON; `BadRequest` for anything that is not (bad UTF-8, not JSON)
    and `BadJson` (naming the path) for JSON outside the limits (see the module doc)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the body is not UTF-8 text (byte {exc.start})") from exc
    try:
        doc = json.loads(
            text,
            object_pairs_hook=_pairs,
            parse_constant=_constant,
            parse_int=_int,
            parse_float=_float,
        )
    except RecursionError as exc:
        raise BadJson("$", f"nested too deeply (at most {limits.MAX_JSON_DEPTH} levels)") from exc
    except json.JSONDecodeError as exc:
        raise _Malformed(
            f"the body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    _check(doc)
    return doc


def json_media_type(content_type: str | None) -> bool:
    """Whether a Content-Type header names JSON (application/json, application/*+json)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media in limits.JSON_MEDIA_TYPES or (
        media.startswith("application/") and media.endswith("+json")
    )


def require_json(request: Request) -> None:
    """415 unless the request says its body is JSON."""
    ctype = request.headers.get("content-type")
    if not json_media_type(ctype):
        raise UnsupportedMedia(
            f"send the body as Content-Type: application/json (got {ctype or 'none'!s:.80})",
            header="content-type",
        )


def _loc_path(loc: Sequence[int | str]) -> str:
    return ".".join(str(x) for x in loc)


def _leaves(routes: Iterable[Any]) -> Iterator[Any]:
    for route in routes:
        included = getattr(route, "original_router", None)  # an included APIRouter
        if included is not None:
            yield from _leaves(included.routes)
        else:
            yield route


def _allowed(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in _leaves(request.app.router.routes):
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


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
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method of the path, whichever route serves it
            headers["Allow"] = ", ".join(_allowed(request)) or headers.get("Allow", "")
        return problem(exc.status_code, str(exc.detail), str(exc.detail), headers)

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in the %s", service)
        return problem(500, "Internal error", f"the {service} failed ({type(exc).__name__})")
