"""The hyperontology: concept search and look-up, the Turtle, read-only SPARQL.

Every look-up, serialisation and SPARQL evaluation runs in a worker thread (`Hub.offload`),
never on the event loop. (What a SPARQL query may do is decided by the ontology's SPARQL
guard.)"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from hyperfed.adapters.problems import BadRequest, UnsupportedMedia
from hyperfed.hub.state import Hub, HubDep

__all__ = ["router"]

router = APIRouter()


@router.get("/concepts")
async def search_concepts(
    hub: HubDep,
    q: str = Query(min_length=1, max_length=200),
    category: str | None = None,
    limit: int = Query(default=20, ge=1, le=200),
) -> list[Any]:
    def found() -> list[Any]:
        return [
            c.model_dump(mode="json")
            for c in hub.ontology.search(q, limit=limit, category=category)
        ]

    return await hub.offload(found, what="concept search")


@router.get("/concepts/{ref:path}")
async def concept(ref: str, hub: HubDep) -> dict[str, Any]:
    # ConceptInfo carries its bindings for every model, already resolved
    def info() -> dict[str, Any]:
        return hub.ontology.concept(ref).model_dump(mode="json")

    return await hub.offload(info, what="concept look-up")


@router.get("/ontology")
async def ontology_turtle(hub: HubDep) -> Response:
    turtle = await hub.offload(hub.ontology.to_turtle, what="Turtle serialisation")
    return Response(turtle, media_type="text/turtle")


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the SPARQL request is not UTF-8 text (byte {exc.start})") from exc


def _form_query(raw: bytes) -> str:
    """`query` of an application/x-www-form-urlencoded body (strict UTF-8 throughout)."""
    try:
        form = parse_qs(_utf8(raw), errors="strict")
    except UnicodeDecodeError as exc:
        raise BadRequest("the SPARQL query is not UTF-8 text (after percent-decoding)") from exc
    values = form.get("query", [])
    if len(values) > 1:
        raise BadRequest("give one SPARQL query (the form has 'query' more than once)")
    return values[0] if values else ""


@router.get("/ontology/sparql")
async def sparql_get(hub: HubDep, query: str | None = None) -> Response:
    return await _sparql(hub, query)


@router.post("/ontology/sparql")
async def sparql_post(request: Request, hub: HubDep, query: str | None = None) -> Response:
    text = query
    if text is None:
        ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        raw = await request.body()
        if ctype == "application/sparql-query":
            text = _utf8(raw)
        elif ctype == "application/x-www-form-urlencoded":
            text = _form_query(raw)
        else:
            raise UnsupportedMedia(
                "POST a SPARQL query as application/sparql-query or "
                "application/x-www-form-urlencoded (query=...)",
                header="content-type",
            )
    return await _sparql(hub, text)


async def _sparql(hub: Hub, text: str | None) -> Response:
    if not text:
        raise BadRequest("give a SPARQL query as ?query=...")
    query = text

    def evaluate() -> Response:
        # guarded and bounded: a worker process of the hub's pool, within its limits (a
        # query past `sparql_timeout` is stopped: SparqlTimeout, 503)
        out = hub.ontology.sparql(query, limits=hub.sparql_limits, pool=hub.sparql_pool)
        if isinstance(out, str):
            return Response(out, media_type="text/turtle")
        # rendered here, in the worker thread, like the evaluation
        return JSONResponse(out, media_type="application/sparql-results+json")

    # the pool enforces the timeout; the thread only keeps the event loop free
    return await asyncio.to_thread(evaluate)
