"""The hub's state for one app — settings, ontology, job store, node client — and the
FastAPI dependency that hands it to the routes (`HubDep`). Built by `create_app`; no
import-time singletons."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import Depends, Request

from hyperfed.hub.client import MAX_RESPONSE_BYTES, NodeClient
from hyperfed.hub.prepare import Prepared, prepare
from hyperfed.hub.results import FederatedResult
from hyperfed.hub.settings import HubSettings, SettingsError
from hyperfed.hub.store import JobStore
from hyperfed.hub.totals import federated_strata, federated_total
from hyperfed.hub.transport import HttpTransport, Transport
from hyperfed.ontology import Ontology

__all__ = ["Hub", "HubDep", "get_hub"]


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

    async def start(self) -> None:
        await self.transport.open(self.settings.nodes)

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await self.transport.close()
        self.store.close()

    def prepare(self, document: Any) -> Prepared:
        return prepare(document, self.ontology, self.models, dt.date.today())

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
        await asyncio.to_thread(
            self.store.finish,
            done.id,
            done.finished or done.created,
            researcher,
            done.model_dump(mode="json"),
        )
        return done


def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]
