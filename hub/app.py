"""The hub's HTTP API (FastAPI). `create_app(settings)` builds everything it needs; there
are no import-time singletons.

    POST /queries               run a feasibility query (sync; `Prefer: respond-async` -> 202)
    GET  /queries/{id}          a query job and, when done, its result
    GET  /schema/query          JSON Schema of HQL v1
    GET  /nodes                 configured nodes and their live capabilities
    GET  /concepts?q=lung       concept search for query builders
    GET  /concepts/{ref}        one concept with its bindings per data model
    GET  /ontology              the hyperontology as Turtle
    GET|POST /ontology/sparql   SPARQL 1.1 query over the hyperontology
    GET  /audit                 recent audit records (protected numbers only)
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from hyperfed.adapters.hql.model import Query as HqlQuery
from hyperfed.adapters.protocol import Capabilities
from hyperfed.hub.fanout import fan_out, federated_strata, federated_total
from hyperfed.hub.prepare import Prepared, prepare
from hyperfed.hub.problems import BadRequest, NotFound, install_problem_handlers, parse_json
from hyperfed.hub.results import FederatedResult
from hyperfed.hub.settings import HubSettings
from hyperfed.hub.store import JobStore
from hyperfed.ontology import Ontology

__all__ = ["create_app"]

log = logging.getLogger("hyperfed.hub")


class Hub:
    """The hub's state for one app: settings, ontology, store, HTTP client."""

    def __init__(self, settings: HubSettings, ontology: Ontology | None = None) -> None:
        self.settings = settings
        self.ontology = ontology or Ontology.load(settings.ontology_files)
        self.store = JobStore(settings.database)
        self.models = {n.model for n in settings.nodes}
        # one connection pool per node: small pools keep httpx's per-request pool scan cheap
        self.clients: dict[str, httpx.AsyncClient] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def prepare(self, document: Any) -> Prepared:
        return prepare(document, self.ontology, self.models, dt.date.today())

    def new_result(self, prepared: Prepared) -> FederatedResult:
        return FederatedResult(
            id=str(uuid.uuid4()),
            status="running",
            created=dt.datetime.now(dt.UTC),
            as_of=prepared.query.as_of or dt.date.today(),
            query_key=prepared.key,
            query=prepared.query.model_dump(
                mode="json", by_alias=True, exclude_none=True, exclude_defaults=True
            ),
        )

    async def run(
        self, result: FederatedResult, prepared: Prepared, researcher: str | None
    ) -> FederatedResult:
        floor = self.settings.floor
        nodes = await fan_out(
            self.clients, self.settings.nodes, prepared, self.settings.deadline, floor
        )
        done = result.model_copy(
            update={
                "status": "done",
                "finished": dt.datetime.now(dt.UTC),
                "nodes": nodes,
                "total": federated_total(nodes, floor),
                "strata": federated_strata(nodes, floor),
            }
        )
        await asyncio.to_thread(
            self.store.finish,
            done.id,
            done.finished or done.created,
            researcher,
            done.model_dump(mode="json"),
        )
        return done


def create_app(settings: HubSettings, ontology: Ontology | None = None) -> FastAPI:
    hub = Hub(settings, ontology)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=8)
        async with contextlib.AsyncExitStack() as stack:
            for n in settings.nodes:
                hub.clients[n.id] = await stack.enter_async_context(
                    httpx.AsyncClient(limits=limits, timeout=None)
                )
            yield
            for task in list(hub.tasks):
                task.cancel()
        hub.store.close()

    app = FastAPI(
        title=settings.title,
        version="0.1.0",
        lifespan=lifespan,
        description="Hyperfed hub: federated feasibility queries with protected counts.",
    )
    app.state.hub = hub
    install_problem_handlers(app)

    @app.get("/")
    async def index() -> dict[str, Any]:
        return {
            "title": settings.title,
            "ontology_version": hub.ontology.version,
            "links": {
                "queries": "/queries",
                "schema": "/schema/query",
                "nodes": "/nodes",
                "concepts": "/concepts",
                "ontology": "/ontology",
                "docs": "/docs",
            },
        }

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/schema/query")
    async def query_schema() -> dict[str, Any]:
        schema = HqlQuery.model_json_schema(by_alias=True)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = "https://w3id.org/hyperfed/hql/1"
        return schema

    @app.post(
        "/queries",
        status_code=200,
        response_model=FederatedResult,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": HqlQuery.model_json_schema(
                            by_alias=True, ref_template="#/components/schemas/{model}"
                        )
                    }
                },
            }
        },
    )
    async def post_query(request: Request) -> Response:
        document = parse_json(await request.body())
        prepared = hub.prepare(document)
        researcher = request.headers.get("x-researcher")
        result = hub.new_result(prepared)
        location = {"Location": f"/queries/{result.id}"}
        if "respond-async" in request.headers.get("prefer", ""):
            await asyncio.to_thread(
                hub.store.start,
                result.id,
                result.created,
                result.query_key,
                researcher,
                result.model_dump(mode="json"),
            )
            task = asyncio.create_task(_background(hub, result, prepared, researcher))
            hub.tasks.add(task)
            task.add_done_callback(hub.tasks.discard)
            return JSONResponse(result.model_dump(mode="json"), status_code=202, headers=location)
        done = await hub.run(result, prepared, researcher)
        return Response(done.model_dump_json(), media_type="application/json", headers=location)

    @app.get("/queries/{job_id}", response_model=FederatedResult)
    async def get_query(job_id: str) -> dict[str, Any]:
        found = await asyncio.to_thread(hub.store.get, job_id)
        if found is None:
            raise NotFound(f"no query job {job_id!r}")
        return found

    @app.get("/nodes")
    async def nodes() -> list[dict[str, Any]]:

        async def one(n: Any) -> dict[str, Any]:
            entry = n.model_dump()
            try:
                async with asyncio.timeout(min(settings.deadline, 5.0)):
                    r = await hub.clients[n.id].get(n.url.rstrip("/") + "/capabilities")
                entry["capabilities"] = Capabilities.model_validate_json(r.content).model_dump()
                entry["reachable"] = True
            except Exception as exc:
                entry["reachable"] = False
                entry["error"] = type(exc).__name__
            return entry

        return list(await asyncio.gather(*[one(n) for n in settings.nodes]))

    @app.get("/concepts")
    async def search_concepts(
        q: str = Query(min_length=1, max_length=200),
        category: str | None = None,
        limit: int = Query(default=20, ge=1, le=200),
    ) -> list[Any]:
        return [
            c.model_dump(mode="json")
            for c in hub.ontology.search(q, limit=limit, category=category)
        ]

    @app.get("/concepts/{ref:path}")
    async def concept(ref: str) -> dict[str, Any]:
        # ConceptInfo carries its bindings for every model, already resolved
        return hub.ontology.concept(ref).model_dump(mode="json")

    @app.get("/ontology")
    async def ontology_turtle() -> Response:
        return Response(hub.ontology.to_turtle(), media_type="text/turtle")

    @app.api_route("/ontology/sparql", methods=["GET", "POST"])
    async def sparql(request: Request, query: str | None = None) -> Response:
        text = query
        if text is None and request.method == "POST":
            ctype = request.headers.get("content-type", "")
            raw = (await request.body()).decode()
            if "application/sparql-query" in ctype:
                text = raw
            else:
                form = await request.form()
                text = str(form.get("query") or "")
        if not text:
            raise BadRequest("give a SPARQL query as ?query=...")
        out = hub.ontology.sparql(text)
        if isinstance(out, str):
            return Response(out, media_type="text/turtle")
        return JSONResponse(out, media_type="application/sparql-results+json")

    @app.get("/audit")
    async def audit(limit: int = Query(default=100, ge=1, le=1000)) -> list[dict[str, Any]]:
        rows = await asyncio.to_thread(hub.store.audit_log, limit)
        return [{**r, "at": r["at"].isoformat()} for r in rows]

    return app


async def _background(
    hub: Hub, result: FederatedResult, prepared: Prepared, researcher: str | None
) -> None:
    try:
        await hub.run(result, prepared, researcher)
    except Exception as exc:  # the job must end, whatever broke
        log.exception("query job %s failed", result.id)
        failed = result.model_copy(
            update={
                "status": "failed",
                "error": type(exc).__name__,
                "finished": dt.datetime.now(dt.UTC),
            }
        )
        await asyncio.to_thread(hub.store.fail, failed.id, failed.model_dump(mode="json"))
