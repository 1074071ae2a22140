"""The hub's state for one app — settings, ontology, job store, node client, the FAIR
catalogue and its refresher, the SPARQL worker pool — and the FastAPI dependency that
hands it to the routes (`HubDep`). Built by `create_app`; no import-time singletons.

The catalogue (`hyperfed.catalog.Catalog`) fetches each node's publication through the
node client (`NodeClient.catalogue`, the same transport as queries), re-protects its
facts under the federation floor and validates it; the `Refresher` runs from the app's
lifespan (`start`/`stop`). Catalogue SPARQL and `/ontology/sparql` share one pool of
guarded worker processes with the catalogue's limits.

Nothing heavy runs on the event loop: `admit()` (parse, validate, canonical form,
resolution) and `offload()` (the ontology, the job store, serialisation) run in worker
threads under the hub's deadline, so one big request never holds up another."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import uuid
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import httpx
from fastapi import Depends, Request
from pydantic import ValidationError

from hyperfed.adapters.hql.errors import size_problems, validation_problems
from hyperfed.adapters.hql.model import Query
from hyperfed.adapters.problems import Unavailable, parse_json
from hyperfed.catalog import Catalog, Refresher
from hyperfed.hub.client import MAX_RESPONSE_BYTES, NodeClient
from hyperfed.hub.prepare import Prepared, QueryRejected, prepare
from hyperfed.hub.results import FederatedResult
from hyperfed.hub.settings import HubSettings, SettingsError
from hyperfed.hub.store import JobStore
from hyperfed.hub.totals import federated_strata, federated_total
from hyperfed.hub.transport import HttpTransport, Transport
from hyperfed.ontology import Ontology
from hyperfed.ontology.sparql import SparqlLimits, SparqlPool

__all__ = ["Hub", "HubDep", "get_hub"]

T = TypeVar("T")


class Hub:
    def __init__(
        self,
        settings: HubSettings,
        ontology: Ontology | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.settings = settings
        self.ontology = ontology or Ontology.load(settings.ontology_files)
        self.store = JobStore(settings.database)
        self.models = {n.model for n in settings.nodes}
        unknown = sorted(self.models - set(self.ontology.models))
        if unknown:
            raise SettingsError(
                f"nodes: unknown data model(s) {', '.join(map(repr, unknown))}; "
                f"known models: {', '.join(self.ontology.models)}"
            )
        self.transport: Transport = transport or HttpTransport(MAX_RESPONSE_BYTES)
        self.client = NodeClient(self.transport, settings.floor, settings.deadline)
        self.tasks: set[asyncio.Task[None]] = set()
        cat = settings.catalog
        self.sparql_pool = SparqlPool(cat.sparql_workers)
        self.sparql_limits = SparqlLimits(
            timeout_s=cat.sparql_timeout, max_results=cat.sparql_max_results
        )
        self.catalog = Catalog(
            cat,
            floor=settings.floor,
            ontology_turtle=self.ontology.to_turtle(),
            pool=self.sparql_pool,
        )
        self._http: httpx.AsyncClient | None = None
        self.refresher = Refresher(
            self.catalog, self.fetch_catalogue, lambda: [n.id for n in self.settings.nodes]
        )

    async def fetch_catalogue(self, node_id: str) -> dict[str, Any]:
        """A node's catalogue publication through the node client (the refresher's fetch);
        the JSON is parsed in a worker thread (descriptions and RDF texts are longer than
        query strings may be: the refresher's model bounds them) and validated by the
        refresher."""
        node = self.settings.node(node_id)
        if node is None:
            raise LookupError(f"{node_id!r} is not a node of this hub")
        content = await self.client.catalogue(node, self.settings.catalog.fetch_timeout)
        document = await asyncio.to_thread(json.loads, content)
        if not isinstance(document, dict):
            raise ValueError("the node's catalogue is not a JSON object")
        return document

    async def start(self) -> None:
        await self.transport.open(self.settings.nodes)
        if self.settings.catalog.fdp_index_url:
            self._http = httpx.AsyncClient()
            self.refresher.client = self._http
        self.refresher.start()

    async def stop(self) -> None:
        await self.refresher.stop()
        for task in list(self.tasks):
            task.cancel()
        await self.transport.close()
        if self._http is not None:
            await self._http.aclose()
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Release the catalogue, the SPARQL workers and the job store (blocking)."""
        self.catalog.close()
        self.sparql_pool.close()
        self.store.close()

    def prepare(self, document: Any) -> Prepared:
        """Validate and prepare a query document (raises `QueryRejected` naming each path):
        structure first, then its size (`hyperfed.adapters.limits`), then codes, concepts
        and units, canonical form and bindings, then the size with its concepts' codes."""
        try:
            query = Query.model_validate(document)
        except ValidationError as exc:
            raise QueryRejected(validation_problems(exc, document)) from exc
        problems = size_problems(query)
        if problems:
            raise QueryRejected(problems)
        prepared = prepare(query, self.ontology, self.models, dt.date.today())
        for model in sorted(prepared.bindings):
            problems = size_problems(prepared.query, prepared.bindings[model], model=model)
            if problems:
                raise QueryRejected(problems)
        return prepared

    def admit(self, raw: bytes) -> tuple[Prepared, FederatedResult]:
        """The body of `POST /queries` as a prepared query and its new job (blocking: call
        it through `offload`)."""
        prepared = self.prepare(parse_json(raw))
        return prepared, self.new_result(prepared)

    async def offload(self, work: Callable[..., T], *args: Any, what: str = "request") -> T:
        """`work(*args)` in a worker thread, waited for at most the hub's deadline (503 when
        it passes; the thread is abandoned and ends on its own)."""
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(functools.partial(work, *args)), self.settings.deadline
            )
        except TimeoutError as exc:
            raise Unavailable(
                f"the {what} took longer than the hub's {self.settings.deadline:g} s deadline"
            ) from exc

    def new_result(self, prepared: Prepared) -> FederatedResult:
        assert prepared.query.as_of is not None
        return FederatedResult(
            id=str(uuid.uuid4()),
            status="running",
            created=dt.datetime.now(dt.UTC),
            as_of=prepared.query.as_of,
            query_key=prepared.key,
            query=prepared.query.model_dump(
                mode="json", by_alias=True, exclude_none=True, exclude_defaults=True
            ),
        )

    async def run(
        self, result: FederatedResult, prepared: Prepared, researcher: str | None
    ) -> FederatedResult:
        floor = self.settings.floor
        nodes = await self.client.fan_out(self.settings.nodes, prepared)
        done = result.model_copy(
            update={
                "status": "done",
                "finished": dt.datetime.now(dt.UTC),
                "nodes": nodes,
                "total": federated_total(nodes, floor),
                "strata": federated_strata(nodes, floor),
            }
        )
        await asyncio.to_thread(self._finish, done, researcher)
        return done

    def _finish(self, done: FederatedResult, researcher: str | None) -> None:
        self.store.finish(
            done.id, done.finished or done.created, researcher, done.model_dump(mode="json")
        )


def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]
