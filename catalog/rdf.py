"""Small helpers over pyoxigraph terms: a triple accumulator, literals, N-Triples lines."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator

from pyoxigraph import BlankNode, Literal, NamedNode, RdfFormat, Triple, parse, serialize

from hyperfed.catalog.vocab import RDF, XSD

__all__ = [
    "Graph",
    "Subject",
    "Term",
    "content_hash",
    "date_literal",
    "datetime_literal",
    "from_ntriples",
    "int_literal",
    "iri",
    "to_ntriples",
]

Subject = NamedNode | BlankNode
Term = NamedNode | BlankNode | Literal


def iri(value: str | NamedNode) -> NamedNode:
    return value if isinstance(value, NamedNode) else NamedNode(value)


def datetime_literal(value: dt.datetime) -> Literal:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    text = value.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return Literal(text, datatype=XSD.dateTime)


def date_literal(value: dt.date) -> Literal:
    return Literal(value.isoformat(), datatype=XSD.date)


def int_literal(value: int) -> Literal:
    return Literal(str(value), datatype=XSD.nonNegativeInteger)


class Graph:
    """An ordered, duplicate-free list of triples being built."""

    def __init__(self) -> None:
        self._triples: dict[Triple, None] = {}

    def add(self, s: str | Subject, p: NamedNode, o: str | Term) -> None:
        subject = NamedNode(s) if isinstance(s, str) else s
        obj = NamedNode(o) if isinstance(o, str) else o
        self._triples[Triple(subject, p, obj)] = None

    def typed(self, s: str | Subject, *classes: NamedNode) -> None:
        for cls in classes:
            self.add(s, RDF.type, cls)

    def extend(self, triples: Iterable[Triple]) -> None:
        for t in triples:
            self._triples[t] = None

    def __iter__(self) -> Iterator[Triple]:
        return iter(self._triples)

    def __len__(self) -> int:
        return len(self._triples)

    @property
    def triples(self) -> list[Triple]:
        return list(self._triples)


def to_ntriples(triples: Iterable[Triple]) -> bytes:
    out = serialize(triples, format=RdfFormat.N_TRIPLES)
    assert out is not None
    return out


def from_ntriples(data: bytes) -> list[Triple]:
    return [q.triple for q in parse(data, format=RdfFormat.N_TRIPLES)]


def content_hash(lines: Iterable[bytes]) -> str:
    """SHA-256 over the sorted set of N-Triples lines: equal for equal graphs."""
    h = hashlib.sha256()
    for line in sorted(set(lines)):
        h.update(line)
        h.update(b"\n")
    return h.hexdigest()
