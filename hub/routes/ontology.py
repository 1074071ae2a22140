"""The hyperontology: concept search and look-up, the Turtle, read-only SPARQL."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from hyperfed.adapters.problems import BadRequest
from hyperfed.hub.state import HubDep

__all__ = ["router"]

router = APIRouter()


@router.get("/concepts")
async def search_concepts(
    hub: HubDep,
    q: str = Query(min_length=1, max_length=200),
    category: str | None = None,
    limit: int = Query(default=20, ge=1, le=200),
) -> list[Any]:
    return [
        c.model_dump(mode="json") for c in hub.ontology.search(q, limit=limit, category=category)
    ]


@router.get("/concepts/{ref:path}")
async def concept(ref: str, hub: HubDep) -> dict[str, Any]:
    # ConceptInfo carries its bindings for every model, already resolved
    return hub.ontology.concept(ref).model_dump(mode="json")


@router.get("/ontology")
async def ontology_turtle(hub: HubDep) -> Response:
    return Response(hub.ontology.to_turtle(), media_type="text/turtle")


@router.api_route("/ontology/sparql", methods=["GET", "POST"])
async def sparql(request: Request, hub: HubDep, query: str | None = None) -> Response:
    text = query
    if text is None and request.method == "POST":
        ctype = request.headers.get("content-type", "")
        raw = await request.body()
        if "application/sparql-query" in ctype:
            try:
                text = raw.decode()
            except UnicodeDecodeError as exc:
                raise BadRequest(f"the SPARQL query is not UTF-8 (byte {exc.start})") from exc
        else:
            form = await request.form()
            text = str(form.get("query") or "")
    if not text:
        raise BadRequest("give a SPARQL query as ?query=...")
    out = hub.ontology.sparql(text)
    if isinstance(out, str):
        return Response(out, media_type="text/turtle")
    return JSONResponse(out, media_type="application/sparql-results+json")
