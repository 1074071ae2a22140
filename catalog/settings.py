"""Catalogue settings: one pydantic model, part of the hub's settings (``[catalog]``).

[catalog]
base_url = "https://hub.example.eu"      # public base of every IRI (required)
store = "catalog"                        # Oxigraph folder (relative to the config)
title = "Example federation catalogue"
publisher = "Example Research Infrastructure"
publisher_url = "https://example.eu"
contact_email = "catalogue@example.eu"
refresh_interval = 3600                  # seconds; 0 = only on demand
dcat_ap_shapes = "/srv/DCAT-AP/releases/3.0.1"   # official SHACL release folder
health_namespace = "http://healthdataportal.eu/ns/health#"
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hyperfed.catalog.vocab import EHDS_LEGISLATION

__all__ = ["HEALTH_NAMESPACES", "CatalogSettings"]

HEALTH_NAMESPACES = (
    "http://healthdataportal.eu/ns/health#",
    "https://w3id.org/healthdcat-ap#",
)
"""The two HealthDCAT-AP namespaces in use: ckanext-dcat's (the default) and w3id's."""


class CatalogSettings(BaseModel):
    """Everything the catalogue needs to know; built once and injected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: Annotated[str, Field(pattern=r"^https?://[^\s?#]+$")]
    store: Path | None = None
    """Oxigraph folder; None keeps the catalogue in memory (tests, throwaway demos)."""
    title: str = "Hyperfed federated catalogue"
    description: str = (
        "Datasets of the nodes of a Hyperfed federation, described with DCAT-AP 3 and "
        "HealthDCAT-AP; counts are protected against small-cell disclosure."
    )
    publisher: str = "Hyperfed hub operator"
    publisher_url: str | None = None
    contact_email: str | None = None
    language: Annotated[str, Field(pattern=r"^[a-z]{2}$")] = "en"
    licence: str = "CC0-1.0"
    """Licence of the catalogue's own metadata (an SPDX id or an IRI)."""

    health_namespace: Annotated[str, Field(pattern=r"^https?://\S+[#/]$")] = HEALTH_NAMESPACES[0]
    health_category_base: Annotated[str, Field(pattern=r"^https?://\S+[#/]$")] = (
        "http://13.81.34.152:1101/resource/authority/healthcategories/"
    )
    """Where a bare health-category code (``EHRS``) points: HealthDCAT-AP Release 6
    (section 10.3.1) names this provisional vocabulary server."""
    applicable_legislation: list[str] = [EHDS_LEGISLATION]

    page_size: Annotated[int, Field(ge=1, le=10_000)] = 100
    max_page_size: Annotated[int, Field(ge=1, le=10_000)] = 1000

    refresh_interval: Annotated[float, Field(ge=0, le=7 * 86400)] = 3600.0
    refresh_concurrency: Annotated[int, Field(ge=1, le=64)] = 4
    fetch_timeout: Annotated[float, Field(gt=0, le=3600)] = 120.0
    """seconds a node has to send its publication (it computes its facts first)."""

    dcat_ap_shapes: Path | None = None
    """The official DCAT-AP 3.0.1 release folder (SEMICeu/DCAT-AP ``releases/3.0.1``);
    without it only the package's HealthDCAT-AP and Hyperfed shapes are checked."""
    shacl_warnings: bool = True
    """Also run DCAT-AP's recommended-property shapes (reported, never rejected)."""

    sparql_timeout: Annotated[float, Field(gt=0, le=600)] = 10.0
    sparql_max_results: Annotated[int, Field(ge=1, le=10_000_000)] = 10_000
    sparql_workers: Annotated[int, Field(ge=1, le=16)] = 1

    fdp_index_url: str | None = None
    """An FDP index to ping (e.g. https://index.fairdatapoint.org); None = never."""
    fdp_ping_interval: Annotated[float, Field(ge=60, le=30 * 86400)] = 7 * 86400.0

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")
