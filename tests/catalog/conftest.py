"""Fixtures: the official shapes from ../shared, and the sample federation running: real
node services on loopback and the real hub app, whose catalogue the nodes' publications
fill through the hub's node client (`tests.catalog.nodes`); its base URL is the hub's own,
so every IRI dereferences."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from hyperfed.catalog import Catalog, CatalogSettings, NodePublication, Refresher, catalog_router
from tests.catalog.nodes import running_federation
from tests.catalog.samples import Expected, expected, federation
from tests.conftest import SHARED_DIR
from tests.identity import bearer
from tests.servers import free_port

DCAT_RELEASE = SHARED_DIR / "reference/dcat/SEMICeu-DCAT-AP/releases/3.0.1"
FDP_SHAPES = (
    SHARED_DIR
    / "reference/fdp/FAIRDataTeam-FAIRDataPoint/src/main/resources/org/fairdatateam"
    / "fairdatapoint/service/reset"
)


@pytest.fixture(scope="session")
def dcat_release(shared_dir: Path) -> Path:
    if not DCAT_RELEASE.is_dir():
        pytest.skip(f"the DCAT-AP 3.0.1 shapes are absent from {DCAT_RELEASE}")
    return DCAT_RELEASE


@pytest.fixture(scope="session")
def fdp_shapes(shared_dir: Path) -> Path:
    if not FDP_SHAPES.is_dir():
        pytest.skip(f"the FAIR Data Point shapes are absent from {FDP_SHAPES}")
    return FDP_SHAPES


@dataclass
class Served:
    url: str
    catalog: Catalog
    publications: dict[str, NodePublication]
    expected: list[Expected]
    refresher: Refresher
    store: Any
    """the hub's `HubStore` (to make accounts: `tests.identity.bearer`)"""

    def bearer(self, client_id: str, roles: list[str]) -> dict[str, str]:
        """`Authorization` headers of a new service account of the hub with `roles`."""
        return bearer(self.url, self.store, client_id, roles)

    @property
    def public(self) -> list[Expected]:
        return [e for e in self.expected if e.visibility != "private"]

    @property
    def private(self) -> list[Expected]:
        return [e for e in self.expected if e.visibility == "private"]

    def iri(self, e: Expected) -> str:
        return f"{self.url}/catalog/{e.node}/dataset/{e.id}"


def make_app(catalog: Catalog, refresher: Refresher | None = None) -> FastAPI:
    app = FastAPI()
    app.include_router(catalog_router(catalog, refresher=refresher))
    return app


def settings_for(port: int, store: Path | None, **extra: Any) -> CatalogSettings:
    return CatalogSettings(
        base_url=f"http://127.0.0.1:{port}",
        store=store,
        title="Test federation catalogue",
        publisher="Test Research Infrastructure",
        publisher_url="https://ri.example",
        contact_email="catalogue@ri.example",
        dcat_ap_shapes=DCAT_RELEASE if DCAT_RELEASE.is_dir() else None,
        **extra,
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The sample federation: three nodes and the hub, catalogue refreshed (page size 4)."""
    port = free_port()
    folder = tmp_path_factory.mktemp("federation")
    settings = settings_for(port, folder / "store", page_size=4)
    pubs = {p.node.id: p for p in federation()}
    with running_federation(list(pubs.values()), folder, settings, port) as (url, hub, _):
        yield Served(
            url, hub.catalog, pubs, expected(list(pubs.values())), hub.refresher, hub.store
        )
