"""The node service over HTTP (FastAPI). Runs beside the data; returns protected counts.

    GET  /capabilities   what this node is: model, datasets, features, policy summary
    POST /count          CountRequest -> NodeCount (protected numbers only)
    GET  /health

Exact counts are never served over the network: `hyperfed node count --exact` reads the
database directly on the operator's machine. Counting runs in a worker thread, under the
deadline the hub sent.
"""

from __future__ import annotations

import time

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError

from hyperfed.adapters.hql.errors import validation_problems
from hyperfed.adapters.node.service import NodeService
from hyperfed.adapters.problems import Invalid, install_problem_handlers, parse_json
from hyperfed.adapters.protocol import Capabilities, CountRequest, NodeCount

__all__ = ["create_node_app"]


def create_node_app(service: NodeService) -> FastAPI:
    app = FastAPI(
        title=f"Hyperfed node {service.node_id}",
        version="0.1.0",
        description="A Hyperfed node: feasibility counts, protected before they leave.",
    )
    install_problem_handlers(app, "node")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "node": service.node_id}

    @app.get("/capabilities", response_model=Capabilities)
    async def capabilities() -> Capabilities:
        return service.capabilities()

    @app.post("/count", response_model=NodeCount)
    async def count(request: Request) -> Response:
        document = parse_json(await request.body())
        try:
            body = CountRequest.model_validate(document)
        except ValidationError as exc:
            raise Invalid(validation_problems(exc, document), "Invalid count request") from exc
        started = time.perf_counter()
        result = await run_in_threadpool(service.count, body)
        took = (time.perf_counter() - started) * 1000
        return Response(
            result.model_dump_json(),
            media_type="application/json",
            headers={"Server-Timing": f"count;dur={took:.2f}"},
        )

    return app
