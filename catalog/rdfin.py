"""DCAT-AP RDF an operator already has, brought under the hub's IRIs.

The text must describe exactly one ``dcat:Dataset``. It becomes
``{base}/catalog/{node}/dataset/{id}``; its distributions become
``.../distribution/{n}``; blank nodes become hash IRIs of the dataset (``#b1``, ``#b2``
... in order of appearance); the original dataset IRI is kept as an
``adms:identifier``. Other IRIs stay as they are, except IRIs under the hub's own base
URL, which a node may not claim. Catalogue and catalogue-record triples are dropped
(the hub makes its own). So are hand-typed counts and ages (``numberOfUniqueIndividuals``,
``numberOfRecords``, ``minTypicalAge``, ``maxTypicalAge`` in either HealthDCAT-AP
namespace, and the hub's own facet properties): those come from the data, protected; each
drop is reported as a note.

Referenced terms are typed by the DCAT-AP range of the property that refers to them
(``dcat:theme`` objects ``a skos:Concept`` ...), which the range shapes need; a concept
without a label gets its last IRI segment as ``skos:prefLabel``.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field

from pyoxigraph import BlankNode, Literal, NamedNode, RdfFormat, Triple, parse

from hyperfed.catalog.errors import DescriptionInvalid, Problem
from hyperfed.catalog.iris import Iris
from hyperfed.catalog.model import DatasetRdf
from hyperfed.catalog.rdf import Graph, Term
from hyperfed.catalog.settings import HEALTH_NAMESPACES
from hyperfed.catalog.vocab import ADMS, DCAT, DCT, FOAF, HF, RDF, SKOS, VCARD

__all__ = ["Imported", "import_rdf", "type_by_range"]

_FORMATS = {
    "turtle": RdfFormat.TURTLE,
    "rdfxml": RdfFormat.RDF_XML,
    "jsonld": RdfFormat.JSON_LD,
    "ntriples": RdfFormat.N_TRIPLES,
}
_HAND_COUNTS = frozenset(
    ns + local
    for ns in HEALTH_NAMESPACES
    for local in ("numberOfUniqueIndividuals", "numberOfRecords", "minTypicalAge", "maxTypicalAge")
)
_DROP_TYPES = frozenset({DCAT.Catalog, DCAT.CatalogRecord})
_ID_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

RANGES: dict[NamedNode, NamedNode] = {
    DCAT.theme: SKOS.Concept,
    DCT.type: SKOS.Concept,
    DCT.accessRights: DCT.RightsStatement,
    DCT.license: DCT.LicenseDocument,
    DCT.language: DCT.LinguisticSystem,
    DCT.conformsTo: DCT.Standard,
    DCT.publisher: FOAF.Agent,
    DCT.creator: FOAF.Agent,
    DCAT.contactPoint: VCARD.Kind,
    DCAT.landingPage: FOAF.Document,
    FOAF.page: FOAF.Document,
    DCAT.mediaType: DCT.MediaType,
    DCT.format: DCT.MediaTypeOrExtent,
    DCT.spatial: DCT.Location,
    DCT.temporal: DCT.PeriodOfTime,
    DCT.rights: DCT.RightsStatement,
    ADMS.identifier: ADMS.Identifier,
}
"""The DCAT-AP 3.0.1 class ranges (range.ttl) the import fills in."""


@dataclass
class Imported:
    graph: Graph
    issued: dt.datetime | None = None
    notes: list[str] = field(default_factory=list)


def _tail(iri: str) -> str:
    return iri.rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1] or iri


def type_by_range(g: Graph) -> None:
    """Add ``a <range>`` (and a label for concepts) to objects of ranged properties."""
    triples = g.triples
    typed = {(t.subject, t.object) for t in triples if t.predicate == RDF.type}
    labelled = {t.subject for t in triples if t.predicate == SKOS.prefLabel}
    for t in triples:
        cls = RANGES.get(t.predicate)
        obj = t.object
        if cls is None or not isinstance(obj, NamedNode | BlankNode):
            continue
        if (obj, cls) not in typed:
            g.add(obj, RDF.type, cls)
            typed.add((obj, cls))
        if cls == SKOS.Concept and obj not in labelled and isinstance(obj, NamedNode):
            g.add(obj, SKOS.prefLabel, Literal(_tail(obj.value), language="en"))
            labelled.add(obj)


def _parse(entry: DatasetRdf, base: str) -> list[Triple]:
    try:
        quads = list(
            parse(io.BytesIO(entry.rdf.encode()), format=_FORMATS[entry.format], base_iri=base)
        )
    except (SyntaxError, ValueError) as exc:
        raise DescriptionInvalid(
            f"dataset {entry.id}: the {entry.format} text cannot be parsed: {exc}",
            [Problem(focus=f"datasets[{entry.id}].rdf", path="", message=str(exc))],
        ) from exc
    return [q.triple for q in quads]


def import_rdf(entry: DatasetRdf, node: str, iris: Iris) -> Imported:
    """The operator's RDF for `entry`, rewritten under the hub's IRIs (module docstring)."""
    ds = iris.dataset(node, entry.id)
    triples = _parse(entry, ds)
    where = f"datasets[{entry.id}].rdf"
    datasets = [t.subject for t in triples if t.predicate == RDF.type and t.object == DCAT.Dataset]
    datasets = list(dict.fromkeys(datasets))
    if len(datasets) != 1:
        found = ", ".join(str(d) for d in datasets) or "none"
        raise DescriptionInvalid(
            f"dataset {entry.id}: the RDF must describe exactly one dcat:Dataset (found {found})",
            [Problem(where, str(RDF.type), f"expected one dcat:Dataset, found {found}")],
        )
    original = datasets[0]
    notes: list[str] = []
    dropped_subjects = {
        t.subject for t in triples if t.predicate == RDF.type and t.object in _DROP_TYPES
    }
    if dropped_subjects:
        notes.append(f"{entry.id}: dropped the catalogue / catalogue-record triples")

    distributions = [
        t.object
        for t in triples
        if t.subject == original
        and t.predicate == DCAT.distribution
        and isinstance(t.object, NamedNode | BlankNode)
    ]
    if not isinstance(original, NamedNode | BlankNode):
        raise DescriptionInvalid(f"dataset {entry.id}: the dcat:Dataset is not an IRI", [])
    names: dict[NamedNode | BlankNode, str] = {original: ds}
    used: set[str] = {"feasibility"}
    for i, dist in enumerate(dict.fromkeys(distributions), start=1):
        if not isinstance(dist, NamedNode | BlankNode):
            continue
        tail = _tail(dist.value) if isinstance(dist, NamedNode) else ""
        slug = tail if _ID_OK.match(tail) and tail not in used else f"d{i}"
        used.add(slug)
        names[dist] = f"{ds}/distribution/{slug}"
    blanks: dict[BlankNode, str] = {}
    problems: list[Problem] = []

    def rename(term: Term) -> Term:
        if isinstance(term, NamedNode | BlankNode) and term in names:
            return NamedNode(names[term])
        if isinstance(term, BlankNode):
            if term not in blanks:
                blanks[term] = f"{ds}#b{len(blanks) + 1}"
            return NamedNode(blanks[term])
        if isinstance(term, NamedNode) and iris.is_under(term.value, iris.base):
            problems.append(
                Problem(where, "", f"<{term.value}> is under the hub's base URL; use your own IRIs")
            )
        return term

    g = Graph()
    issued: dt.datetime | None = None
    dropped_counts: set[str] = set()
    for t in triples:
        if t.subject in dropped_subjects or t.object in dropped_subjects:
            continue
        if t.predicate.value in _HAND_COUNTS or t.predicate.value.startswith(str(HF)):
            dropped_counts.add(_tail(t.predicate.value))
            continue
        if t.subject == original and t.predicate in (DCT.issued, DCT.modified):
            if t.predicate == DCT.issued and isinstance(t.object, Literal):
                issued = _as_datetime(t.object.value)
            continue
        if isinstance(t.subject, Triple) or isinstance(t.object, Triple):
            continue  # RDF-star quoted triples are not part of DCAT-AP
        s = rename(t.subject)
        o = rename(t.object)
        if isinstance(s, Literal):
            continue
        g.add(s, t.predicate, o)
    if problems:
        raise DescriptionInvalid(f"dataset {entry.id}: {problems[0].message}", problems)
    for name in sorted(dropped_counts):
        notes.append(f"{entry.id}: dropped {name}: counts and ages come from the data, protected")
    if isinstance(original, NamedNode):
        ident = ds + "#source"
        g.typed(ident, ADMS.Identifier)
        g.add(ident, SKOS.notation, Literal(original.value))
        g.add(ds, ADMS.identifier, ident)
    if not any(t.subject == NamedNode(ds) and t.predicate == DCT.identifier for t in g):
        g.add(
            ds, DCT.identifier, Literal(original.value if isinstance(original, NamedNode) else ds)
        )
    return Imported(graph=g, issued=issued, notes=notes)


def _as_datetime(text: str) -> dt.datetime | None:
    try:
        if "T" in text:
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=dt.UTC)
    except ValueError:
        return None
