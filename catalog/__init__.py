"""The FAIR catalogue: DCAT-AP 3 / HealthDCAT-AP, assembled from the nodes.

Each node publishes a `NodePublication` (its operators' dataset descriptions, field by
field or as their own DCAT-AP RDF, plus each dataset's protected facts from
`hyperfed.adapters.facts`); the hub validates it with pyshacl against the official
DCAT-AP 3.0.1 shapes and the package's HealthDCAT-AP shapes, and stores it in Oxigraph,
one named graph per node under one root ``dcat:Catalog``. `catalog_router` serves it:
dereferenceable IRIs with content negotiation, paged harvesting (hydra), a FAIR Data
Point root, HTML, DataCite JSON and read-only SPARQL.

    >>> from hyperfed.catalog import Catalog, CatalogSettings, catalog_router
    >>> catalog = Catalog(CatalogSettings(base_url="https://hub.example.eu"))
    >>> router = catalog_router(catalog)          # app.include_router(router)

Errors::

    CatalogError                          base; `.status` is the HTTP status
    ├── SettingsInvalid (ValueError)      settings that cannot work (500 at startup)
    ├── BadRequest (ValueError)           a bad page, date or format (400)
    │   └── (formats) NotAcceptable       no acceptable format (406)
    ├── NotFound (LookupError)            no public resource there (404)
    ├── DescriptionInvalid (ValueError)   unreadable publication: fields, RDF, IRIs (422);
    │   └── ShaclViolations               breaks DCAT-AP / HealthDCAT-AP shapes (422);
    │                                     `.problems` lists (focus, path, message)
    ├── StoreFailed (OSError)             the Oxigraph store failed (500)
    └── CatalogUnavailable                a node fetch failed, store unavailable (503)

SPARQL errors come from `hyperfed.ontology` (SparqlRejected 400, SparqlTooLarge 400,
SparqlTimeout 503, SparqlFailed 500).
"""

from hyperfed.catalog.documents import Page, PageRequest
from hyperfed.catalog.errors import (
    BadRequest,
    CatalogError,
    CatalogUnavailable,
    DescriptionInvalid,
    NotFound,
    Problem,
    SettingsInvalid,
    ShaclViolations,
    StoreFailed,
)
from hyperfed.catalog.formats import NotAcceptable
from hyperfed.catalog.iris import Iris, Target
from hyperfed.catalog.model import (
    Agent,
    ContactPoint,
    CustomLicence,
    DatasetDescription,
    DatasetEntry,
    DatasetRdf,
    Distribution,
    Identifier,
    NodeInfo,
    NodePublication,
)
from hyperfed.catalog.refresh import Refresher, ping_fdp_index
from hyperfed.catalog.router import catalog_router
from hyperfed.catalog.service import Catalog, NodeStatus, PublishReport
from hyperfed.catalog.settings import HEALTH_NAMESPACES, CatalogSettings
from hyperfed.catalog.shacl import Validator

__all__ = [
    "HEALTH_NAMESPACES",
    "Agent",
    "BadRequest",
    "Catalog",
    "CatalogError",
    "CatalogSettings",
    "CatalogUnavailable",
    "ContactPoint",
    "CustomLicence",
    "DatasetDescription",
    "DatasetEntry",
    "DatasetRdf",
    "DescriptionInvalid",
    "Distribution",
    "Identifier",
    "Iris",
    "NodeInfo",
    "NodePublication",
    "NodeStatus",
    "NotAcceptable",
    "NotFound",
    "Page",
    "PageRequest",
    "Problem",
    "PublishReport",
    "Refresher",
    "SettingsInvalid",
    "ShaclViolations",
    "StoreFailed",
    "Target",
    "Validator",
    "catalog_router",
    "ping_fdp_index",
]
