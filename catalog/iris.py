"""Stable IRIs under the public base URL, and the way back from a request path.

    {base}/                                      FAIR Data Point root (fdp-o:FAIRDataPoint)
    {base}/catalog                               the federation's dcat:Catalog (paged)
    {base}/catalog/{node}                        a node's sub-catalogue
    {base}/catalog/{node}/service                the node's feasibility dcat:DataService
    {base}/catalog/{node}/dataset/{id}           a dcat:Dataset
    {base}/catalog/{node}/dataset/{id}/distribution/{dist}   a dcat:Distribution
    {base}/services/feasibility | sparql         the hub's own dcat:DataServices

Auxiliary nodes (agents, contact points, identifiers, periods, licence documents of
custom licences, facet values) are hash IRIs of the resource they belong to
(``{dataset}#contact``), so they dereference to that resource's document and a
dataset's whole description is the set of subjects under its IRI. Blank nodes from an
operator's own RDF are skolemised the same way (``{dataset}#b-<hash>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

__all__ = ["ID_PATTERN", "Iris", "Target"]

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_ID = re.compile(ID_PATTERN)

Kind = Literal["fdp", "catalog", "node", "service", "dataset", "distribution", "hub-service"]


@dataclass(frozen=True)
class Target:
    """What a request path names."""

    kind: Kind
    node: str | None = None
    dataset: str | None = None
    distribution: str | None = None
    name: str | None = None


class Iris:
    """IRI minting for one public base URL (no trailing slash)."""

    HUB_SERVICES = ("feasibility", "sparql")

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")

    @property
    def fdp(self) -> str:
        return self.base + "/"

    @property
    def catalog(self) -> str:
        return self.base + "/catalog"

    def node(self, node: str) -> str:
        return f"{self.base}/catalog/{quote(node)}"

    def node_service(self, node: str) -> str:
        return f"{self.node(node)}/service"

    def dataset(self, node: str, dataset: str) -> str:
        return f"{self.node(node)}/dataset/{quote(dataset)}"

    def distribution(self, node: str, dataset: str, distribution: str) -> str:
        return f"{self.dataset(node, dataset)}/distribution/{quote(distribution)}"

    def hub_service(self, name: str) -> str:
        return f"{self.base}/services/{name}"

    @property
    def sparql_endpoint(self) -> str:
        return self.base + "/sparql"

    @property
    def feasibility_endpoint(self) -> str:
        return self.base + "/queries"

    def is_under(self, iri: str, owner: str) -> bool:
        """True when `iri` is `owner` or one of its hash or path descendants."""
        return iri == owner or iri.startswith(owner + "#") or iri.startswith(owner + "/")

    def parse(self, path: str) -> Target | None:
        """The resource a request path (without the base URL's own path) names, or None."""
        parts = [p for p in path.strip("/").split("/")]
        if parts == [""]:
            return Target("fdp")
        if parts[0] == "services" and len(parts) == 2 and parts[1] in self.HUB_SERVICES:
            return Target("hub-service", name=parts[1])
        if parts[0] != "catalog":
            return None
        rest = parts[1:]
        if not rest:
            return Target("catalog")
        if not all(_ID.match(p) for p in rest if p not in ("dataset", "distribution")):
            return None
        node = rest[0]
        if len(rest) == 1:
            return Target("node", node=node)
        if len(rest) == 2 and rest[1] == "service":
            return Target("service", node=node)
        if len(rest) == 3 and rest[1] == "dataset":
            return Target("dataset", node=node, dataset=rest[2])
        if len(rest) == 5 and rest[1] == "dataset" and rest[3] == "distribution":
            return Target("distribution", node=node, dataset=rest[2], distribution=rest[4])
        return None

    def iri_of(self, target: Target) -> str:
        match target.kind:
            case "fdp":
                return self.fdp
            case "catalog":
                return self.catalog
            case "hub-service":
                return self.hub_service(target.name or "")
        assert target.node is not None
        if target.kind == "node":
            return self.node(target.node)
        if target.kind == "service":
            return self.node_service(target.node)
        assert target.dataset is not None
        if target.kind == "dataset":
            return self.dataset(target.node, target.dataset)
        assert target.distribution is not None
        return self.distribution(target.node, target.dataset, target.distribution)
