"""The human view: the same IRIs as HTML for a browser (Jinja2 templates, autoescaped).

Pages are rendered from the served RDF itself (the same N-Triples lines), so a browser
sees exactly what a harvester gets: datasets with their facets, licence, citation,
HealthDCAT-AP facts and links to every machine format.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from pyoxigraph import BlankNode, Literal, NamedNode, RdfFormat, parse

from hyperfed.catalog.documents import Page
from hyperfed.catalog.vocab import (
    ADMS,
    DCAT,
    DCT,
    FDP,
    FOAF,
    HF,
    LDP,
    RDF,
    RDFS,
    SKOS,
    VCARD,
    Namespace,
)

__all__ = ["DocIndex", "HtmlRenderer"]

FORMAT_LINKS = (
    ("Turtle", "ttl"),
    ("JSON-LD", "jsonld"),
    ("RDF/XML", "rdf"),
    ("N-Triples", "nt"),
)


class DocIndex:
    def __init__(self, lines: Sequence[bytes]) -> None:
        data = b"\n".join(lines) + b"\n"
        self.by_subject: dict[str, list[tuple[str, Any]]] = defaultdict(list)
        for q in parse(data, format=RdfFormat.N_TRIPLES):
            s = q.subject
            key = s.value if isinstance(s, NamedNode) else "_:" + s.value
            self.by_subject[key].append((q.predicate.value, q.object))

    def values(self, s: str, p: NamedNode) -> list[Any]:
        return [o for pred, o in self.by_subject.get(s, ()) if pred == p.value]

    def text(self, s: str, p: NamedNode) -> str:
        for o in self.values(s, p):
            if isinstance(o, Literal):
                return o.value
        return ""

    def texts(self, s: str, p: NamedNode) -> list[str]:
        return [o.value for o in self.values(s, p) if isinstance(o, Literal)]

    def iris(self, s: str, p: NamedNode) -> list[str]:
        return [o.value for o in self.values(s, p) if isinstance(o, NamedNode | BlankNode)]

    def label(self, s: str) -> str:
        for p in (SKOS.prefLabel, DCT.title, FOAF.name, VCARD.fn, RDFS.label):
            t = self.text(s, p)
            if t:
                return t
        return s.rstrip("/#").rsplit("/", 1)[-1]

    def is_a(self, s: str, cls: NamedNode) -> bool:
        return cls.value in (o.value for o in self.values(s, RDF.type) if isinstance(o, NamedNode))


@dataclass
class _Dataset:
    iri: str
    title: str
    description: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    facets: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    properties: list[tuple[str, list[tuple[str, str | None]]]] = field(default_factory=list)

    distributions: list[dict[str, Any]] = field(default_factory=list)
    citation: str = ""
    doi: str = ""


class HtmlRenderer:
    def __init__(self, health_namespace: str, title: str) -> None:
        self.health = Namespace(health_namespace)
        self.title = title
        self.env = Environment(
            loader=PackageLoader("hyperfed.catalog", "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def _dataset(self, doc: DocIndex, iri: str) -> _Dataset:
        h = self.health
        ds = _Dataset(
            iri=iri,
            title=doc.text(iri, DCT.title) or iri,
            description=doc.text(iri, DCT.description),
            citation=doc.text(iri, DCT.bibliographicCitation),
        )
        for ident in doc.iris(iri, ADMS.identifier):
            if ident.endswith("#doi"):
                ds.doi = doc.text(ident, SKOS.notation)
        facts = [
            ("Persons", h.numberOfUniqueIndividuals),
            (f"Records ({doc.text(iri, HF.recordKind) or 'records'})", h.numberOfRecords),
            ("Typical age from", h.minTypicalAge),
            ("Typical age to", h.maxTypicalAge),
        ]
        ds.facts = [(name, doc.text(iri, p)) for name, p in facts if doc.text(iri, p)]
        for period in doc.iris(iri, DCT.temporal):
            start, end = doc.text(period, DCAT.startDate), doc.text(period, DCAT.endDate)
            if start or end:
                ds.facts.append(("Temporal coverage", f"{start} to {end}"))
        k = doc.text(iri, HF.countThreshold)
        if k:
            ds.facts.append(("Counts", f"protected: none below {k}, rounded"))
        facets: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for node in doc.iris(iri, HF.facetValue):
            name = doc.text(node, HF.facet).replace("_", " ")
            facets[name].append((doc.text(node, RDF.value), doc.text(node, HF.persons)))
        codes = [(doc.label(c), doc.text(c, HF.persons)) for c in doc.iris(iri, h.hasCodeValues)]
        if codes:
            facets["code values"] = codes
        ds.facets = {k2: sorted(v) for k2, v in sorted(facets.items())}

        def links(p: NamedNode) -> list[tuple[str, str | None]]:
            out: list[tuple[str, str | None]] = []
            for o in doc.values(iri, p):
                if isinstance(o, Literal):
                    out.append((o.value, None))
                elif isinstance(o, NamedNode):
                    out.append((doc.label(o.value), o.value))
            return out

        rows = [
            ("Publisher", DCT.publisher),
            ("Contact", DCAT.contactPoint),
            ("Licence", DCT.license),
            ("Access rights", DCT.accessRights),
            ("Themes", DCAT.theme),
            ("Health categories", h.healthCategory),
            ("Keywords", DCAT.keyword),
            ("Conforms to", DCT.conformsTo),
            ("Coding systems", h.hasCodingSystem),
            ("Population", h.populationCoverage),
            ("Identifier", DCT.identifier),
            ("Issued", DCT.issued),
            ("Modified", DCT.modified),
            ("Landing page", DCAT.landingPage),
        ]
        ds.properties = [(name, v) for name, p in rows if (v := links(p))]
        for contact in doc.iris(iri, DCAT.contactPoint):
            emails = doc.iris(contact, VCARD.hasEmail)
            if emails:
                ds.properties.append(("E-mail", [(e.removeprefix("mailto:"), e) for e in emails]))
        for dist in sorted(doc.iris(iri, DCAT.distribution)):
            ds.distributions.append(
                {
                    "iri": dist,
                    "title": doc.text(dist, DCT.title) or dist,
                    "description": doc.text(dist, DCT.description),
                    "access": doc.iris(dist, DCAT.accessURL),
                    "download": doc.iris(dist, DCAT.downloadURL),
                    "media": [
                        m.rsplit("/media-types/", 1)[-1] for m in doc.iris(dist, DCAT.mediaType)
                    ],
                }
            )
        return ds

    def dataset(self, lines: Sequence[bytes], iri: str) -> str:
        doc = DocIndex(lines)
        return self.env.get_template("dataset.html").render(
            site=self.title, d=self._dataset(doc, iri), formats=FORMAT_LINKS, iri=iri
        )

    def page(self, page: Page, catalog_iri: str, heading: str) -> str:
        doc = DocIndex(page.lines)
        datasets = [self._dataset(doc, r.iri) for r in page.records]
        summary: dict[str, Counter[str]] = defaultdict(Counter)
        for d in datasets:
            for name, facet_values in d.facets.items():
                if name != "code values":
                    summary[name].update(v for v, _ in facet_values)
            for name, links in d.properties:
                if name in ("Licence", "Access rights", "Themes"):
                    summary[name.lower()].update(label for label, _ in links)
        subcatalogs = [(doc.label(c), c) for c in sorted(doc.iris(catalog_iri, DCAT.catalog))]
        return self.env.get_template("catalog.html").render(
            site=self.title,
            heading=doc.text(catalog_iri, DCT.title) or heading,
            description=doc.text(catalog_iri, DCT.description),
            page=page,
            datasets=datasets,
            facets={k: v.most_common(12) for k, v in sorted(summary.items())},
            subcatalogs=subcatalogs,
            formats=FORMAT_LINKS,
            iri=catalog_iri,
        )

    def resource(self, lines: Sequence[bytes], iri: str) -> str:
        """Any other resource: the FDP root, a sub-catalogue, a service."""
        doc = DocIndex(lines)
        rows: list[tuple[str, str, str | None]] = []
        for pred, obj in doc.by_subject.get(iri, ()):
            if pred in (LDP.contains.value, DCAT.dataset.value):
                continue
            name = pred.rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1]
            if isinstance(obj, Literal):
                rows.append((name, obj.value, None))
            elif isinstance(obj, NamedNode):
                rows.append((name, doc.label(obj.value), obj.value))
        members = sorted(
            {
                *doc.iris(iri, DCAT.dataset),
                *doc.iris(iri, FDP.metadataCatalog),
                *doc.iris(iri, DCAT.servesDataset),
            }
        )
        return self.env.get_template("resource.html").render(
            site=self.title,
            heading=doc.label(iri),
            description=doc.text(iri, DCT.description),
            rows=rows,
            members=[(doc.label(m), m) for m in members],
            formats=FORMAT_LINKS,
            iri=iri,
        )
