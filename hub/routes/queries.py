"""Feasibility queries: run one (synchronously, or as a job with `Prefer: respond-async`),
read a job, read the audit log."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from hyperfed.adapters.problems import NotFound, require_json
from hyperfed.hub.prepare import Prepared
from hyperfed.hub.results import FederatedResult
from hyperfed.hub.state import Hub, HubDep

__all__ = ["router"]

log = logging.getLogger("hyperfed.hub")

INLINE_BYTES = 2048
"""a query body up to this size is prepared on the event loop (a fraction of a millisecond,
cheaper than the hop to a worker thread); larger ones in a worker thread."""
router = APIRouter()


@router.post("/queries", status_code=200, response_model=FederatedResult)
async def post_query(request: Request, hub: HubDep) -> Response:
    require_json(request)
    raw = await request.body()
    small = len(raw) <= INLINE_BYTES
    if small:  # a small query prepares in well under a millisecond: no thread hop
        prepared, result = hub.admit(raw)
    else:
        prepared, result = await hub.offload(hub.admit, raw, what="query's preparation")
    researcher = request.headers.get("x-researcher")
    location = {"Location": f"/queries/{result.id}"}
    if "respond-async" in request.headers.get("prefer", ""):
        body = result.model_dump(mode="json")
        await hub.offload(
            hub.store.start, result.id, result.created, result.query_key, researcher, body
        )
        task = asyncio.create_task(_background(hub, result, prepared, researcher))
        hub.tasks.add(task)
        task.add_done_callback(hub.tasks.discard)
        return JSONResponse(body, status_code=202, headers=location)
    done = await hub.run(result, prepared, researcher)
    content = done.model_dump_json() if small else await asyncio.to_thread(done.model_dump_json)
    return Response(content, media_type="application/json", headers=location)


@router.get("/queries/{job_id}", response_model=FederatedResult)
async def get_query(job_id: str, hub: HubDep) -> dict[str, Any]:
    found = await hub.offload(hub.store.get, job_id, what="job look-up")
    if found is None:
        raise NotFound(f"no query job {job_id!r}")
    return found


@router.get("/audit")
async def audit(
    hub: HubDep, limit: int = Query(default=100, ge=1, le=1000)
) -> list[dict[str, Any]]:
    rows = await hub.offload(hub.store.audit_log, limit, what="audit read")
    return [{**r, "at": r["at"].isoformat()} for r in rows]


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
