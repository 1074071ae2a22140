"""From a node's publication to its graphs and cached documents. Pure: the previous
documents and the time come in, graphs, records and notes go out; nothing is stored.

Change tracking: a dataset's ``dct:modified`` moves only when its record (its description
and everything it refers to, dates aside) changed since the last published version, or
when the node says its data changed; ``dct:issued`` is the operator's date or the first
time the hub saw the dataset. A refresh with nothing new publishes the same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from hyperfed.adapters.disclosure import Policy
from hyperfed.adapters.facts import FactsError, reprotect_facts
from hyperfed.catalog.build import DatasetBuilder, issued_modified
from hyperfed.catalog.catalogs import node_graph
from hyperfed.catalog.errors import DescriptionInvalid, Problem
from hyperfed.catalog.iris import Iris
from hyperfed.catalog.model import DatasetDescription, DatasetEntry, NodePublication
from hyperfed.catalog.rdf import Graph, to_ntriples
from hyperfed.catalog.rdfin import import_rdf, type_by_range
from hyperfed.catalog.records import NodeDocs, Record, SubjectIndex, lines_of, record_hash
from hyperfed.catalog.vocab import DCT

__all__ = ["CACHE_VERSION", "Prepared", "docs_from_cache", "docs_to_cache", "node_docs", "prepare"]

CACHE_VERSION = 1
"""Version of the record index kept with each node graph (see `docs_to_cache`)."""


@dataclass
class Prepared:
    """A node's new version, built and not yet stored."""

    node: str
    public: Graph
    private: Graph
    docs: NodeDocs
    notes: list[str] = field(default_factory=list)


@dataclass
class _Built:
    entry: DatasetEntry
    iri: str
    graph: Graph
    issued: dt.datetime | None


def _build(
    builder: DatasetBuilder, pub: NodePublication, floor: Policy
) -> tuple[list[_Built], list[str]]:
    notes: list[str] = []
    built: list[_Built] = []
    node = pub.node
    for i, entry in enumerate(pub.datasets):
        d = entry.description
        try:
            facts = reprotect_facts(entry.facts, floor) if entry.facts is not None else None
        except FactsError as exc:
            raise DescriptionInvalid(
                f"dataset {d.id}: facts: {exc}",
                [Problem(focus=f"datasets[{i}].facts", path="", message=str(exc))],
            ) from exc
        iri = builder.iris.dataset(node.id, d.id)
        issued = None
        if isinstance(d, DatasetDescription):
            graph = builder.dataset(node, d, facts)
            if d.issued is not None:
                issued = dt.datetime.combine(d.issued, dt.time(), tzinfo=dt.UTC)
        else:
            imported = import_rdf(d, node.id, builder.iris)
            graph = imported.graph
            builder.augment(graph, node, d.id, facts)
            type_by_range(graph)
            builder.containers(graph, iri)
            notes.extend(imported.notes)
            issued = imported.issued
        built.append(_Built(entry=entry, iri=iri, graph=graph, issued=issued))
    return built, notes


def _assemble(
    builder: DatasetBuilder,
    pub: NodePublication,
    datasets: list[_Built],
    times: dict[str, tuple[dt.datetime, dt.datetime]] | None,
    node_times: tuple[dt.datetime, dt.datetime],
) -> Graph:
    g = Graph()
    g.extend(node_graph(builder.settings, pub.node, [b.iri for b in datasets], *node_times))
    for b in datasets:
        g.extend(b.graph)
        if times is not None:
            issued_modified(g, b.iri, *times[b.iri])
    return g


def node_docs(
    triples: Graph | list, node: str, iris: Iris, private: list | None = None
) -> NodeDocs:
    """A node's cached documents, cut out of its public graph (and private graph)."""
    index = SubjectIndex(triples, iris)
    cat = iris.node(node)
    title = index.literal(cat, DCT.title) or node
    issued = _dt(index.literal(cat, DCT.issued))
    modified = _dt(index.literal(cat, DCT.modified))
    docs = NodeDocs(
        node=node,
        title=title,
        issued=issued,
        modified=modified,
        catalog=sorted(set(_lines(index, _catalog_subjects(cat)))),
        catalog_stub=index.stub_lines(cat),
        service=sorted(set(_lines(index, [iris.node_service(node)]))),
    )
    docs.records = _records(index, node, iris)
    if private:
        docs.private = _records(SubjectIndex(private, iris), node, iris)
    return docs


def _catalog_subjects(cat: str) -> list[str]:
    return [cat, cat + "#publisher", cat + "#contact", cat + "#datasets"]


def _lines(index: SubjectIndex, subjects: list[str]) -> list[bytes]:
    present = [s for s in subjects if s in index.by_subject]
    return lines_of(index.describe(present))


def _records(index: SubjectIndex, node: str, iris: Iris) -> dict[str, Record]:
    out: dict[str, Record] = {}
    prefix = iris.node(node) + "/dataset/"
    for ds in sorted(index.datasets):
        if not ds.startswith(prefix):
            continue
        lines = index.record_lines(ds)
        ident = unquote(ds[len(prefix) :])
        out[ident] = Record(
            iri=ds,
            node=node,
            id=ident,
            issued=_dt(index.literal(ds, DCT.issued)),
            modified=_dt(index.literal(ds, DCT.modified)),
            lines=lines,
            hash=record_hash(lines, ds),
            title=index.literal(ds, DCT.title) or ident,
        )
    return out


def _dt(text: str | None) -> dt.datetime:
    if not text:
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def prepare(
    builder: DatasetBuilder,
    pub: NodePublication,
    floor: Policy,
    previous: NodeDocs | None,
    now: dt.datetime,
) -> Prepared:
    """The node's new graphs and documents (module docstring)."""
    iris = builder.iris
    node = pub.node.id
    built, notes = _build(builder, pub, floor)
    public = [b for b in built if b.entry.description.visibility != "private"]
    private = [b for b in built if b.entry.description.visibility == "private"]
    old_records = {
        **(previous.records if previous else {}),
        **(previous.private if previous else {}),
    }
    node_issued = previous.issued if previous else now

    def dated(
        group: list[_Built],
    ) -> tuple[dict[str, tuple[dt.datetime, dt.datetime]], SubjectIndex]:
        draft = _assemble(builder, pub, group, None, (node_issued, now))
        index = SubjectIndex(draft, iris)
        times = {}
        for b in group:
            ident = b.entry.description.id
            old = old_records.get(ident)
            fresh = record_hash(index.record_lines(b.iri), b.iri)
            issued = b.issued or (old.issued if old else now)
            if old is not None and old.hash == fresh and b.entry.modified is None:
                modified = old.modified
            else:
                modified = b.entry.modified or now
            times[b.iri] = (issued, max(modified, issued))
        return times, index

    public_times, draft = dated(public)
    private_times, _ = dated(private)
    cat = iris.node(node)
    node_modified = max(
        [previous.modified if previous else now, *(m for _, m in public_times.values())]
    )
    fresh_catalog = record_hash(_lines(draft, _catalog_subjects(cat)), cat)
    if previous is None or record_hash(previous.catalog, cat) != fresh_catalog:
        node_modified = now
    public_graph = _assemble(builder, pub, public, public_times, (node_issued, node_modified))
    private_graph = Graph()
    if private:
        private_graph = _assemble(
            builder, pub, private, private_times, (node_issued, node_modified)
        )
    docs = node_docs(public_graph, node, iris, private_graph.triples if private else None)
    docs.digest = digest(to_ntriples(public_graph), to_ntriples(private_graph))
    return Prepared(node=node, public=public_graph, private=private_graph, docs=docs, notes=notes)


def digest(public: bytes, private: bytes) -> str:
    return hashlib.sha256(public + b"\x00" + private).hexdigest()


def _indices(lines: list[bytes], where: dict[bytes, int]) -> list[int]:
    return [where[line] for line in lines]


def docs_to_cache(
    docs: NodeDocs, text: bytes, *, private: bool = False, turtle_key: str = ""
) -> str:
    """The record index of one store's graph text: each document as positions of its lines
    in the text, so a restart rebuilds the documents without recomputing them (the
    documents are fully determined by the text; the index is written in the same
    transaction, and ignored when `CACHE_VERSION` changes). Each record's Turtle is kept
    too (tagged with `turtle_key`, the prefixes it was made with), so a restarted catalogue
    serves pages as concatenations from its first request."""
    where = {line: i for i, line in enumerate(text.split(b"\n"))}
    records = docs.private if private else docs.records
    out: dict[str, Any] = {
        "v": CACHE_VERSION,
        "turtle_key": turtle_key,
        "turtle": {
            ident: r.turtle.decode("utf-8")
            for ident, r in records.items()
            if r.turtle is not None and turtle_key
        },
        "records": {
            ident: {
                "iri": r.iri,
                "issued": r.issued.isoformat(),
                "modified": r.modified.isoformat(),
                "hash": r.hash,
                "title": r.title,
                "lines": _indices(r.lines, where),
            }
            for ident, r in records.items()
        },
    }
    if not private:
        out |= {
            "title": docs.title,
            "issued": docs.issued.isoformat(),
            "modified": docs.modified.isoformat(),
            "catalog": _indices(docs.catalog, where),
            "catalog_stub": _indices(docs.catalog_stub, where),
            "service": _indices(docs.service, where),
        }
    return json.dumps(out, separators=(",", ":"))


def docs_from_cache(
    node: str,
    public: tuple[bytes, str],
    private: tuple[bytes, str] | None,
    turtle_key: str = "",
) -> NodeDocs | None:
    """The documents back from `docs_to_cache` indexes, or None when they do not fit."""
    try:
        text, raw = public
        cache = json.loads(raw)
        if cache.get("v") != CACHE_VERSION:
            return None
        lines = text.split(b"\n")
        docs = NodeDocs(
            node=node,
            title=cache["title"],
            issued=_dt(cache["issued"]),
            modified=_dt(cache["modified"]),
            catalog=[lines[i] for i in cache["catalog"]],
            catalog_stub=[lines[i] for i in cache["catalog_stub"]],
            service=[lines[i] for i in cache["service"]],
        )
        docs.records = _cached_records(node, lines, cache["records"])
        if turtle_key and cache.get("turtle_key") == turtle_key:
            for ident, turtle in cache.get("turtle", {}).items():
                if ident in docs.records:
                    docs.records[ident].turtle = turtle.encode("utf-8")
        private_text = b""
        if private is not None:
            private_text, private_raw = private
            private_cache = json.loads(private_raw)
            if private_cache.get("v") != CACHE_VERSION:
                return None
            docs.private = _cached_records(
                node, private_text.split(b"\n"), private_cache["records"]
            )
        docs.digest = digest(text, private_text)
        return docs
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _cached_records(node: str, lines: list[bytes], raw: dict[str, Any]) -> dict[str, Record]:
    return {
        ident: Record(
            iri=r["iri"],
            node=node,
            id=ident,
            issued=_dt(r["issued"]),
            modified=_dt(r["modified"]),
            lines=[lines[i] for i in r["lines"]],
            hash=r["hash"],
            title=r["title"],
        )
        for ident, r in raw.items()
    }
