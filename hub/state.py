"""The hub's state for one app — settings, ontology, the durable store (jobs, audit
trail, registry, identity, budgets), identity and access, the task signer, the node
client over push and pull transports, the node registry and health, the FAIR catalogue
and its refresher, the SPARQL worker pool — and the FastAPI dependencies that hand the
hub and the caller to the routes (`HubDep`, `WhoDep`). Built by `create_app`; no
import-time singletons.

The federation's nodes are the config file's `[[nodes]]` and the registry's approved
nodes (`Hub.nodes()`); the fan-out, `/nodes`, the catalogue and the pull endpoints all
use that one list. Health (last seen, latency, errors) is kept for every node
(`hyperfed.hub.health`) and written to the registry's rows every few seconds.

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
import logging
import uuid
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import httpx
from fastapi import Depends, Request
from joserfc.jwk import OKPKey
from pydantic import ValidationError

from hyperfed.adapters.hql.errors import size_problems, validation_problems
from hyperfed.adapters.hql.model import Query
from hyperfed.adapters.node.trust import load_or_create_key, read_public_key
from hyperfed.adapters.problems import Unavailable, parse_json
from hyperfed.catalog import Catalog, Refresher
from hyperfed.hub.auth import Principal, build_identity
from hyperfed.hub.auth.setup import ensure_cli_client
from hyperfed.hub.budgets import Budgets
from hyperfed.hub.client import MAX_RESPONSE_BYTES, NodeClient
from hyperfed.hub.db import HubStore
from hyperfed.hub.health import Health
from hyperfed.hub.prepare import Prepared, QueryRejected, prepare
from hyperfed.hub.pull import ModeTransport, PullTransport
from hyperfed.hub.registry import NodeRegistry
from hyperfed.hub.results import FederatedResult
from hyperfed.hub.settings import HubSettings, NodeEntry, SettingsError
from hyperfed.hub.signing import TaskSigner
from hyperfed.hub.totals import federated_strata, federated_total
from hyperfed.hub.transport import HttpTransport, Transport
from hyperfed.ontology import Ontology
from hyperfed.ontology.sparql import SparqlLimits, SparqlPool

__all__ = ["Hub", "HubDep", "WhoDep", "get_hub"]

T = TypeVar("T")
log = logging.getLogger("hyperfed.hub")


class Hub:
    def __init__(
        self,
        settings: HubSettings,
        ontology: Ontology | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.settings = settings
        self.ontology = ontology or Ontology.load(settings.ontology_files)
        unknown = sorted({n.model for n in settings.nodes} - set(self.ontology.models))
        if unknown:
            raise SettingsError(
                f"nodes: unknown data model(s) {', '.join(map(repr, unknown))}; "
                f"known models: {', '.join(self.ontology.models)}"
            )
        self.store = HubStore(settings.database)
        ensure_cli_client(self.store)
        self.signer = task_signer(settings)
        self.pull = PullTransport(self.signer, settings.deadline, on_late=self._late)
        sign = self.signer.headers if self.signer else None
        self.transport: Transport = transport or ModeTransport(
            HttpTransport(MAX_RESPONSE_BYTES, sign=sign), self.pull
        )
        self.client = NodeClient(
            self.transport, settings.floor, settings.deadline, on_impostor=self._impostor
        )
        self._impostors: list[tuple[str, str]] = []
        self.registry = NodeRegistry(
            self.store,
            settings.identity.audience,
            handshake=lambda entry: self.client.capabilities(entry, 10.0),
            static_keys=pull_keys(settings),
        )
        self.identity = build_identity(
            self.store, settings.identity, nodes=self.registry.verify_assertion
        )
        self.budgets = Budgets(self.store.budgets, settings.budgets)
        self.health = Health(self.store.nodes.record_calls)
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
            self.catalog, self.fetch_catalogue, lambda: [n.id for n in self.nodes()]
        )

    def nodes(self) -> list[NodeEntry]:
        """The federation's nodes: the config file's, then the registry's approved ones."""
        return [*self.settings.nodes, *self.registry.entries()]

    def node(self, node_id: str) -> NodeEntry | None:
        return next((n for n in self.nodes() if n.id == node_id), None)

    def _impostor(self, node_id: str, claimed: str) -> None:
        """Kept for the audit, written with the query's record (not on the event loop)."""
        self._impostors.append((node_id, claimed))

    def _late(self, node_id: str, task_id: str, late: float) -> None:
        """A pulled task answered after its TTL (discarded): reported in the audit, written
        in a worker thread (this is called on the event loop)."""
        data = {"task": task_id, "late_ms": round(late * 1000, 1)}
        write = functools.partial(self.store.append, "task.late", f"node:{node_id}", data)
        try:
            asyncio.get_running_loop().run_in_executor(None, write)
        except RuntimeError:  # no loop (a test calling it directly)
            write()

    async def fetch_catalogue(self, node_id: str) -> dict[str, Any]:
        """A node's catalogue publication through the node client (the refresher's fetch);
        the JSON is parsed in a worker thread (descriptions and RDF texts are longer than
        query strings may be: the refresher's model bounds them) and validated by the
        refresher."""
        node = self.node(node_id)
        if node is None:
            raise LookupError(f"{node_id!r} is not a node of this hub")
        content = await self.client.catalogue(node, self.settings.catalog.fetch_timeout)
        document = await asyncio.to_thread(json.loads, content)
        if not isinstance(document, dict):
            raise ValueError("the node's catalogue is not a JSON object")
        return document

    async def start(self) -> None:
        await self.transport.open(self.nodes())
        if self.settings.catalog.fdp_index_url:
            self._http = httpx.AsyncClient()
            self.refresher.client = self._http
        self.refresher.start()

    async def stop(self) -> None:
        await self.refresher.stop()
        for task in list(self.tasks):
            task.cancel()
        await self.transport.close()
        await self.identity.aclose()
        if self._http is not None:
            await self._http.aclose()
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Release the catalogue, the SPARQL workers and the store (blocking); the nodes'
        health is written first."""
        self.health.flush()
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
        models = {n.model for n in self.nodes()}
        prepared = prepare(query, self.ontology, models, dt.date.today())
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
        nodes = await self.client.fan_out(self.nodes(), prepared)
        self.health.record(nodes)
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
        while self._impostors:
            node_id, claimed = self._impostors.pop()
            reason = f"answered as node {claimed!r}"
            self.store.append(
                "node.refused", f"node:{node_id}", {"node": node_id, "reason": reason}
            )
        if self.health.due():
            try:
                self.health.flush()
            except Exception:  # health is best effort: never fail a finished query for it
                log.exception("could not write the nodes' health")


def task_signer(settings: HubSettings) -> TaskSigner | None:
    """The hub's task signer: its key file (made when absent), or a key for this process
    only when none is configured; None when signing is switched off."""
    if not settings.signing.enabled:
        return None
    key_file = settings.signing.key_file
    key = load_or_create_key(key_file) if key_file else OKPKey.generate_key("Ed25519")
    return TaskSigner(key, settings.identity.issuer)


def pull_keys(settings: HubSettings) -> dict[str, OKPKey]:
    """The public keys of the config file's pull nodes (each must have one when sign-in
    is on: it is how the node proves who it is when it fetches tasks)."""
    keys: dict[str, OKPKey] = {}
    for i, n in enumerate(settings.nodes):
        if n.mode != "pull":
            continue
        where = f"nodes[{i}].public_key_file"
        if n.public_key_file is None:
            if settings.identity.enabled:
                raise SettingsError(f"{where}: pull node {n.id!r} needs its public key file")
            continue
        try:
            keys[n.id] = read_public_key(n.public_key_file.read_text())
        except (OSError, ValueError) as exc:
            raise SettingsError(f"{where}: {n.public_key_file}: {exc}") from exc
    return keys


def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


async def get_who(request: Request, hub: HubDep) -> Principal:
    """Who is calling (`ANONYMOUS` without a token; the route's rule was checked by the
    guard before this runs)."""
    return await hub.identity.auth.current_principal(request)


WhoDep = Annotated[Principal, Depends(get_who)]
