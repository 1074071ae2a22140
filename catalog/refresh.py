"""Keeping the catalogue current: fetch each node's publication, validate, store.

`Refresher(catalog, fetch, nodes)` takes an async callable ``fetch(node_id)`` that returns
the node's `NodePublication` (or its JSON as a dict) — the hub wires it to its node
client — and the node ids to refresh. `refresh_node` is the on-demand refresh (a fetch
failure is `CatalogUnavailable`, 503; invalid content is `DescriptionInvalid` or
`ShaclViolations`, 422, and the last valid version stays published); `run` refreshes
every node every `refresh_interval` seconds until cancelled, and pings an FAIR Data Point
index when one is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx
from pydantic import ValidationError

from hyperfed.catalog.errors import CatalogError, CatalogUnavailable, DescriptionInvalid, Problem
from hyperfed.catalog.model import NodePublication
from hyperfed.catalog.service import Catalog, NodeStatus, PublishReport

__all__ = ["Fetch", "Refresher", "ping_fdp_index", "validation_problems"]

log = logging.getLogger("hyperfed.catalog")

Fetch = Callable[[str], Awaitable[NodePublication | dict[str, Any]]]


def validation_problems(exc: ValidationError) -> list[Problem]:
    """pydantic errors as problems that name the entry path (``datasets.0.description.title``)."""
    return [
        Problem(
            focus=".".join(str(x) for x in e["loc"]) or "(body)",
            path="",
            message=e["msg"],
        )
        for e in exc.errors()
    ]


async def ping_fdp_index(client: httpx.AsyncClient, index_url: str, client_url: str) -> bool:
    """Announce this FAIR Data Point to an FDP index (``POST {"clientUrl": ...}``)."""
    try:
        response = await client.post(index_url, json={"clientUrl": client_url}, timeout=30)
    except httpx.HTTPError as exc:
        log.warning("FDP index ping to %s failed: %s", index_url, exc)
        return False
    if response.status_code >= 400:
        log.warning("FDP index %s answered %s", index_url, response.status_code)
        return False
    return True


RETRY_FIRST = 15.0
"""seconds before a node whose catalogue could not be fetched is asked again."""


class Refresher:
    def __init__(
        self,
        catalog: Catalog,
        fetch: Fetch,
        nodes: Sequence[str] | Callable[[], Sequence[str]],
        *,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.catalog = catalog
        self.fetch = fetch
        self._nodes = nodes
        self.client = client
        self._task: asyncio.Task[None] | None = None

    def node_ids(self) -> list[str]:
        nodes = self._nodes() if callable(self._nodes) else self._nodes
        return list(nodes)

    async def refresh_node(self, node: str) -> PublishReport:
        """Fetch, validate and store one node's publication (module docstring)."""
        if node not in self.node_ids():
            raise DescriptionInvalid(f"{node!r} is not a node of this hub", [])
        try:
            raw = await self.fetch(node)
        except CatalogError:
            raise
        except Exception as exc:
            message = f"cannot fetch the catalogue of node {node}: {type(exc).__name__}: {exc}"
            self.catalog.status[node] = NodeStatus(node, False, self.catalog.clock(), message)
            raise CatalogUnavailable(message) from exc
        if isinstance(raw, NodePublication):
            publication = raw
        else:
            try:
                publication = NodePublication.model_validate(raw)
            except ValidationError as exc:
                problems = validation_problems(exc)
                first = problems[0]
                message = (
                    f"node {node} published an invalid catalogue: {first.focus}: {first.message}"
                )
                self.catalog.status[node] = NodeStatus(
                    node, False, self.catalog.clock(), message, problems
                )
                raise DescriptionInvalid(message, problems) from exc
        return await self.catalog.publish(node, publication)

    async def refresh_all(self) -> dict[str, Any]:
        """Refresh every node (a few at a time); one node's failure does not stop the rest."""
        limit = asyncio.Semaphore(self.catalog.settings.refresh_concurrency)

        async def one(node: str) -> tuple[str, dict[str, Any]]:
            async with limit:
                return node, await self._refresh_quietly(node)

        results = await asyncio.gather(*(one(n) for n in self.node_ids()))
        return dict(results)

    async def run(self) -> None:
        """Refresh on a schedule until cancelled (interval 0: once). Nodes that could not be
        fetched (e.g. still loading their data when the hub starts) are tried again sooner:
        after `RETRY_FIRST` seconds, doubling up to the interval."""
        interval = self.catalog.settings.refresh_interval
        index = self.catalog.settings.fdp_index_url
        last_ping = float("-inf")
        loop = asyncio.get_running_loop()
        while True:
            results = await self.refresh_all()
            retry = RETRY_FIRST
            failed = [n for n, r in results.items() if r.get("status") == 503]
            while failed and interval > 0 and retry < interval:
                await asyncio.sleep(retry)
                results = {n: await self._refresh_quietly(n) for n in failed}
                failed = [n for n, r in results.items() if r.get("status") == 503]
                retry *= 2
            due = loop.time() - last_ping >= self.catalog.settings.fdp_ping_interval
            if (
                index
                and self.client is not None
                and due
                and await ping_fdp_index(self.client, index, self.catalog.iris.fdp)
            ):
                last_ping = loop.time()
            if interval <= 0:
                return
            await asyncio.sleep(interval)

    async def _refresh_quietly(self, node: str) -> dict[str, Any]:
        """One node's refresh as a result entry; its failure never stops the others."""
        try:
            report = await self.refresh_node(node)
        except CatalogError as exc:
            log.warning("catalogue refresh of %s failed: %s", node, exc)
            return {"ok": False, "status": exc.status, "detail": str(exc)}
        except Exception as exc:  # one broken node must not stop the schedule
            log.exception("catalogue refresh of %s crashed", node)
            return {"ok": False, "status": 500, "detail": type(exc).__name__}
        return {"ok": True, **report.as_dict()}

    def start(self) -> asyncio.Task[None]:
        """Start `run` in the background (call from the app's lifespan)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="hyperfed-catalog-refresh")
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
