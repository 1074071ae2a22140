"""What a node operator writes about each dataset, and what a node publishes to the hub.

In the node's TOML config, one ``[[datasets]]`` table per dataset:

    [[datasets]]
    id = "site-a-oncology"
    title = "Site A oncology cohort (OMOP CDM 5.4)"
    description = "Patients treated for cancer at Site A since 2010."
    visibility = "public"                 # public | protected | private
    access_rights = "NON_PUBLIC"          # EU access-right vocabulary
    keywords = ["oncology", "OMOP"]
    themes = ["HEAL"]                     # EU data themes (codes or IRIs)
    licence = "CC-BY-4.0"                 # SPDX id, an IRI, or a table (custom licence)
    doi = "10.1234/site-a-oncology"
    citation = "Site A (2024). Oncology cohort. doi:10.1234/site-a-oncology"
    conforms_to = ["https://ohdsi.github.io/CommonDataModel/cdm54.html"]
    health_categories = ["EHRS"]
    publisher = { name = "Site A University Hospital", url = "https://site-a.eu" }
    contact = { name = "Data office", email = "data@site-a.eu" }

or, for an operator who already has DCAT-AP RDF::

    [[datasets]]
    id = "site-a-imaging"
    visibility = "protected"
    rdf_file = "site-a-imaging.ttl"       # the node reads it and publishes its text

Counts and ages are never typed by hand: they come from the data, protected
(`hyperfed.adapters.facts`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from hyperfed.adapters.facts import ProtectedFacts
from hyperfed.catalog.iris import ID_PATTERN
from hyperfed.catalog.vocab import ACCESS_RIGHTS, LICENCES

__all__ = [
    "Agent",
    "ContactPoint",
    "CustomLicence",
    "DatasetDescription",
    "DatasetEntry",
    "DatasetRdf",
    "Distribution",
    "Identifier",
    "NodeInfo",
    "NodePublication",
    "Visibility",
]

Visibility = Literal["public", "protected", "private"]
AccessRight = Literal["PUBLIC", "RESTRICTED", "NON_PUBLIC"]
Id = Annotated[str, Field(pattern=ID_PATTERN)]
Text = Annotated[str, Field(min_length=1, max_length=20_000)]
_IRI_CHARS = r'[^\s<>"{}|\\^`]'
Iri = Annotated[str, Field(pattern=rf"^(https?|urn):{_IRI_CHARS}+$", max_length=2000)]
Url = Annotated[str, Field(pattern=rf"^https?://{_IRI_CHARS}+$", max_length=2000)]
Email = Annotated[str, Field(pattern=r'^[^@\s<>"]+@[^@\s<>"]+\.[^@\s<>"]+$', max_length=320)]
_DOI = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)?(10\.\d{4,9}/\S+)$", re.I)

assert set(ACCESS_RIGHTS) == {"PUBLIC", "RESTRICTED", "NON_PUBLIC"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Agent(_Strict):
    """An organisation or person (publisher, creator, health data access body)."""

    name: Text
    url: Iri | None = None
    """A stable IRI of the agent (ROR, an organisation's homepage ...)."""
    email: Email | None = None
    type: Iri | None = None
    """dct:type, e.g. an ADMS publisher type IRI."""


class ContactPoint(_Strict):
    name: Text
    email: Email | None = None
    url: Url | None = None

    @model_validator(mode="after")
    def _reachable(self) -> ContactPoint:
        if self.email is None and self.url is None:
            raise ValueError("a contact point needs an email or a url")
        return self


class CustomLicence(_Strict):
    """A data-sharing licence of one's own: a title and the URL of its text."""

    title: Text
    url: Url
    description: str | None = None


class Identifier(_Strict):
    """Another identifier of the dataset (adms:identifier): its value and scheme."""

    value: Annotated[str, Field(min_length=1, max_length=500)]
    scheme: Iri | None = None
    """e.g. https://registry.identifiers.org/registry/doi"""


class Distribution(_Strict):
    """A way to get at the data beyond the hub's feasibility API (a download, a portal)."""

    id: Id
    title: Text
    description: str | None = None
    access_url: Url
    download_url: Url | None = None
    media_type: Annotated[str, Field(pattern=r"^[\w.+-]+/[\w.+-]+$")] | None = None
    format: Annotated[str, Field(pattern=r"^[A-Z0-9_]+$")] | None = None
    """An EU file-type code (CSV, JSON, DCM ...)."""
    licence: str | CustomLicence | None = None
    byte_size: Annotated[int, Field(ge=0)] | None = None


class _Common(_Strict):
    id: Id
    visibility: Visibility = "public"
    facts: bool = True
    """Whether the node computes this dataset's facts from its source (through its
    adapter); false for a dataset the node describes but its source does not hold."""


class DatasetDescription(_Common):
    """A dataset described field by field (see the module docstring for TOML)."""

    title: Text
    description: Text
    access_rights: AccessRight = "NON_PUBLIC"
    publisher: Agent | None = None
    """Defaults to the node's publisher."""
    creators: list[Agent] = []
    contact: ContactPoint | None = None
    """Defaults to the node's contact point."""
    keywords: list[Annotated[str, Field(min_length=1, max_length=200)]] = []
    themes: list[str] = ["HEAL"]
    licence: str | CustomLicence | None = None
    doi: str | None = None
    identifiers: list[Identifier] = []
    citation: str | None = None
    conforms_to: list[Iri] = []
    language: list[Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]] = ["en"]
    landing_page: Url | None = None
    documentation: list[Url] = []
    version: Annotated[str, Field(max_length=100)] | None = None
    issued: dt.date | None = None
    spatial: list[Iri] = []
    health_categories: list[str] = []
    """HealthDCAT-AP health categories (codes like ``EHRS`` or IRIs); added to those the
    adapter reports."""
    health_themes: list[Iri] = []
    population_coverage: str | None = None
    """Free text; without it a sentence is made from the protected facts."""
    hdab: Agent | None = None
    """Health data access body (HealthDCAT-AP), when access goes through one."""
    legal_basis: list[Iri] = []
    purpose: list[Iri] = []
    personal_data: list[Iri] = []
    distributions: list[Distribution] = []

    @field_validator("doi")
    @classmethod
    def _doi(cls, value: str | None) -> str | None:
        if value is None:
            return None
        m = _DOI.match(value.strip())
        if not m:
            raise ValueError(f"{value!r} is not a DOI (10.NNNN/suffix)")
        return m.group(1)

    @field_validator("licence")
    @classmethod
    def _licence(cls, value: str | CustomLicence | None) -> str | CustomLicence | None:
        if isinstance(value, str) and value not in LICENCES and not re.match(r"^https?://", value):
            raise ValueError(
                f"{value!r} is neither a licence IRI nor one of {', '.join(sorted(LICENCES))}; "
                "describe a custom licence as {title = ..., url = ...}"
            )
        return value

    @model_validator(mode="after")
    def _unique_distributions(self) -> DatasetDescription:
        ids = [d.id for d in self.distributions]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"distribution ids must be unique; repeated: {twice}")
        if "feasibility" in ids:
            raise ValueError("distribution id 'feasibility' is reserved for the hub")
        return self


class DatasetRdf(_Common):
    """A dataset the operator already describes in DCAT-AP RDF (one dcat:Dataset)."""

    rdf: Annotated[str, Field(min_length=1, max_length=5_000_000)]
    format: Literal["turtle", "rdfxml", "jsonld", "ntriples"] = "turtle"


def _entry_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "rdf" if "rdf" in value else "fields"
    return "rdf" if isinstance(value, DatasetRdf) else "fields"


class DatasetEntry(_Strict):
    """One dataset as a node publishes it: its description and its protected facts."""

    description: Annotated[
        Annotated[DatasetDescription, Tag("fields")] | Annotated[DatasetRdf, Tag("rdf")],
        Discriminator(_entry_kind),
    ]
    facts: ProtectedFacts | None = None
    modified: dt.datetime | None = None
    """When the data last changed, if the node knows; else the hub tracks changes."""


class NodeInfo(_Strict):
    """What the node's sub-catalogue says about the node."""

    id: Id
    title: Text
    description: str | None = None
    publisher: Agent | None = None
    contact: ContactPoint | None = None
    homepage: Url | None = None
    model: str = "omop"


class NodePublication(_Strict):
    """Everything one node publishes to the hub's catalogue (JSON over the node API)."""

    node: NodeInfo
    datasets: list[DatasetEntry] = []

    @model_validator(mode="after")
    def _unique(self) -> NodePublication:
        ids = [d.description.id for d in self.datasets]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"dataset ids must be unique within a node; repeated: {twice}")
        return self
