"""DCAT-AP 3 / HealthDCAT-AP triples of one dataset, from an operator's description and
the dataset's protected facts. Pure: values in, triples out.

Every referenced vocabulary term is typed (``a skos:Concept`` with a label,
``a dct:RightsStatement``, ``a dct:LicenseDocument`` ...), so the DCAT-AP range shapes
(`sh:class`) pass on each served document, not only on the whole catalogue. Datasets are
also typed ``dcat:Resource`` with a ``dcat:version``, as FAIR Data Point records are.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from pyoxigraph import Literal, NamedNode

from hyperfed.adapters.facts import ProtectedFacts, temporal_coverage, typical_ages
from hyperfed.catalog.iris import Iris
from hyperfed.catalog.labels import DATA_THEMES, LANGUAGES, MEDIA_TYPE_FILE_TYPES
from hyperfed.catalog.model import (
    Agent,
    ContactPoint,
    CustomLicence,
    DatasetDescription,
    Distribution,
    NodeInfo,
)
from hyperfed.catalog.rdf import Graph, date_literal, datetime_literal, int_literal
from hyperfed.catalog.settings import CatalogSettings
from hyperfed.catalog.vocab import (
    ACCESS_RIGHT,
    ADMS,
    DATA_THEME,
    DCAT,
    DCATAP,
    DCT,
    DPV,
    FILE_TYPE,
    FOAF,
    HF,
    IANA,
    LANGUAGE,
    LDP,
    LICENCES,
    RDF,
    RDFS,
    SKOS,
    VCARD,
    XSD,
    Namespace,
)

__all__ = [
    "DOI_SCHEME",
    "ELI",
    "HQL_STANDARD",
    "DatasetBuilder",
    "agent_triples",
    "contact_triples",
    "issued_modified",
]

ELI = Namespace("http://data.europa.eu/eli/ontology#")
DOI_SCHEME = "https://registry.identifiers.org/registry/doi"
HQL_STANDARD = "https://w3id.org/hyperfed/hql/1"
FEASIBILITY = "feasibility"


@dataclass(frozen=True)
class _Ctx:
    node: NodeInfo
    iri: str
    lang: str


def agent_triples(g: Graph, node: str, agent: Agent, lang: str) -> None:
    """foaf:Agent `node` (an IRI) with its name, homepage, email and type."""
    g.typed(node, FOAF.Agent)
    g.add(node, FOAF.name, Literal(agent.name, language=lang))
    if agent.url:
        g.add(node, FOAF.homepage, agent.url)
        g.typed(agent.url, FOAF.Document)
    if agent.email:
        g.add(node, FOAF.mbox, f"mailto:{agent.email}")
    if agent.type:
        g.add(node, DCT.type, agent.type)
        g.typed(agent.type, SKOS.Concept)
        g.add(agent.type, SKOS.prefLabel, Literal(_tail(agent.type), language="en"))


def contact_triples(g: Graph, node: str, contact: ContactPoint, lang: str) -> None:
    g.typed(node, VCARD.Kind)
    g.add(node, VCARD.fn, Literal(contact.name, language=lang))
    if contact.email:
        g.add(node, VCARD.hasEmail, f"mailto:{contact.email}")
    if contact.url:
        g.add(node, VCARD.hasURL, contact.url)


def _tail(iri: str) -> str:
    return iri.rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1] or iri


def _slug(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


class DatasetBuilder:
    """Builds the triples of a node's datasets under one catalogue's settings."""

    def __init__(self, settings: CatalogSettings) -> None:
        self.settings = settings
        self.iris = Iris(settings.base_url)
        self.health = Namespace(settings.health_namespace)

    # -- vocabulary terms ------------------------------------------------------------

    def theme(self, g: Graph, code_or_iri: str) -> str:
        code = code_or_iri.upper()
        if code in DATA_THEMES:
            iri = DATA_THEME + code
            g.typed(iri, SKOS.Concept)
            g.add(iri, SKOS.prefLabel, Literal(DATA_THEMES[code], language="en"))
            return iri
        g.typed(code_or_iri, SKOS.Concept)
        g.add(code_or_iri, SKOS.prefLabel, Literal(_tail(code_or_iri), language="en"))
        return code_or_iri

    def health_category(self, code_or_iri: str) -> str:
        if code_or_iri.startswith(("http://", "https://")):
            return code_or_iri
        return self.settings.health_category_base + code_or_iri

    def licence(self, g: Graph, licence: str | CustomLicence) -> str:
        if isinstance(licence, CustomLicence):
            doc = str(licence.url)
            g.typed(doc, DCT.LicenseDocument)
            g.add(doc, DCT.title, Literal(licence.title, language=self.settings.language))
            if licence.description:
                g.add(doc, DCT.description, Literal(licence.description))
            return doc
        doc = LICENCES.get(licence, licence)
        g.typed(doc, DCT.LicenseDocument)
        if licence in LICENCES:
            g.add(doc, DCT.identifier, Literal(licence))
        return doc

    def language(self, g: Graph, code: str) -> str:
        iri = LANGUAGE + LANGUAGES.get(code, code.upper())
        g.typed(iri, DCT.LinguisticSystem)
        return iri

    # -- one dataset -----------------------------------------------------------------

    def dataset(self, node: NodeInfo, d: DatasetDescription, facts: ProtectedFacts | None) -> Graph:
        """The dataset's own triples (without dct:issued / dct:modified, which the store
        adds from its change tracking)."""
        ds = self.iris.dataset(node.id, d.id)
        lang = d.language[0] if d.language else self.settings.language
        ctx = _Ctx(node=node, iri=ds, lang=lang)
        g = Graph()
        g.typed(ds, DCAT.Dataset, DCAT.Resource)
        g.add(ds, DCT.title, Literal(d.title, language=lang))
        g.add(ds, DCT.description, Literal(d.description, language=lang))
        g.add(ds, DCAT.version, Literal(d.version or "1"))
        doi_url = f"https://doi.org/{d.doi}" if d.doi else None
        g.add(ds, DCT.identifier, Literal(doi_url or ds))
        self._identifiers(g, ctx, d)
        publisher = d.publisher or node.publisher or Agent(name=node.title)
        agent_triples(g, ds + "#publisher", publisher, lang)
        g.add(ds, DCT.publisher, ds + "#publisher")
        for i, creator in enumerate(d.creators):
            agent_triples(g, f"{ds}#creator-{i + 1}", creator, lang)
            g.add(ds, DCT.creator, f"{ds}#creator-{i + 1}")
        contact = d.contact or node.contact
        if contact is not None:
            contact_triples(g, ds + "#contact", contact, lang)
            g.add(ds, DCAT.contactPoint, ds + "#contact")
        for kw in d.keywords:
            g.add(ds, DCAT.keyword, Literal(kw, language=lang))
        themes = list(dict.fromkeys([*d.themes, "HEAL"]))
        for theme in themes:
            g.add(ds, DCAT.theme, self.theme(g, theme))
        rights = ACCESS_RIGHT + d.access_rights
        g.typed(rights, DCT.RightsStatement)
        g.add(rights, RDFS.label, Literal(d.access_rights.replace("_", " ").lower(), language="en"))
        g.add(ds, DCT.accessRights, rights)
        licence_iri = self.licence(g, d.licence) if d.licence else None
        if licence_iri:
            g.add(ds, DCT.license, licence_iri)
        for standard in d.conforms_to:
            g.typed(standard, DCT.Standard)
            g.add(ds, DCT.conformsTo, standard)
        for code in d.language:
            g.add(ds, DCT.language, self.language(g, code))
        if d.landing_page:
            g.typed(d.landing_page, FOAF.Document)
            g.add(ds, DCAT.landingPage, d.landing_page)
        for page in d.documentation:
            g.typed(page, FOAF.Document)
            g.add(ds, FOAF.page, page)
        for place in d.spatial:
            g.typed(place, DCT.Location)
            g.add(ds, DCT.spatial, place)
        for law in self.settings.applicable_legislation:
            g.typed(law, ELI.LegalResource)
            g.add(ds, DCATAP.applicableLegislation, law)
        g.add(ds, DCT.bibliographicCitation, Literal(d.citation or self.citation(d, node)))
        self._health(g, ctx, d, facts)
        self._feasibility_distribution(g, ctx, licence_iri)
        for dist in d.distributions:
            self._distribution(g, ctx, dist)
        self.containers(g, ds)
        return g

    def citation(self, d: DatasetDescription, node: NodeInfo) -> str:
        """A citation in the DataCite recommended form: Creator (Year). Title. Publisher. ID"""
        publisher = (d.publisher or node.publisher or Agent(name=node.title)).name
        creators = "; ".join(c.name for c in d.creators) or publisher
        year = f" ({d.issued.year})" if d.issued else ""
        ident = f"https://doi.org/{d.doi}" if d.doi else self.iris.dataset(node.id, d.id)
        version = f" Version {d.version}." if d.version else ""
        return f"{creators}{year}. {d.title}.{version} {publisher}. {ident}"

    def _identifiers(self, g: Graph, ctx: _Ctx, d: DatasetDescription) -> None:
        ds = ctx.iri
        if d.doi:
            node = ds + "#doi"
            g.typed(node, ADMS.Identifier)
            g.add(node, SKOS.notation, Literal(d.doi, datatype=NamedNode(DOI_SCHEME)))
            g.add(node, ADMS.schemaAgency, Literal("DataCite"))
            g.add(ds, ADMS.identifier, node)
        for ident in d.identifiers:
            node = f"{ds}#identifier-{_slug(ident.value, ident.scheme or '')}"
            g.typed(node, ADMS.Identifier)
            if ident.scheme:
                g.add(node, SKOS.notation, Literal(ident.value, datatype=NamedNode(ident.scheme)))
            else:
                g.add(node, SKOS.notation, Literal(ident.value))
            g.add(ds, ADMS.identifier, node)

    def _health(
        self, g: Graph, ctx: _Ctx, d: DatasetDescription, facts: ProtectedFacts | None
    ) -> None:
        ds, h, lang = ctx.iri, self.health, ctx.lang
        for cat in d.health_categories:
            g.add(ds, h.healthCategory, self.health_category(cat))
        for theme in d.health_themes:
            g.add(ds, h.healthTheme, theme)
        if d.hdab is not None:
            agent_triples(g, ds + "#hdab", d.hdab, lang)
            g.add(ds, h.hdab, ds + "#hdab")
        for value in d.legal_basis:
            g.add(ds, DPV.hasLegalBasis, value)
        for value in d.purpose:
            g.add(ds, DPV.hasPurpose, value)
        for value in d.personal_data:
            g.add(ds, DPV.hasPersonalData, value)
        if d.population_coverage:
            g.add(ds, h.populationCoverage, Literal(d.population_coverage, language=lang))
        self.facts(g, ds, facts, lang, coverage=not d.population_coverage)

    def facts(
        self, g: Graph, ds: str, facts: ProtectedFacts | None, lang: str, *, coverage: bool
    ) -> None:
        """The HealthDCAT-AP facts of dataset `ds` (only protected numbers)."""
        if facts is None:
            return
        h = self.health
        sentence = self.population_sentence(facts) if coverage else None
        if sentence:
            g.add(ds, h.populationCoverage, Literal(sentence, language=lang))
        for cat in facts.health_categories:
            g.add(ds, h.healthCategory, self.health_category(cat))
        g.add(ds, HF.countThreshold, int_literal(facts.threshold))
        if facts.persons is not None:
            g.add(ds, h.numberOfUniqueIndividuals, int_literal(facts.persons))
        if facts.records is not None:
            g.add(ds, h.numberOfRecords, int_literal(facts.records))
            g.add(ds, HF.recordKind, Literal(facts.record_kind))
        ages = typical_ages(facts)
        if ages is not None:
            g.add(ds, h.minTypicalAge, int_literal(ages[0]))
            g.add(ds, h.maxTypicalAge, int_literal(ages[1]))
        period = temporal_coverage(facts)
        if period is not None:
            node = ds + "#temporal"
            g.typed(node, DCT.PeriodOfTime)
            g.add(node, DCAT.startDate, date_literal(period[0]))
            g.add(node, DCAT.endDate, date_literal(period[1]))
            g.add(ds, DCT.temporal, node)
        for system in facts.coding_systems:
            g.add(ds, h.hasCodingSystem, system.value)
            g.typed(system.value, DCT.Standard)
        for code in facts.code_values:
            node = f"{ds}#code-{_slug(code.system, code.code)}"
            g.typed(node, SKOS.Concept)
            g.add(node, SKOS.notation, Literal(code.code))
            g.add(node, SKOS.prefLabel, Literal(f"{_tail(code.system)} {code.code}"))
            g.add(node, SKOS.inScheme, code.system)
            g.add(node, HF.persons, int_literal(code.count))
            g.add(ds, h.hasCodeValues, node)
        facets = dict(facts.facets)
        if "sex" not in facets and facts.sexes:
            facets["sex"] = facts.sexes
        for name in sorted(facets):
            prop = HF.term(_camel(name))
            for value in facets[name]:
                node = f"{ds}#facet-{_slug(name, value.value)}"
                g.typed(node, HF.FacetValue)
                g.add(node, HF.facet, Literal(name))
                g.add(node, RDF.value, Literal(value.value))
                g.add(node, HF.persons, int_literal(value.count))
                g.add(ds, HF.facetValue, node)
                g.add(ds, prop, Literal(value.value))

    def augment(
        self, g: Graph, node: NodeInfo, dataset_id: str, facts: ProtectedFacts | None
    ) -> None:
        """What the hub adds to an operator's own RDF description: dcat:Resource typing
        and a version (FAIR Data Point), the HEAL theme and the applicable legislation
        (HealthDCAT-AP), a publisher when there is none, the protected facts and the
        feasibility distribution."""
        ds = self.iris.dataset(node.id, dataset_id)
        subject = NamedNode(ds)
        mine = [t for t in g if t.subject == subject]
        has = {t.predicate for t in mine}
        lang = self.settings.language
        g.typed(ds, DCAT.Resource)
        if DCAT.version not in has:
            g.add(ds, DCAT.version, Literal("1"))
        g.add(ds, DCAT.theme, self.theme(g, "HEAL"))
        for law in self.settings.applicable_legislation:
            g.typed(law, ELI.LegalResource)
            g.add(ds, DCATAP.applicableLegislation, law)
        if DCT.publisher not in has:
            agent_triples(g, ds + "#publisher", node.publisher or Agent(name=node.title), lang)
            g.add(ds, DCT.publisher, ds + "#publisher")
        if DCAT.contactPoint not in has and node.contact is not None:
            contact_triples(g, ds + "#contact", node.contact, lang)
            g.add(ds, DCAT.contactPoint, ds + "#contact")
        if DCT.bibliographicCitation not in has:
            title = next(
                (
                    t.object.value
                    for t in mine
                    if t.predicate == DCT.title and isinstance(t.object, Literal)
                ),
                dataset_id,
            )
            publisher = (node.publisher or Agent(name=node.title)).name
            g.add(ds, DCT.bibliographicCitation, Literal(f"{publisher}. {title}. {ds}"))
        licence = next((t.object for t in mine if t.predicate == DCT.license), None)
        coverage = self.health.populationCoverage not in has
        self.facts(g, ds, facts, lang, coverage=coverage)
        ctx = _Ctx(node=node, iri=ds, lang=lang)
        self._feasibility_distribution(
            g, ctx, licence.value if isinstance(licence, NamedNode) else None
        )

    def containers(self, g: Graph, ds: str) -> None:
        """The FAIR Data Point ldp:DirectContainer of the dataset's distributions."""
        subject = NamedNode(ds)
        dists = [t.object for t in g if t.subject == subject and t.predicate == DCAT.distribution]
        container = ds + "#distributions"
        g.typed(container, LDP.DirectContainer)
        g.add(container, DCT.title, Literal("Distributions", language="en"))
        g.add(container, LDP.membershipResource, ds)
        g.add(container, LDP.hasMemberRelation, DCAT.distribution)
        for dist in dists:
            if isinstance(dist, NamedNode):
                g.add(container, LDP.contains, dist)

    def population_sentence(self, facts: ProtectedFacts) -> str | None:
        """A population-coverage sentence made only of protected numbers."""
        parts: list[str] = []
        if facts.persons is not None:
            parts.append(f"about {facts.persons:,} persons")
        sexes = ", ".join(f"{s.value} {s.count:,}" for s in facts.sexes)
        if sexes:
            parts.append(f"by sex: {sexes}")
        ages = typical_ages(facts)
        if ages is not None:
            parts.append(f"typically aged {ages[0]} to {ages[1]}")
        if not parts:
            return None
        note = f" (counts under {facts.threshold} are not shown; all counts are rounded)"
        return "Persons in the data: " + "; ".join(parts) + note

    def _feasibility_distribution(self, g: Graph, ctx: _Ctx, licence: str | None) -> None:
        node = ctx.node.id
        dist = ctx.iri + "/distribution/" + FEASIBILITY
        service = self.iris.node_service(node)
        g.typed(dist, DCAT.Distribution)
        g.add(dist, DCT.title, Literal("Feasibility counts (Hyperfed HQL)", language="en"))
        g.add(
            dist,
            DCT.description,
            Literal(
                "Aggregate counts of persons matching a feasibility query, answered by the "
                "node and protected against small-cell disclosure; no patient-level data.",
                language="en",
            ),
        )
        g.add(dist, DCAT.accessURL, self.iris.feasibility_endpoint)
        g.add(dist, DCAT.accessService, service)
        self._media(g, dist, "application/json", None)
        g.add(dist, DCT.conformsTo, HQL_STANDARD)
        g.typed(HQL_STANDARD, DCT.Standard)
        if licence:
            g.add(dist, DCT.license, licence)
        g.add(ctx.iri, DCAT.distribution, dist)

    def _media(self, g: Graph, dist: str, media_type: str | None, fmt: str | None) -> None:
        if media_type:
            mt = IANA + media_type
            g.typed(mt, DCT.MediaType)
            g.add(dist, DCAT.mediaType, mt)
        code = fmt or (MEDIA_TYPE_FILE_TYPES.get(media_type) if media_type else None)
        if code:
            ft = FILE_TYPE + code
            g.typed(ft, DCT.MediaTypeOrExtent)
            g.add(dist, DCT.format, ft)

    def _distribution(self, g: Graph, ctx: _Ctx, d: Distribution) -> None:
        dist = ctx.iri + "/distribution/" + d.id
        g.typed(dist, DCAT.Distribution)
        g.add(dist, DCT.title, Literal(d.title, language=ctx.lang))
        if d.description:
            g.add(dist, DCT.description, Literal(d.description, language=ctx.lang))
        g.add(dist, DCAT.accessURL, d.access_url)
        if d.download_url:
            g.add(dist, DCAT.downloadURL, d.download_url)
        self._media(g, dist, d.media_type, d.format)
        if d.licence:
            g.add(dist, DCT.license, self.licence(g, d.licence))
        if d.byte_size is not None:
            g.add(dist, DCAT.byteSize, Literal(str(d.byte_size), datatype=XSD.nonNegativeInteger))
        g.add(ctx.iri, DCAT.distribution, dist)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(r.capitalize() for r in rest)


def issued_modified(g: Graph, iri: str, issued: dt.datetime, modified: dt.datetime) -> None:
    g.add(iri, DCT.issued, datetime_literal(issued))
    g.add(iri, DCT.modified, datetime_literal(modified))
