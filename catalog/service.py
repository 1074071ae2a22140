"""`Catalog`: the catalogue's state and operations, shared by the HTTP router, the
refresher and the CLI. Heavy work (graph building, SHACL, store writes, SPARQL) runs in
worker threads or processes; the async methods never block the event loop."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyoxigraph import RdfFormat, Triple, parse

from hyperfed.adapters.disclosure import Policy
from hyperfed.catalog.build import DatasetBuilder
from hyperfed.catalog.catalogs import NodeSummary, hub_graph
from hyperfed.catalog.documents import Page, PageRequest, build_page, merge
from hyperfed.catalog.errors import (
    CatalogUnavailable,
    DescriptionInvalid,
    NotFound,
    Problem,
    ShaclViolations,
    StoreFailed,
)
from hyperfed.catalog.formats import turtle_body
from hyperfed.catalog.iris import Iris, Target
from hyperfed.catalog.model import NodePublication
from hyperfed.catalog.publish import (
    Prepared,
    digest,
    docs_from_cache,
    docs_to_cache,
    node_docs,
    prepare,
)
from hyperfed.catalog.rdf import Graph, from_ntriples, to_ntriples
from hyperfed.catalog.records import NodeDocs, Record, SubjectIndex, lines_of
from hyperfed.catalog.settings import CatalogSettings
from hyperfed.catalog.shacl import Validator
from hyperfed.catalog.store import GRAPH_HUB, GRAPH_ONTOLOGY, CatalogStore, node_graph_name
from hyperfed.catalog.vocab import DCT, prefixes
from hyperfed.ontology.sparql import Source, SparqlAnswer, SparqlLimits, SparqlPool
from hyperfed.ontology.vocab import PREFIXES as ONTOLOGY_PREFIXES

__all__ = ["Catalog", "NodeStatus", "PublishReport"]

log = logging.getLogger("hyperfed.catalog")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass
class PublishReport:
    """What one publication did."""

    node: str
    public: int
    private: int
    modified: dt.datetime
    warnings: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "datasets": {"published": self.public, "private": self.private},
            "modified": self.modified.isoformat(),
            "warnings": [w.as_dict() for w in self.warnings],
            "notes": self.notes,
        }


@dataclass
class NodeStatus:
    """The last refresh of one node (kept in memory, shown at /catalog/status)."""

    node: str
    ok: bool
    at: dt.datetime
    message: str = ""
    problems: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "ok": self.ok,
            "at": self.at.isoformat(),
            "message": self.message,
            "problems": [p.as_dict() for p in self.problems],
        }


class Catalog:
    """The federation's catalogue (see the package docstring)."""

    def __init__(
        self,
        settings: CatalogSettings,
        *,
        floor: Policy | None = None,
        ontology_turtle: str | None = None,
        validator: Validator | None = None,
        pool: SparqlPool | None = None,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.settings = settings
        self.floor = floor or Policy()
        self.iris = Iris(settings.base_url)
        self.builder = DatasetBuilder(settings)
        self.validator = validator or Validator(
            settings.health_namespace, settings.dcat_ap_shapes, warnings=settings.shacl_warnings
        )
        self._own_pool = pool is None
        self.pool = pool or SparqlPool(settings.sparql_workers)
        self.clock = clock
        self.store = CatalogStore(settings.store)
        own = prefixes(settings.health_namespace)
        extra = {k: v for k, v in ONTOLOGY_PREFIXES.items() if v not in own.values()}
        self.prefixes = {**own, **{k: v for k, v in extra.items() if k not in own}}
        self._turtle_key = hashlib.sha256(
            json.dumps(self.prefixes, sort_keys=True).encode()
        ).hexdigest()[:16]
        """what each record's stored Turtle was made with (its prefixes)"""
        self.limits = SparqlLimits(
            timeout_s=settings.sparql_timeout, max_results=settings.sparql_max_results
        )
        self.status: dict[str, NodeStatus] = {}
        self._write = threading.Lock()
        self._locks: dict[str, asyncio.Lock] = {}
        self._nodes: dict[str, NodeDocs] = {}
        self._order: list[Record] = []
        self._source: Source | None = None
        self._source_lock = threading.Lock()
        self._graphs: list[str] = []
        self._closed = False
        self._warming = threading.Thread(target=lambda: None)
        self.started = clock()
        if ontology_turtle is not None:
            quads = parse(ontology_turtle.encode(), format=RdfFormat.TURTLE)
            self.store.replace(GRAPH_ONTOLOGY, [q.triple for q in quads])
        self._load()

    # -- state -----------------------------------------------------------------------

    def _load(self) -> None:
        hub = SubjectIndex(self.store.triples(GRAPH_HUB), self.iris)
        issued = hub.literal(self.iris.catalog, DCT.issued)
        if issued:
            self.started = dt.datetime.fromisoformat(issued.replace("Z", "+00:00"))
        private_nodes = set(self.store.nodes(private=True))
        for node in sorted(set(self.store.nodes()) | private_nodes):
            docs = self._cached(node, node in private_nodes)
            if docs is None:
                public = self._stored(node, private=False)
                private = self._stored(node, private=True) if node in private_nodes else None
                docs = node_docs(public, node, self.iris, private)
                docs.digest = digest(to_ntriples(public), to_ntriples(private) if private else b"")
            self._nodes[node] = docs
        self._refresh_views()
        self.store.replace(GRAPH_HUB, self._hub_graph)
        self._graphs = self.store.graphs()
        self._warming = threading.Thread(
            target=self._warm_all, name="hyperfed-catalog-warm", daemon=True
        )
        self._warming.start()

    def _warm_all(self) -> None:
        """Turtle of the records the store had none for (an older store, other prefixes)."""
        for docs in list(self._nodes.values()):
            if self._closed:
                return
            self._warm(docs)

    @property
    def warm(self) -> bool:
        """True once every record's Turtle is made (pages are then concatenations)."""
        return not self._warming.is_alive()

    def _cached(self, node: str, has_private: bool) -> NodeDocs | None:
        graph = node_graph_name(node)
        text, index = self.store.text(graph), self.store.index(graph)
        if text is None or index is None:
            return None
        private = None
        if has_private:
            p_text = self.store.text(graph, private=True)
            p_index = self.store.index(graph, private=True)
            if p_text is None or p_index is None:
                return None
            private = (p_text, p_index)
        return docs_from_cache(node, (text, index), private, self._turtle_key)

    def _stored(self, node: str, *, private: bool) -> list[Triple]:
        graph = node_graph_name(node)
        text = self.store.text(graph, private=private)
        if text is None:
            return self.store.triples(graph, private=private)
        return from_ntriples(text)

    def _refresh_views(self) -> None:
        """Order, root documents and hub graph after a change (under the write lock)."""
        self._order = [
            r
            for d in sorted(self._nodes.values(), key=lambda d: d.node)
            for r in (d.records[k] for k in sorted(d.records))
        ]
        summaries = [
            NodeSummary(id=d.node, title=d.title, modified=d.modified)
            for d in sorted(self._nodes.values(), key=lambda d: d.node)
            if d.records or d.catalog
        ]
        graph = hub_graph(self.settings, summaries, self.started)
        index = SubjectIndex(graph, self.iris)
        stubs = [d.catalog_stub for d in self._nodes.values()]
        root = self.iris.catalog
        fdp = self.iris.fdp
        self._hub_index = index
        self._hub_graph = graph
        self._root_head = merge(
            lines_of(index.describe([root, root + "#publisher", root + "#contact"])), *stubs
        )
        self._fdp_doc = merge(
            lines_of(index.describe([fdp, fdp + "#identifier", fdp + "#catalogs"])), *stubs
        )

    @property
    def nodes(self) -> list[NodeDocs]:
        return [self._nodes[k] for k in sorted(self._nodes)]

    def records(self, node: str | None = None) -> list[Record]:
        if node is None:
            return list(self._order)
        docs = self._nodes.get(node)
        return [docs.records[k] for k in sorted(docs.records)] if docs else []

    # -- publishing ------------------------------------------------------------------

    def prepare(self, node_id: str, publication: NodePublication) -> Prepared:
        if publication.node.id != node_id:
            raise DescriptionInvalid(
                f"node {node_id} published a catalogue for node {publication.node.id!r}",
                [Problem("node.id", "", f"expected {node_id!r}")],
            )
        prepared = prepare(
            self.builder, publication, self.floor, self._nodes.get(node_id), self.clock()
        )
        self._warm(prepared.docs)
        return prepared

    def _warm(self, docs: NodeDocs) -> NodeDocs:
        """Each record's Turtle, made once, so pages are concatenations."""
        for record in docs.records.values():
            if record.turtle is None:
                record.turtle = turtle_body(record.lines, self.prefixes)
        return docs

    def check(self, prepared: Prepared) -> list[Problem]:
        """SHACL over the node's public and private graphs: ShaclViolations, or the
        warnings."""
        problems = self.validator.validate(to_ntriples(prepared.public))
        if len(prepared.private):
            problems += self.validator.validate(to_ntriples(prepared.private))
        violations = [p for p in problems if p.severity == "Violation"]
        if violations:
            first = violations[0]
            raise ShaclViolations(
                f"node {prepared.node}: {len(violations)} SHACL violation(s); first: "
                f"{first.focus} {first.path}: {first.message}",
                violations,
            )
        return problems

    def commit(self, prepared: Prepared) -> None:
        with self._write:
            graph = node_graph_name(prepared.node)
            public_text = to_ntriples(prepared.public)
            index = docs_to_cache(prepared.docs, public_text, turtle_key=self._turtle_key)
            self.store.replace(graph, prepared.public, keep_text=True, index=index)
            if len(prepared.private) or self._nodes.get(prepared.node, prepared.docs).private:
                private_text = to_ntriples(prepared.private)
                private_index = docs_to_cache(prepared.docs, private_text, private=True)
                self.store.replace(
                    graph, prepared.private, private=True, keep_text=True, index=private_index
                )
            self._nodes[prepared.node] = prepared.docs
            self._refresh_views()
            self.store.replace(GRAPH_HUB, self._hub_graph)
            self._source = None
            self._graphs = self.store.graphs()

    def publish_blocking(
        self, node_id: str, publication: NodePublication, *, validate: bool = True
    ) -> PublishReport:
        prepared = self.prepare(node_id, publication)
        previous = self._nodes.get(node_id)
        if previous is not None and previous.digest == prepared.docs.digest:
            # nothing changed since the stored version: no SHACL run, no write
            return PublishReport(
                node=node_id,
                public=len(previous.records),
                private=len(previous.private),
                modified=previous.modified,
                notes=[*prepared.notes, "unchanged since the last refresh"],
            )
        warnings = self.check(prepared) if validate else []
        self.commit(prepared)
        docs = prepared.docs
        return PublishReport(
            node=node_id,
            public=len(docs.records),
            private=len(docs.private),
            modified=docs.modified,
            warnings=warnings,
            notes=prepared.notes,
        )

    async def publish(
        self, node_id: str, publication: NodePublication, *, validate: bool = True
    ) -> PublishReport:
        """Validate and store a node's publication; on a violation nothing is stored and
        the last valid version stays published (ShaclViolations, 422)."""
        lock = self._locks.setdefault(node_id, asyncio.Lock())
        async with lock:
            try:
                report = await asyncio.to_thread(
                    self.publish_blocking, node_id, publication, validate=validate
                )
            except DescriptionInvalid as exc:
                self.status[node_id] = NodeStatus(
                    node_id, False, self.clock(), str(exc), list(exc.problems)
                )
                raise
            self.status[node_id] = NodeStatus(
                node_id, True, self.clock(), f"{report.public} datasets published", report.warnings
            )
            return report

    def remove_blocking(self, node_id: str) -> None:
        with self._write:
            self.store.drop(node_graph_name(node_id))
            self.store.drop(node_graph_name(node_id), private=True)
            self._nodes.pop(node_id, None)
            self._refresh_views()
            self.store.replace(GRAPH_HUB, self._hub_graph)
            self._source = None
            self._graphs = self.store.graphs()

    # -- reading ---------------------------------------------------------------------

    def _docs(self, node: str | None) -> NodeDocs:
        docs = self._nodes.get(node or "")
        if docs is None:
            raise NotFound(f"no catalogue of node {node!r}")
        return docs

    def record(self, node: str, dataset: str) -> Record:
        record = self._docs(node).records.get(dataset)
        if record is None:
            raise NotFound(f"no dataset {dataset!r} in the catalogue of node {node!r}")
        return record

    def document(self, target: Target) -> list[bytes]:
        """The N-Triples lines of the resource `target` names (NotFound otherwise)."""
        match target.kind:
            case "fdp":
                return self._fdp_doc
            case "catalog":
                return self._root_head
            case "hub-service":
                return lines_of(self._hub_index.describe([self.iris.iri_of(target)]))
            case "node":
                return self._docs(target.node).catalog
            case "service":
                return self._docs(target.node).service
        assert target.node is not None and target.dataset is not None
        record = self.record(target.node, target.dataset)
        if target.kind == "distribution":
            head = b"<" + self.iris.iri_of(target).encode() + b">"
            if not any(line.startswith(head) for line in record.lines):
                raise NotFound(f"no distribution {target.distribution!r} of {record.iri}")
        return record.lines

    def page(self, node: str | None, request: PageRequest) -> Page:
        if node is None:
            head, records, iri = self._root_head, self._order, self.iris.catalog
        else:
            docs = self._docs(node)
            head = docs.catalog
            records = [docs.records[k] for k in sorted(docs.records)]
            iri = self.iris.node(node)
        return build_page(
            iri,
            head,
            records,
            request,
            default_size=self.settings.page_size,
            max_size=self.settings.max_page_size,
        )

    def full_graph(self) -> Graph:
        """Every public triple (hub graph and node graphs), for conformance checks."""
        g = Graph()
        g.extend(self._hub_graph)
        for node in self._nodes:
            g.extend(self._stored(node, private=False))
        return g

    # -- SPARQL ----------------------------------------------------------------------

    def snapshot(self) -> Source:
        with self._source_lock:
            if self._source is None:
                with self._write:
                    self._source = self.store.snapshot()
            return self._source

    def sparql(self, query: str, graph_format: str = "text/turtle") -> SparqlAnswer:
        """A read-only query over the public catalogue and the hyperontology (blocking)."""
        try:
            source = self.snapshot()
        except StoreFailed as exc:
            raise CatalogUnavailable(str(exc)) from exc
        return self.pool.run(
            source,
            query,
            self.limits,
            prefixes=self.prefixes,
            default_graphs=self._graphs,
            graph_format=graph_format,
        )

    def close(self) -> None:
        self._closed = True
        if self._own_pool:
            self.pool.close()
        self.store.close()
