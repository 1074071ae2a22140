"""Feasibility queries: run one (synchronously, or as a job with `Prefer: respond-async`)
under the researcher's budget, read one's own job; the audit trail (admins): read,
verify, export as JSON lines.

Who may call each route is the rule table's (`hyperfed.hub.auth.rules`); a job belongs to
the researcher who asked it, and another researcher's job is a 404 (its existence is not
revealed). Admins read every job."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import tempfile
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.background import BackgroundTask

from hyperfed.adapters.problems import NotFound, require_json
from hyperfed.hub.auth import Principal, TooManyQueries, owns
from hyperfed.hub.prepare import Prepared
from hyperfed.hub.results import FederatedResult
from hyperfed.hub.state import Hub, HubDep, WhoDep

__all__ = ["router"]

log = logging.getLogger("hyperfed.hub")

INLINE_BYTES = 2048
"""a query body up to this size is prepared on the event loop (a fraction of a millisecond,
cheaper than the hop to a worker thread); larger ones in a worker thread."""
router = APIRouter()


@router.post("/queries", status_code=200, response_model=FederatedResult)
async def post_query(request: Request, hub: HubDep, who: WhoDep) -> Response:
    require_json(request)
    raw = await request.body()
    small = len(raw) <= INLINE_BYTES
    if small:  # a small query prepares in well under a millisecond: no thread hop
        prepared, result = hub.admit(raw)
    else:
        prepared, result = await hub.offload(hub.admit, raw, what="query's preparation")
    researcher = who.id or None
    if hub.budgets.limited:
        await hub.offload(_charge, hub, who, prepared, what="budget check")
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
async def get_query(job_id: str, hub: HubDep, who: WhoDep) -> dict[str, Any]:
    def own() -> dict[str, Any] | None:
        exists, owner = hub.store.job_owner(job_id)
        return hub.store.get(job_id) if exists and owns(who, owner) else None

    found = await hub.offload(own, what="job look-up")
    if found is None:
        raise NotFound(f"no query job {job_id!r}")
    return found


def _charge(hub: Hub, who: Principal, prepared: Prepared) -> None:
    """Count the query against the researcher's budget (atomically), or refuse it: 429
    with Retry-After, saying which quota and when it frees up; the refusal is audited."""
    decision = hub.budgets.charge(who.id, prepared.query, prepared.key)
    if decision.allowed:
        return
    hub.store.append("budget.refused", who.id, {"query_key": prepared.key, **decision.as_dict()})
    raise TooManyQueries(
        decision.reason,
        decision.retry_after,
        frees_at=None if decision.frees_at is None else decision.frees_at.isoformat(),
        quotas=[u.as_dict() for u in decision.usage],
    )


@router.get("/audit")
async def audit(
    hub: HubDep, limit: int = Query(default=100, ge=1, le=1000)
) -> list[dict[str, Any]]:
    """The newest query records (admins)."""
    rows = await hub.offload(hub.store.audit_log, limit, what="audit read")
    return [{**r, "at": r["at"].isoformat()} for r in rows]


@router.get("/audit/verify")
async def audit_verify(hub: HubDep) -> dict[str, Any]:
    """Check every link of the hash chain (admins): `ok`, the head hash to note down, or
    the first broken record."""
    report = await asyncio.to_thread(hub.store.verify)
    return report.as_dict()


@router.get("/audit/export")
async def audit_export(hub: HubDep) -> FileResponse:
    """The whole trail as JSON lines (`body`, `prev_hash`, `hash`) that verify offline
    (`hyperfed audit check-export`); written to a temporary file in a worker thread and
    streamed from there."""

    def write() -> str:
        fd, path = tempfile.mkstemp(prefix="hyperfed-audit-", suffix=".jsonl")
        try:
            with os.fdopen(fd, "w") as out:
                hub.store.export(out)
        except BaseException:
            os.unlink(path)
            raise
        return path

    path = await asyncio.to_thread(write)
    return FileResponse(
        path,
        media_type="application/jsonl",
        filename="audit.jsonl",
        background=BackgroundTask(os.unlink, path),
    )


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
