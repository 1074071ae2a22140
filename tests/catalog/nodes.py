"""The sample federation as a running one: each sample node is a real node service
(`create_node_app` over `NodeService`, its own policy and secret, `GET /catalog`) on
loopback, and the hub is the real hub app (`create_app`) whose refresher fetches every
node's publication through its node client and transport.

The nodes' data is the test data model of `tests.adapters.memory` whose `facts` are the
samples' exact facts (`tests.catalog.samples.exact`, with the small cells that must never
be published): the node protects them itself, exactly as it protects an OMOP adapter's.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import ClassVar

from fastapi import FastAPI

from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.facts import ExactFacts
from hyperfed.adapters.node import NodeService, create_node_app
from hyperfed.adapters.node.config import NodeConfig, NodeSettings
from hyperfed.catalog import CatalogSettings, NodePublication
from hyperfed.hub.app import create_app
from hyperfed.hub.settings import HubSettings, NodeEntry
from hyperfed.hub.state import Hub
from tests.adapters.memory import MemoryAdapter
from tests.catalog.samples import NODE_POLICY, SECRET, exact
from tests.servers import serve

FACTS: dict[str, ExactFacts] = {
    **{f"cohort-{i}": exact(i) for i in range(6)},
    "registry": exact(7),
    "ehr": exact(8),
    **{f"img-{i}": exact(10 + i, imaging=True) for i in range(2)},
}


class SampleAdapter(MemoryAdapter):
    """A node's data: no patients to count, the samples' exact facts per dataset."""

    MODEL: ClassVar[str] = "omop"

    def __init__(self, facts: Mapping[str, ExactFacts]) -> None:
        super().__init__([])
        self._facts = dict(facts)
        self.calls = 0

    def facts(
        self, dataset: str, as_of: dt.date, deadline: Deadline | None = None
    ) -> ExactFacts | None:
        self.calls += 1
        return self._facts.get(dataset)


class ImagingSampleAdapter(SampleAdapter):
    MODEL: ClassVar[str] = "dicom"


def node_service(pub: NodePublication, folder: Path) -> NodeService:
    """The node that publishes `pub`: its [node] settings and [[datasets]] from `pub`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{pub.node.id}.secret").write_text(SECRET.decode())
    info = pub.node
    datasets = [
        e.description if e.facts is not None else e.description.model_copy(update={"facts": False})
        for e in pub.datasets
    ]
    config = NodeConfig(
        node=NodeSettings(
            id=info.id,
            title=info.title,
            model=info.model,
            source="memory:",
            description=info.description,
            publisher=info.publisher,
            contact=info.contact,
            homepage=info.homepage,
        ),
        policy=NODE_POLICY,
        datasets=datasets,
        base_dir=folder,
    )
    adapter = ImagingSampleAdapter(FACTS) if info.model == "dicom" else SampleAdapter(FACTS)
    return NodeService(config, adapter)


@contextlib.contextmanager
def running_federation(
    pubs: list[NodePublication], folder: Path, catalog: CatalogSettings, port: int
) -> Iterator[tuple[str, Hub, dict[str, str]]]:
    """Every node of `pubs` served on loopback, then the hub on `port` (its catalogue's
    base URL); yields once every node's first refresh is done: (hub URL, hub, node URLs)."""
    with contextlib.ExitStack() as stack:
        urls: dict[str, str] = {}
        for pub in pubs:
            app = create_node_app(node_service(pub, folder / pub.node.id))
            urls[pub.node.id] = stack.enter_context(serve(app))
        settings = HubSettings(
            nodes=[
                NodeEntry(id=p.node.id, url=urls[p.node.id], model=p.node.model, title=p.node.title)
                for p in pubs
            ],
            catalog=catalog,
        )
        hub_app: FastAPI = create_app(settings)
        url = stack.enter_context(serve(hub_app, port))
        hub: Hub = hub_app.state.hub
        wait_refreshed(hub, [p.node.id for p in pubs])
        yield url, hub, urls


def wait_refreshed(hub: Hub, nodes: list[str], timeout: float = 120.0) -> None:
    """Until the refresher has tried every node once (SHACL runs in a worker thread)."""
    ends = time.monotonic() + timeout
    while not all(n in hub.catalog.status for n in nodes):
        if time.monotonic() > ends:
            raise TimeoutError(f"the hub did not refresh {nodes} in {timeout:g} s")
        time.sleep(0.05)
    failed = {n: s.message for n, s in hub.catalog.status.items() if not s.ok}
    assert not failed, failed
