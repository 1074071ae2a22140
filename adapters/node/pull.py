"""The node side of pull mode: connect outward to the hub only, long-poll for tasks, run
them on the `NodeService`, post the answers back signed with the node's key.

    loop = PullLoop(service, "https://hub.example.org", key, audience="hyperfed-hub",
                    verifier=TaskVerifier(hub_public_key, service.node_id))
    await loop.run(stop_event)

Every task is checked with the `TaskVerifier` first (signed by the hub, for this node,
not expired, not replayed, body unchanged); a refused task is answered with a 401
problem so the hub learns why at once. A task is answered exactly as `POST /count` would
answer it, so the same query gets the same answer pushed or pulled. Errors of the
connection back off (1 s doubling to 30 s) and never end the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

import httpx
from fastapi.concurrency import run_in_threadpool
from joserfc.jwk import OKPKey
from pydantic import ValidationError

from hyperfed.adapters.node.service import NodeService
from hyperfed.adapters.node.trust import TaskRefused, TaskVerifier, node_assertion, sign_result
from hyperfed.adapters.protocol import CountRequest

__all__ = ["PullLoop"]

log = logging.getLogger("hyperfed.node.pull")
SIGNATURE = "Hyperfed-Signature"
ASSERTION_TTL = 60
"""seconds the node's assertion is valid (the hub takes at most 120)."""
ASSERTION_RENEW = 15
"""a new assertion is signed when the current one has less than this left."""


def _problem(status: int, title: str, detail: str) -> bytes:
    return json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    ).encode()


class PullLoop:
    def __init__(
        self,
        service: NodeService,
        hub_url: str,
        key: OKPKey | None,
        *,
        audience: str = "hyperfed-hub",
        verifier: TaskVerifier | None = None,
        wait: float = 25.0,
        concurrency: int = 4,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        """`key` None and `verifier` None: no signatures at all (a hub with auth off)."""
        self.service = service
        self.base = hub_url.rstrip("/") + f"/pull/{service.node_id}"
        self.key = key
        self.audience = audience
        self.verifier = verifier
        self.wait = wait
        self._slots = asyncio.Semaphore(concurrency)
        self._client = client
        self._running: set[asyncio.Task[None]] = set()
        self.handled = 0
        self.refused = 0
        self._assertion: tuple[float, str] | None = None  # (expiry, token)

    def _auth(self) -> dict[str, str]:
        """The node's assertion (`node_assertion`, valid `ASSERTION_TTL` s), reused until
        it has less than `ASSERTION_RENEW` s left: one signature a minute, not one per
        request."""
        if self.key is None:
            return {}
        now = time.time()
        if self._assertion is None or self._assertion[0] - now < ASSERTION_RENEW:
            token = node_assertion(self.key, self.service.node_id, self.audience, ASSERTION_TTL)
            self._assertion = (now + ASSERTION_TTL, token)
        return {"Authorization": f"Bearer {self._assertion[1]}"}

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        own = self._client is None
        client = self._client or httpx.AsyncClient(timeout=httpx.Timeout(10, read=self.wait + 10))
        backoff = 1.0
        try:
            while not stop.is_set():
                try:
                    poll = asyncio.ensure_future(self._poll(client))
                    stopped = asyncio.ensure_future(stop.wait())
                    done, _ = await asyncio.wait({poll, stopped}, return_when="FIRST_COMPLETED")
                    if stopped in done:
                        poll.cancel()
                        break
                    stopped.cancel()
                    tasks = poll.result()
                    backoff = 1.0
                except (httpx.HTTPError, ValueError) as exc:
                    log.warning(
                        "pull from the hub failed (%s: %s); retrying in %.0f s",
                        type(exc).__name__,
                        exc,
                        backoff,
                    )
                    with contextlib.suppress(TimeoutError):  # a stop ends the wait
                        await asyncio.wait_for(stop.wait(), backoff)
                    backoff = min(backoff * 2, 30.0)
                    continue
                for task in tasks:
                    await self._slots.acquire()
                    job = asyncio.create_task(self._handle(client, task))
                    self._running.add(job)
                    job.add_done_callback(self._running.discard)
        finally:
            for job in list(self._running):
                job.cancel()
            if own:
                await client.aclose()

    async def _poll(self, client: httpx.AsyncClient) -> list[dict[str, Any]]:
        r = await client.get(f"{self.base}/tasks", params={"wait": self.wait}, headers=self._auth())
        if r.status_code == 204:
            return []
        if r.status_code != 200:
            raise ValueError(f"the hub answered HTTP {r.status_code}: {r.text[:200]}")
        tasks = r.json().get("tasks", [])
        return [t for t in tasks if isinstance(t, dict)]

    async def _handle(self, client: httpx.AsyncClient, task: dict[str, Any]) -> None:
        try:
            status, content = await self._answer(task)
            task_id = str(task.get("id", ""))
            headers = self._auth()
            if self.key is not None:
                headers[SIGNATURE] = sign_result(
                    self.key, self.service.node_id, task_id, status, content
                )
            else:
                headers["Hyperfed-Status"] = str(status)
            headers["content-type"] = "application/json"
            r = await client.post(
                f"{self.base}/results/{task_id}", content=content, headers=headers
            )
            if r.status_code == 410:
                log.warning("task %s: the answer came too late and was discarded", task_id)
            elif r.status_code >= 400:
                log.warning("task %s: the hub refused the answer (HTTP %s)", task_id, r.status_code)
        except httpx.HTTPError as exc:
            log.warning("could not post an answer (%s)", type(exc).__name__)
        finally:
            self._slots.release()

    async def _answer(self, task: dict[str, Any]) -> tuple[int, bytes]:
        operation = task.get("operation")
        body = str(task.get("body") or "").encode()
        if self.verifier is not None:
            try:
                self.verifier.verify(task.get("token"), body, str(operation))
            except TaskRefused as exc:
                self.refused += 1
                log.warning("refused a task: %s", exc)
                return 401, _problem(401, "Task refused", str(exc))
        self.handled += 1
        if operation == "capabilities":
            return 200, self.service.capabilities().model_dump_json().encode()
        if operation == "catalogue":
            return 200, await run_in_threadpool(self.service.catalogue.body)
        if operation != "count":
            return 400, _problem(400, "Bad request", f"unknown operation {operation!r}")
        try:
            request = CountRequest.model_validate_json(body)
        except ValidationError:
            return 422, _problem(422, "Invalid count request", "the task is not a count request")
        result = await run_in_threadpool(self.service.count, request)
        return 200, result.model_dump_json().encode()
