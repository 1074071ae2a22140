"""Self-contained documents cut out of a node's graph.

A **record** is everything a harvester needs about one dataset: the triples of every
subject the dataset owns (its IRI and the hash and path IRIs under it: distributions,
agents, contact point, identifiers, periods, facet values) plus a *stub* of each resource
it refers to that it does not own (the node's DataService, a licence document, a theme
concept ...): that resource's triples except the membership lists (``dcat:dataset``,
``dcat:servesDataset``, ``ldp:contains`` ...), followed recursively. A referenced
*dataset* gets only its type, title and description. So each record (and each page made
of records) passes the DCAT-AP range shapes on its own, without pulling in the catalogue.

Records are computed from the graph alone, so the same function rebuilds them from the
store after a restart. Everything is kept as canonical N-Triples lines (bytes).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pyoxigraph import BlankNode, Literal, NamedNode, Triple

from hyperfed.catalog.iris import Iris
from hyperfed.catalog.rdf import content_hash, to_ntriples
from hyperfed.catalog.vocab import DCAT, DCT, FDP, LDP, RDF

__all__ = [
    "MEMBERSHIP",
    "NodeDocs",
    "Record",
    "SubjectIndex",
    "lines_of",
    "record_hash",
]

MEMBERSHIP = frozenset(
    {
        DCAT.dataset,
        DCAT.servesDataset,
        DCAT.catalog,
        DCAT.record,
        DCT.hasPart,
        LDP.contains,
        FDP.metadataCatalog,
    }
)
_LABEL_ONLY = frozenset({RDF.type, DCT.title, DCT.description})
_DATES = (
    b" <http://purl.org/dc/terms/issued> ",
    b" <http://purl.org/dc/terms/modified> ",
)


def lines_of(triples: Iterable[Triple]) -> list[bytes]:
    data = to_ntriples(triples)
    return [line for line in data.split(b"\n") if line]


def record_hash(lines: Iterable[bytes], iri: str) -> str:
    """Hash of a record without its own dct:issued / dct:modified (what "changed" means)."""
    head = b"<" + iri.encode() + b">"
    kept = (ln for ln in lines if not (ln.startswith(head) and any(d in ln for d in _DATES)))
    return content_hash(kept)


@dataclass
class Record:
    """One dataset's self-contained description, ready to serve."""

    iri: str
    node: str
    id: str
    issued: dt.datetime
    modified: dt.datetime
    lines: list[bytes]
    hash: str
    title: str = ""
    turtle: bytes | None = None
    """The record as Turtle without prefix lines (made on first use, see formats)."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.node, self.id)


@dataclass
class NodeDocs:
    """A node's cached documents: its sub-catalogue (with label stubs of its datasets),
    the stub other documents include when they refer to it, its DataService, and its
    datasets' records in id order."""

    node: str
    title: str
    issued: dt.datetime
    modified: dt.datetime
    catalog: list[bytes]
    catalog_stub: list[bytes]
    service: list[bytes]
    records: dict[str, Record] = field(default_factory=dict)
    private: dict[str, Record] = field(default_factory=dict)
    digest: str = ""
    """SHA-256 of the stored public and private N-Triples: equal means nothing changed."""


def _key(term: NamedNode | BlankNode | Literal | Triple) -> str | None:
    if isinstance(term, NamedNode):
        return term.value
    if isinstance(term, BlankNode):
        return "_:" + term.value
    return None


class SubjectIndex:
    """Triples by subject, with the owner (dataset) of each subject."""

    def __init__(self, triples: Iterable[Triple], iris: Iris) -> None:
        self.iris = iris
        self.by_subject: dict[str, list[Triple]] = defaultdict(list)
        for t in triples:
            k = _key(t.subject)
            if k is not None:
                self.by_subject[k].append(t)
        self.datasets = {
            s
            for s, ts in self.by_subject.items()
            if any(t.predicate == RDF.type and t.object == DCAT.Dataset for t in ts)
        }
        self.owned: dict[str, list[str]] = defaultdict(list)
        for s in self.by_subject:
            owner = self.owner_of(s)
            if owner is not None:
                self.owned[owner].append(s)

    def owner_of(self, subject: str) -> str | None:
        base = subject.split("#", 1)[0]
        if "/distribution/" in base:
            base = base.split("/distribution/", 1)[0]
        return base if base in self.datasets else None

    def types(self, subject: str) -> set[NamedNode]:
        return {
            t.object
            for t in self.by_subject.get(subject, ())
            if t.predicate == RDF.type and isinstance(t.object, NamedNode)
        }

    def objects(self, subject: str, predicate: NamedNode) -> list[str]:
        out = []
        for t in self.by_subject.get(subject, ()):
            if t.predicate == predicate and (k := _key(t.object)) is not None:
                out.append(k)
        return out

    def literal(self, subject: str, predicate: NamedNode) -> str | None:
        for t in self.by_subject.get(subject, ()):
            if t.predicate == predicate and isinstance(t.object, Literal):
                return t.object.value
        return None

    def _stub(self, subject: str, seen: set[str], out: list[Triple]) -> None:
        if subject in seen or subject not in self.by_subject:
            return
        seen.add(subject)
        label_only = subject in self.datasets
        for t in self.by_subject[subject]:
            if label_only and t.predicate not in _LABEL_ONLY:
                continue
            if t.predicate in MEMBERSHIP:
                continue
            out.append(t)
            if not label_only and (k := _key(t.object)) is not None:
                self._stub(k, seen, out)

    def describe(self, subjects: Sequence[str], *, with_membership: bool = True) -> list[Triple]:
        """`subjects`' own triples (membership lists kept unless told otherwise) plus the
        stubs of everything they refer to."""
        out: list[Triple] = []
        seen = set(subjects)
        for s in subjects:
            for t in self.by_subject.get(s, ()):
                if not with_membership and t.predicate in MEMBERSHIP:
                    continue
                out.append(t)
        for s in subjects:
            for t in self.by_subject.get(s, ()):
                if not with_membership and t.predicate in MEMBERSHIP:
                    continue
                if (k := _key(t.object)) is not None and k not in seen:
                    self._stub(k, seen, out)
        return out

    def record_subjects(self, dataset: str) -> list[str]:
        return sorted(self.owned.get(dataset, [dataset]))

    def record_lines(self, dataset: str) -> list[bytes]:
        return sorted(set(lines_of(self.describe(self.record_subjects(dataset)))))

    def stub_lines(self, subject: str) -> list[bytes]:
        out: list[Triple] = []
        self._stub(subject, set(), out)
        return sorted(set(lines_of(out)))
