"""The catalogue over HTTP: `catalog_router(catalog, refresher=...)` returns a FastAPI
``APIRouter`` the hub mounts at its root.

    GET|HEAD /                                   FAIR Data Point root
    GET|HEAD /catalog[.ext]?page=&page_size=&modified_since=   the whole catalogue, paged
    GET|HEAD /catalog/{node}[.ext][?page=...]    a node's sub-catalogue (paged with ?page=)
    GET|HEAD /catalog/{node}/service[.ext]       the node's feasibility DataService
    GET|HEAD /catalog/{node}/dataset/{id}[.ext]  a dataset (DataCite JSON at .../datacite)
    GET|HEAD /catalog/{node}/dataset/{id}/distribution/{dist}[.ext]
    GET|HEAD /services/{feasibility|sparql}[.ext]
    GET|POST /sparql                             SPARQL 1.1 protocol, read-only
    GET      /catalog/_status                    last refresh of every node
    POST     /catalog/_refresh[/{node}]          refresh now (422 lists SHACL violations)
    POST     /catalog/_validate                  check a node publication, store nothing

Every catalogue error becomes problem+json (RFC 9457) here, in one place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError

from hyperfed.catalog.datacite import datacite
from hyperfed.catalog.documents import Page, PageRequest, parse_since
from hyperfed.catalog.errors import BadRequest, CatalogError, DescriptionInvalid, Problem
from hyperfed.catalog.formats import (
    MEDIA_TYPES,
    Format,
    format_from_param,
    negotiate,
    render,
    render_page,
    split_extension,
)
from hyperfed.catalog.html import HtmlRenderer
from hyperfed.catalog.iris import Target
from hyperfed.catalog.model import NodePublication
from hyperfed.catalog.refresh import Refresher, validation_problems
from hyperfed.catalog.service import Catalog
from hyperfed.ontology.errors import OntologyError

__all__ = ["catalog_router", "problem_response"]

PROBLEM = "application/problem+json"
_GRAPH_RESULTS = {
    "turtle": "text/turtle",
    "ntriples": "application/n-triples",
    "rdfxml": "application/rdf+xml",
    "jsonld": "application/ld+json",
}


def problem_response(exc: Exception) -> JSONResponse:
    """problem+json for a catalogue or SPARQL error."""
    status = int(getattr(exc, "status", 500))
    title = getattr(exc, "title", None) or {
        400: "SPARQL query refused",
        503: "SPARQL query timed out",
    }.get(status, "Catalogue error")
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = str(exc)
    problems: list[Problem] = getattr(exc, "problems", [])
    if problems:
        body["errors"] = [p.as_dict() for p in problems]
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


class _CatalogRoute(APIRoute):
    """Turns catalogue and SPARQL errors into problem+json for every route here."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except (CatalogError, OntologyError) as exc:
                return problem_response(exc)

        return route


def catalog_router(
    catalog: Catalog,
    *,
    refresher: Refresher | None = None,
    html: HtmlRenderer | None = None,
) -> APIRouter:
    """The catalogue's routes over `catalog` (module docstring)."""
    router = APIRouter(route_class=_CatalogRoute, tags=["catalogue"])
    iris = catalog.iris
    prefixes = catalog.prefixes
    renderer = html or HtmlRenderer(catalog.settings.health_namespace, catalog.settings.title)

    def choose(request: Request, forced: Format | None) -> Format:
        param = request.query_params.get("format")
        if param:
            return format_from_param(param)
        if forced is not None:
            return forced
        return negotiate(request.headers.get("accept"))

    async def respond(
        lines: list[bytes] | Page,
        fmt: Format,
        html_page: Callable[[], str],
        links: dict[str, str],
    ) -> Response:
        if fmt == "html":
            body = (await asyncio.to_thread(html_page)).encode("utf-8")
        elif isinstance(lines, Page):
            body = await asyncio.to_thread(render_page, lines, fmt, prefixes)
        else:
            body = await asyncio.to_thread(render, lines, fmt, prefixes)
        media = MEDIA_TYPES[fmt]
        if fmt in ("turtle", "html", "ntriples"):
            media += "; charset=utf-8"
        headers = {"Vary": "Accept"}
        if links:
            headers["Link"] = ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items())
        return Response(body, media_type=media, headers=headers)

    def page_request(request: Request, fmt: Format, forced: Format | None) -> PageRequest:
        q = request.query_params
        try:
            page = int(q.get("page", "1"))
            size = int(q["page_size"]) if "page_size" in q else None
        except ValueError as exc:
            raise BadRequest("page and page_size must be whole numbers") from exc
        keep = fmt if ("format" in q or forced is not None) else None
        return PageRequest(
            page=page, size=size, modified_since=parse_since(q.get("modified_since")), format=keep
        )

    async def serve_target(request: Request, target: Target, forced: Format | None) -> Response:
        fmt = choose(request, forced)
        q = request.query_params
        paged = target.kind == "catalog" or (target.kind == "node" and "page" in q)
        if paged:
            node = target.node if target.kind == "node" else None
            page = catalog.page(node, page_request(request, fmt, forced))
            iri = iris.iri_of(target)
            heading = catalog.settings.title
            return await respond(page, fmt, lambda: renderer.page(page, iri, heading), page.links)
        lines = catalog.document(target)
        iri = iris.iri_of(target)
        if target.kind == "dataset":
            return await respond(lines, fmt, lambda: renderer.dataset(lines, iri), {})
        if target.kind == "distribution":
            ds = iri.split("/distribution/", 1)[0]
            return await respond(lines, fmt, lambda: renderer.dataset(lines, ds), {})
        return await respond(lines, fmt, lambda: renderer.resource(lines, iri), {})

    def exists(path: str) -> bool:
        target = iris.parse(path)
        if target is None:
            return False
        try:
            catalog.document(target)
        except CatalogError:
            return False
        return True

    async def by_path(request: Request, path: str) -> Response:
        path, forced = split_extension(path, exists)
        target = iris.parse(path)
        if target is None:
            raise _not_found(path)
        return await serve_target(request, target, forced)

    # GET documented, HEAD the same handler (one operation id per method in OpenAPI)
    @router.get("/", summary="FAIR Data Point root")
    async def fdp_root(request: Request) -> Response:
        return await serve_target(request, Target("fdp"), None)

    router.add_api_route("/", fdp_root, methods=["HEAD"], include_in_schema=False)

    @router.get("/catalog", summary="The whole catalogue, paged")
    async def root_catalog(request: Request) -> Response:
        return await serve_target(request, Target("catalog"), None)

    router.add_api_route("/catalog", root_catalog, methods=["HEAD"], include_in_schema=False)

    @router.api_route("/catalog.{ext}", methods=["GET", "HEAD"], include_in_schema=False)
    async def root_catalog_ext(request: Request, ext: str) -> Response:
        return await by_path(request, f"/catalog.{ext}")

    @router.get("/catalog/_status", summary="Last refresh of every node")
    async def status() -> dict[str, Any]:
        return {
            "nodes": [s.as_dict() for s in sorted(catalog.status.values(), key=lambda s: s.node)],
            "datasets": len(catalog.records()),
            "warm": catalog.warm,
            "shapes": catalog.validator.sources,
        }

    @router.post("/catalog/_refresh", summary="Refresh every node now")
    async def refresh_all() -> dict[str, Any]:
        if refresher is None:
            raise BadRequest("this catalogue has no refresher configured")
        results = await refresher.refresh_all()
        return {"nodes": results}

    @router.post("/catalog/_refresh/{node}", summary="Refresh one node now")
    async def refresh_node(node: str) -> dict[str, Any]:
        if refresher is None:
            raise BadRequest("this catalogue has no refresher configured")
        return (await refresher.refresh_node(node)).as_dict()

    @router.post("/catalog/_validate", summary="Validate a node publication (stores nothing)")
    async def validate(request: Request) -> dict[str, Any]:
        try:
            publication = NodePublication.model_validate_json(await request.body())
        except ValidationError as exc:
            raise DescriptionInvalid(
                "the body is not a valid node publication", validation_problems(exc)
            ) from exc
        prepared = await asyncio.to_thread(catalog.prepare, publication.node.id, publication)
        warnings = await asyncio.to_thread(catalog.check, prepared)
        return {"valid": True, "warnings": [w.as_dict() for w in warnings], "notes": prepared.notes}

    @router.get("/catalog/{node}/dataset/{dataset}/datacite", summary="DataCite metadata")
    async def datacite_json(node: str, dataset: str) -> JSONResponse:
        record = catalog.record(node, dataset)
        doc = await asyncio.to_thread(datacite, record.lines, record.iri)
        return JSONResponse(doc, media_type="application/vnd.api+json")

    @router.api_route("/catalog/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def catalog_resource(request: Request, path: str) -> Response:
        return await by_path(request, f"/catalog/{path}")

    @router.api_route("/services/{name}", methods=["GET", "HEAD"], include_in_schema=False)
    async def hub_service(request: Request, name: str) -> Response:
        return await by_path(request, f"/services/{name}")

    @router.get("/sparql", summary="SPARQL 1.1 query (read-only)")
    async def sparql_get(request: Request) -> Response:
        return await sparql(request)

    @router.post("/sparql", summary="SPARQL 1.1 query, POSTed (read-only)")
    async def sparql_post(request: Request) -> Response:
        return await sparql(request)

    async def sparql(request: Request) -> Response:
        query = request.query_params.get("query")
        if request.method == "POST" and query is None:
            ctype = request.headers.get("content-type", "")
            if "application/sparql-update" in ctype:
                raise BadRequest("SPARQL UPDATE is not allowed: the catalogue is read-only")
            if "application/sparql-query" in ctype:
                query = (await request.body()).decode("utf-8", errors="replace")
            else:
                form = await request.form()
                if "update" in form:
                    raise BadRequest("SPARQL UPDATE is not allowed: the catalogue is read-only")
                value = form.get("query")
                query = value if isinstance(value, str) else None
        if "update" in request.query_params:
            raise BadRequest("SPARQL UPDATE is not allowed: the catalogue is read-only")
        if not query:
            raise BadRequest("give a SPARQL query as ?query=... (or POST it)")
        accept = request.headers.get("accept")
        graph_format = "text/turtle"
        try:
            fmt = negotiate(accept, allow_html=False) if accept else "turtle"
            graph_format = _GRAPH_RESULTS[fmt]
        except CatalogError:
            pass
        answer = await asyncio.to_thread(catalog.sparql, query, graph_format)
        media = answer.media_type
        if media in ("text/turtle", "application/n-triples"):
            media += "; charset=utf-8"
        return Response(answer.body, media_type=media)

    return router


def _not_found(path: str) -> CatalogError:
    from hyperfed.catalog.errors import NotFound

    return NotFound(f"no catalogue resource at {path}")
