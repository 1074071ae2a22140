"""The catalogue store: Oxigraph (pyoxigraph) on disk, one named graph per node.

Two stores under the configured folder: ``public/`` (what every public route and the
SPARQL endpoint see: node graphs, the hub graph, the hyperontology) and ``private/``
(private datasets, for their operators only). A private dataset is never written to the
public store, so no query, page or crawl can reach it. A node's graph is replaced in one
SPARQL Update request, which Oxigraph runs as one transaction: a crash leaves the old
graph or the new one, never half of each. SPARQL workers read snapshots
(``snapshots/<n>``, RocksDB checkpoints made with `Store.backup`, hard links, cheap), never
the live store: Oxigraph does not allow reading a folder another process writes.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote, unquote

from pyoxigraph import Literal, NamedNode, RdfFormat, Store, Triple

from hyperfed.catalog.errors import StoreFailed
from hyperfed.catalog.rdf import to_ntriples
from hyperfed.ontology.sparql import Source

__all__ = ["GRAPH_HUB", "GRAPH_ONTOLOGY", "CatalogStore", "node_graph_name"]

GRAPH_HUB = "urn:hyperfed:catalog:hub"
GRAPH_ONTOLOGY = "urn:hyperfed:catalog:ontology"
_NODE_PREFIX = "urn:hyperfed:catalog:node:"
_TEXT_PREFIX = "urn:hyperfed:catalog:text:"
_TEXT = NamedNode("urn:hyperfed:catalog:ntriples")
_INDEX = NamedNode("urn:hyperfed:catalog:record-index")
KEEP_SNAPSHOTS = 3


def node_graph_name(node: str) -> str:
    return _NODE_PREFIX + quote(node, safe="")


class CatalogStore:
    """Public and private Oxigraph stores; `path` None keeps both in memory."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        try:
            if path is None:
                self.public, self.private = Store(), Store()
            else:
                path.mkdir(parents=True, exist_ok=True)
                self.public = Store(str(path / "public"))
                self.private = Store(str(path / "private"))
        except OSError as exc:
            raise StoreFailed(f"cannot open the catalogue store at {path}: {exc}") from exc
        self._lock = threading.Lock()
        self._snapshots = 0
        if path is not None:
            shutil.rmtree(path / "snapshots", ignore_errors=True)

    def _store(self, private: bool) -> Store:
        return self.private if private else self.public

    def replace(
        self,
        graph: str,
        triples: Iterable[Triple],
        *,
        private: bool = False,
        keep_text: bool = False,
        index: str | None = None,
    ) -> None:
        """Replace named graph `graph` with `triples`, atomically. With `keep_text`, the
        graph's exact N-Triples text is stored too, in the same transaction (Oxigraph
        stores ``xsd:nonNegativeInteger`` literals as ``xsd:integer``; the served
        documents must keep the datatype HealthDCAT-AP asks for)."""
        data = to_ntriples(triples)
        body = data.decode("utf-8")
        text_graph = _TEXT_PREFIX + graph
        update = f"DROP SILENT GRAPH <{graph}> ; DROP SILENT GRAPH <{text_graph}>"
        if body:
            update += f" ; INSERT DATA {{ GRAPH <{graph}> {{\n{body}\n}} }}"
        if keep_text:
            held = [Triple(NamedNode(graph), _TEXT, Literal(body))]
            if index is not None:
                held.append(Triple(NamedNode(graph), _INDEX, Literal(index)))
            update += (
                f" ; INSERT DATA {{ GRAPH <{text_graph}> {{ {to_ntriples(held).decode()} }} }}"
            )
        with self._lock:
            try:
                self._store(private).update(update)
            except (OSError, SyntaxError) as exc:
                raise StoreFailed(f"cannot write graph {graph}: {exc}") from exc

    def drop(self, graph: str, *, private: bool = False) -> None:
        with self._lock:
            try:
                self._store(private).update(
                    f"DROP SILENT GRAPH <{graph}> ; DROP SILENT GRAPH <{_TEXT_PREFIX + graph}>"
                )
            except OSError as exc:
                raise StoreFailed(f"cannot drop graph {graph}: {exc}") from exc

    def triples(self, graph: str, *, private: bool = False) -> list[Triple]:
        try:
            quads = self._store(private).quads_for_pattern(None, None, None, NamedNode(graph))
            return [q.triple for q in quads]
        except OSError as exc:
            raise StoreFailed(f"cannot read graph {graph}: {exc}") from exc

    def text(self, graph: str, *, private: bool = False) -> bytes | None:
        """The exact N-Triples text kept with `graph` (see `replace`), or None."""
        value = self._held(graph, _TEXT, private)
        return None if value is None else value.encode("utf-8")

    def index(self, graph: str, *, private: bool = False) -> str | None:
        """The record index kept with `graph`, or None."""
        return self._held(graph, _INDEX, private)

    def _held(self, graph: str, what: NamedNode, private: bool) -> str | None:
        held = self._store(private).quads_for_pattern(
            NamedNode(graph), what, None, NamedNode(_TEXT_PREFIX + graph)
        )
        for q in held:
            if isinstance(q.object, Literal):
                return q.object.value
        return None

    def graphs(self) -> list[str]:
        """The public store's data graphs (node graphs, hub, ontology), for SPARQL."""
        names = [g.value for g in self.public.named_graphs() if isinstance(g, NamedNode)]
        return sorted(n for n in names if not n.startswith(_TEXT_PREFIX))

    def nodes(self, *, private: bool = False) -> list[str]:
        """Ids of the nodes that have a graph in the (public or private) store."""
        names = [g.value for g in self._store(private).named_graphs() if isinstance(g, NamedNode)]
        return sorted(unquote(n[len(_NODE_PREFIX) :]) for n in names if n.startswith(_NODE_PREFIX))

    def snapshot(self) -> Source:
        """A read-only copy of the public store for SPARQL workers."""
        with self._lock:
            self._snapshots += 1
            n = self._snapshots
            if self.path is None:
                dump = self.public.dump(format=RdfFormat.N_QUADS) or b""
                return Source(key=f"catalog-memory-{id(self)}-{n}", dump=dump)
            folder = self.path / "snapshots"
            folder.mkdir(exist_ok=True)
            target = folder / str(n)
            try:
                self.public.flush()
                self.public.backup(str(target))
            except OSError as exc:
                raise StoreFailed(f"cannot snapshot the catalogue store: {exc}") from exc
        for old in folder.iterdir():
            if old.name.isdigit() and int(old.name) <= n - KEEP_SNAPSHOTS:
                shutil.rmtree(old, ignore_errors=True)
        return Source(key=f"catalog-{target}", path=str(target))

    def __len__(self) -> int:
        return len(self.public)

    def close(self) -> None:
        """Release the stores (RocksDB closes when the last reference goes)."""
        with self._lock:
            self.public = self.private = Store()
