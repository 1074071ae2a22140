"""The node service over HTTP (FastAPI). Runs beside the data; returns protected counts.

    GET  /capabilities   what this node is: model, datasets, features, policy summary
    POST /count          CountRequest -> NodeCount (protected numbers only)
    GET  /catalog        the node's catalogue publication: its dataset descriptions and their
                         facts, protected by its policy (hyperfed.adapters.node.catalog)
    GET  /health

Exact counts are never served over the network: `hyperfed node count --exact` reads the
database directly on the operator's machine. Parsing, validation, compiling and counting
run in a worker thread, under the deadline the hub sent; requests are bounded before they
are read (`hyperfed.adapters.guard`, limits in `hyperfed.adapters.limits`).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError

from hyperfed.adapters.guard import RequestGuard
from hyperfed.adapters.hql.errors import size_problems, validation_problems
from hyperfed.adapters.limits import MAX_NODE_BODY_BYTES
from hyperfed.adapters.node.openapi import node_openapi
from hyperfed.adapters.node.service import NodeService
from hyperfed.adapters.problems import (
    Invalid,
    install_problem_handlers,
    parse_json,
    require_json,
)
from hyperfed.adapters.protocol import Capabilities, CountRequest, NodeCount
from hyperfed.catalog.model import NodePublication

__all__ = ["create_node_app"]


def create_node_app(service: NodeService) -> FastAPI:
    app = FastAPI(
        title=f"Hyperfed node {service.node_id}",
        version="0.1.0",
        description="A Hyperfed node: feasibility counts, protected before they leave.",
    )
    install_problem_handlers(app, "node")
    app.add_middleware(RequestGuard, max_body=MAX_NODE_BODY_BYTES)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "node": service.node_id}

    @app.get("/capabilities", response_model=Capabilities)
    async def capabilities() -> Capabilities:
        return service.capabilities()

    @app.get("/catalog", response_model=NodePublication)
    async def catalogue() -> Response:
        # facts read the whole source: computed in a worker thread, cached
        content = await run_in_threadpool(service.catalogue.body)
        return Response(content, media_type="application/json")

    @app.post("/count", response_model=NodeCount)
    async def count(request: Request) -> Response:
        require_json(request)
        raw = await request.body()
        started = time.perf_counter()
        content = await run_in_threadpool(_count, service, raw)
        took = (time.perf_counter() - started) * 1000
        return Response(
            content,
            media_type="application/json",
            headers={"Server-Timing": f"count;dur={took:.2f}"},
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = node_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def count_request(raw: bytes) -> CountRequest:
    """A `POST /count` body as a count request: strict JSON, the protocol's structure, the
    size limits; `BadRequest`/`Invalid` name the path of what is wrong."""
    document = parse_json(raw)
    try:
        body = CountRequest.model_validate(document)
    except ValidationError as exc:
        raise Invalid(validation_problems(exc, document), "Invalid count request") from exc
    problems = size_problems(body.query, body.bindings, prefix="query.")
    if problems:
        raise Invalid(problems, "Invalid count request")
    return body


def _count(service: NodeService, raw: bytes) -> bytes:
    # one worker thread for everything heavy: parsing, validation, compiling, counting
    body = count_request(raw)
    return service.count(body).model_dump_json().encode()
