"""The node service over HTTP (FastAPI). Runs beside the data; returns protected counts.

    GET  /capabilities   what this node is: model, datasets, features, policy summary
    POST /count          CountRequest -> NodeCount (protected numbers only)
    GET  /health

Exact counts are never served over the network: `hyperfed node count --exact` reads the
database directly on the operator's machine.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from hyperfed.adapters.hql.errors import validation_problems
from hyperfed.adapters.node.service import NodeService
from hyperfed.adapters.protocol import Capabilities, CountRequest, NodeCount

__all__ = ["create_node_app"]

PROBLEM = "application/problem+json"


def _problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def create_node_app(service: NodeService) -> FastAPI:
    app = FastAPI(
        title=f"Hyperfed node {service.node_id}",
        version="0.1.0",
        description="A Hyperfed node: feasibility counts, protected before they leave.",
    )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _problem(
            422,
            "Invalid request",
            "the request body is not a valid CountRequest",
            errors=[
                {"path": ".".join(str(x) for x in e["loc"]), "message": e["msg"]}
                for e in exc.errors()
            ],
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        return _problem(500, "Internal error", f"the node failed ({type(exc).__name__})")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "node": service.node_id}

    @app.get("/capabilities", response_model=Capabilities)
    async def capabilities() -> Capabilities:
        return service.capabilities()

    @app.post("/count", response_model=NodeCount)
    async def count(request: Request) -> Response:
        raw = await request.body()
        try:
            document = json.loads(raw)
            body = CountRequest.model_validate(document)
        except json.JSONDecodeError as exc:
            return _problem(400, "Malformed JSON", f"the body is not JSON ({exc.msg})")
        except (UnicodeDecodeError, RecursionError):
            return _problem(400, "Malformed JSON", "the body is not UTF-8 JSON of sane depth")
        except ValidationError as exc:
            return _problem(
                422,
                "Invalid count request",
                "the request does not validate",
                errors=validation_problems(exc, document),
            )
        started = time.perf_counter()
        result = await run_in_threadpool(service.count, body)
        took = (time.perf_counter() - started) * 1000
        return Response(
            result.model_dump_json(),
            media_type="application/json",
            headers={"Server-Timing": f"count;dur={took:.2f}"},
        )

    return app
