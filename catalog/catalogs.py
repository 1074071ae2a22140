"""Triples of the catalogues and services: a node's sub-catalogue and feasibility
DataService, the federation's root dcat:Catalog with the hub's own DataServices, and the
FAIR Data Point 1.2 root with its ldp:DirectContainer of catalogues. Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pyoxigraph import Literal

from hyperfed.catalog.build import HQL_STANDARD, agent_triples, contact_triples
from hyperfed.catalog.iris import Iris
from hyperfed.catalog.model import Agent, ContactPoint, NodeInfo
from hyperfed.catalog.rdf import Graph, datetime_literal
from hyperfed.catalog.settings import CatalogSettings
from hyperfed.catalog.vocab import (
    ADMS,
    DCAT,
    DCT,
    FDP,
    FDP_SPEC,
    FOAF,
    LANGUAGE,
    LDP,
    LICENCES,
    SKOS,
)

__all__ = ["NodeSummary", "hub_graph", "node_graph"]

SPARQL_PROTOCOL = "https://www.w3.org/TR/sparql11-protocol/"
ISO639_1 = "http://id.loc.gov/vocabulary/iso639-1/"


@dataclass(frozen=True)
class NodeSummary:
    """What the root catalogue needs to know of a node's sub-catalogue."""

    id: str
    title: str
    modified: dt.datetime


def _licence(g: Graph, settings: CatalogSettings) -> str:
    doc = LICENCES.get(settings.licence, settings.licence)
    g.typed(doc, DCT.LicenseDocument)
    return doc


def _language(g: Graph, settings: CatalogSettings) -> str:
    from hyperfed.catalog.labels import LANGUAGES

    iri = LANGUAGE + LANGUAGES.get(settings.language, settings.language.upper())
    g.typed(iri, DCT.LinguisticSystem)
    return iri


def node_graph(
    settings: CatalogSettings,
    node: NodeInfo,
    datasets: Sequence[str],
    issued: dt.datetime,
    modified: dt.datetime,
) -> Graph:
    """A node's sub-catalogue (listing `datasets`, IRIs) and its feasibility DataService."""
    iris = Iris(settings.base_url)
    lang = settings.language
    cat = iris.node(node.id)
    service = iris.node_service(node.id)
    g = Graph()
    publisher = cat + "#publisher"
    agent_triples(g, publisher, node.publisher or Agent(name=node.title), lang)
    g.typed(cat, DCAT.Catalog, DCAT.Resource)
    g.add(cat, DCT.title, Literal(node.title, language=lang))
    g.add(
        cat,
        DCT.description,
        Literal(node.description or f"Datasets held by the node {node.title}.", language=lang),
    )
    g.add(cat, DCT.publisher, publisher)
    g.add(cat, DCAT.version, Literal("1"))
    g.add(cat, DCT.license, _licence(g, settings))
    g.add(cat, DCT.language, _language(g, settings))
    g.add(cat, DCT.issued, datetime_literal(issued))
    g.add(cat, DCT.modified, datetime_literal(modified))
    if node.homepage:
        g.typed(node.homepage, FOAF.Document)
        g.add(cat, FOAF.homepage, node.homepage)
    if node.contact is not None:
        contact_triples(g, cat + "#contact", node.contact, lang)
        g.add(cat, DCAT.contactPoint, cat + "#contact")
    g.add(cat, DCAT.service, service)
    for ds in datasets:
        g.add(cat, DCAT.dataset, ds)

    g.typed(service, DCAT.DataService, DCAT.Resource)
    g.add(service, DCT.title, Literal(f"Feasibility counts of {node.title}", language=lang))
    g.add(
        service,
        DCT.description,
        Literal(
            f"Counts of persons in the data of {node.title} ({node.model} data model) for a "
            "Hyperfed feasibility query, sent through the hub; only protected aggregate "
            "counts leave the node.",
            language=lang,
        ),
    )
    g.add(service, DCT.publisher, publisher)
    g.add(service, DCAT.version, Literal("1"))
    g.add(service, DCAT.endpointURL, iris.feasibility_endpoint)
    # dcat:endpointDescription is left out: DCAT-AP 3.0.1's two SHACL files disagree on
    # its node kind (IRI in html/shacl/shapes.ttl, Literal in shacl/dcat-ap-SHACL.ttl)
    g.add(service, DCAT.landingPage, settings.base_url + "/docs")
    g.typed(settings.base_url + "/docs", FOAF.Document)
    g.add(service, DCT.conformsTo, HQL_STANDARD)
    g.typed(HQL_STANDARD, DCT.Standard)
    g.add(service, DCT.license, _licence(g, settings))
    for ds in datasets:
        g.add(service, DCAT.servesDataset, ds)

    container = cat + "#datasets"
    g.typed(container, LDP.DirectContainer)
    g.add(container, DCT.title, Literal("Datasets", language="en"))
    g.add(container, LDP.membershipResource, cat)
    g.add(container, LDP.hasMemberRelation, DCAT.dataset)
    for ds in datasets:
        g.add(container, LDP.contains, ds)
    return g


def _hub_publisher(g: Graph, settings: CatalogSettings, iri: str) -> None:
    agent = Agent(name=settings.publisher, url=settings.publisher_url, email=settings.contact_email)
    agent_triples(g, iri, agent, settings.language)


def hub_graph(
    settings: CatalogSettings, nodes: Sequence[NodeSummary], started: dt.datetime
) -> Graph:
    """The root catalogue, the hub's DataServices and the FAIR Data Point root."""
    iris = Iris(settings.base_url)
    lang = settings.language
    g = Graph()
    root = iris.catalog
    publisher = root + "#publisher"
    _hub_publisher(g, settings, publisher)
    modified = max((n.modified for n in nodes), default=started)
    g.typed(root, DCAT.Catalog, DCAT.Resource)
    g.add(root, DCT.title, Literal(settings.title, language=lang))
    g.add(root, DCT.description, Literal(settings.description, language=lang))
    g.add(root, DCT.publisher, publisher)
    g.add(root, DCAT.version, Literal("1"))
    g.add(root, DCT.license, _licence(g, settings))
    g.add(root, DCT.language, _language(g, settings))
    g.add(root, DCT.issued, datetime_literal(started))
    g.add(root, DCT.modified, datetime_literal(modified))
    if settings.publisher_url:
        g.add(root, FOAF.homepage, settings.publisher_url)
    if settings.contact_email:
        contact = ContactPoint(name=settings.publisher, email=settings.contact_email)
        contact_triples(g, root + "#contact", contact, lang)
        g.add(root, DCAT.contactPoint, root + "#contact")
    for node in nodes:
        g.add(root, DCAT.catalog, iris.node(node.id))
        g.add(root, DCT.hasPart, iris.node(node.id))

    services = {
        "feasibility": (
            "Hyperfed feasibility queries",
            "One feasibility query (HQL JSON) sent to every node; protected counts per node "
            "and in total.",
            iris.feasibility_endpoint,
            settings.base_url + "/docs",
            HQL_STANDARD,
        ),
        "sparql": (
            "SPARQL endpoint of the catalogue",
            "Read-only SPARQL 1.1 over the public catalogue and the hyperontology.",
            iris.sparql_endpoint,
            settings.base_url + "/docs",
            SPARQL_PROTOCOL,
        ),
    }
    for name, (title, text, endpoint, describes, standard) in services.items():
        svc = iris.hub_service(name)
        g.typed(svc, DCAT.DataService, DCAT.Resource)
        g.add(svc, DCT.title, Literal(title, language="en"))
        g.add(svc, DCT.description, Literal(text, language="en"))
        g.add(svc, DCT.publisher, publisher)
        g.add(svc, DCAT.version, Literal("1"))
        g.add(svc, DCAT.endpointURL, endpoint)
        g.add(svc, DCAT.landingPage, describes)
        g.typed(describes, FOAF.Document)
        g.add(svc, DCT.conformsTo, standard)
        g.typed(standard, DCT.Standard)
        g.add(root, DCAT.service, svc)

    fdp = iris.fdp
    g.typed(fdp, FDP.FAIRDataPoint, FDP.MetadataService, DCAT.DataService, DCAT.Resource)
    g.add(fdp, DCT.title, Literal(f"{settings.title} (FAIR Data Point)", language=lang))
    g.add(fdp, DCT.description, Literal(settings.description, language=lang))
    g.add(fdp, DCT.publisher, publisher)
    g.add(fdp, DCAT.version, Literal("1"))
    g.add(fdp, DCT.license, _licence(g, settings))
    g.add(fdp, DCT.language, _language(g, settings))
    g.add(fdp, DCT.conformsTo, FDP_SPEC)
    g.typed(FDP_SPEC, DCT.Standard)
    g.add(fdp, DCAT.endpointURL, fdp)
    g.add(fdp, FDP.uiLanguage, ISO639_1 + settings.language)
    identifier = fdp + "#identifier"
    g.typed(identifier, ADMS.Identifier)
    g.add(identifier, SKOS.notation, Literal(fdp))
    g.add(fdp, FDP.metadataIdentifier, identifier)
    g.add(fdp, FDP.metadataIssued, datetime_literal(started))
    g.add(fdp, FDP.metadataModified, datetime_literal(modified))
    g.add(fdp, DCT.issued, datetime_literal(started))
    g.add(fdp, DCT.modified, datetime_literal(modified))
    container = fdp + "#catalogs"
    g.typed(container, LDP.DirectContainer)
    g.add(container, DCT.title, Literal("Catalogues", language="en"))
    g.add(container, LDP.membershipResource, fdp)
    g.add(container, LDP.hasMemberRelation, FDP.metadataCatalog)
    for node in nodes:
        g.add(fdp, FDP.metadataCatalog, iris.node(node.id))
        g.add(container, LDP.contains, iris.node(node.id))
    return g
