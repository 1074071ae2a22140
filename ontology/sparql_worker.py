"""The SPARQL worker process: opens a read-only store, evaluates one query at a time,
caps the result size and serialises it. Runs in a child process so the parent can kill
it on timeout (Oxigraph cannot interrupt a query).

Started as ``python -m hyperfed.ontology._sparql_main IN_FD OUT_FD`` (not with
multiprocessing, which would import the parent's ``__main__`` script again in the child);
messages are pickled over two pipes with `multiprocessing.connection.Connection`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from pyoxigraph import (
    BlankNode,
    Literal,
    NamedNode,
    QueryBoolean,
    QuerySolutions,
    QueryTriples,
    RdfFormat,
    Store,
    Triple,
    serialize,
)

__all__ = ["Job", "Source", "serve"]

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

GRAPH_FORMATS = {
    "text/turtle": RdfFormat.TURTLE,
    "application/n-triples": RdfFormat.N_TRIPLES,
    "application/rdf+xml": RdfFormat.RDF_XML,
    "application/ld+json": RdfFormat.JSON_LD,
}


@dataclass(frozen=True)
class Source:
    """Where a worker gets its data: a store folder it opens read-only (a snapshot no one
    writes to) or the N-Quads dump of an in-memory store. `key` names one version."""

    key: str
    path: str | None = None
    dump: bytes | None = None


@dataclass(frozen=True)
class Job:
    query: str
    prefixes: dict[str, str]
    union_default_graph: bool
    max_results: int
    graph_format: str = "text/turtle"
    default_graphs: tuple[str, ...] | None = None
    """Named graphs that make up the default graph (and the only ones GRAPH can reach)."""


class TooLarge(Exception):
    pass


def _term(term: Any) -> dict[str, Any]:
    if isinstance(term, NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, Literal):
        out: dict[str, Any] = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value not in (XSD_STRING, RDF_LANG_STRING):
            out["datatype"] = term.datatype.value
        return out
    if isinstance(term, Triple):
        return {
            "type": "triple",
            "value": {
                "subject": _term(term.subject),
                "predicate": _term(term.predicate),
                "object": _term(term.object),
            },
        }
    raise TypeError(f"unexpected term {term!r}")


def evaluate(store: Store, job: Job) -> tuple[str, bytes]:
    """(media type, body) of one query; TooLarge past `job.max_results` rows/triples."""
    if job.default_graphs is not None:
        graphs: list[NamedNode | BlankNode] = [NamedNode(g) for g in job.default_graphs]
        result = store.query(
            job.query, prefixes=job.prefixes, default_graph=list(graphs), named_graphs=graphs
        )
    else:
        result = store.query(
            job.query, prefixes=job.prefixes, use_default_graph_as_union=job.union_default_graph
        )
    if isinstance(result, QueryBoolean):
        body = json.dumps({"head": {}, "boolean": bool(result)})
        return "application/sparql-results+json", body.encode()
    if isinstance(result, QuerySolutions):
        variables = [v.value for v in result.variables]
        rows: list[dict[str, Any]] = []
        for solution in result:
            if len(rows) >= job.max_results:
                raise TooLarge(job.max_results)
            row = {}
            for name in variables:
                value = solution[name]
                if value is not None:
                    row[name] = _term(value)
            rows.append(row)
        doc = {"head": {"vars": variables}, "results": {"bindings": rows}}
        return "application/sparql-results+json", json.dumps(doc).encode()
    if isinstance(result, QueryTriples):
        triples: list[Triple] = []
        for t in result:
            if len(triples) >= job.max_results:
                raise TooLarge(job.max_results)
            triples.append(t)
        fmt = GRAPH_FORMATS.get(job.graph_format, RdfFormat.TURTLE)
        media = job.graph_format if job.graph_format in GRAPH_FORMATS else "text/turtle"
        out = serialize(triples, format=fmt, prefixes=job.prefixes)
        return media, out or b""
    raise TypeError(f"unsupported SPARQL result type {type(result).__name__}")


def _open(source: Source) -> Store:
    if source.path is not None:
        return Store.read_only(source.path)
    store = Store()
    if source.dump:
        store.bulk_load(source.dump, format=RdfFormat.N_QUADS)
    return store


def serve(inbox: Connection, conn: Connection) -> None:
    """The worker's loop. ("load", Source) -> ("loaded",); ("query", Job) -> ("ok", media,
    body) or ("syntax" | "too_large" | "error", detail); None stops it."""
    store: Store | None = None
    while True:
        try:
            message = inbox.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        kind, payload = message
        try:
            if kind == "load":
                store = None
                store = _open(payload)
                conn.send(("loaded",))
                continue
            if store is None:
                conn.send(("error", "the worker has no data source"))
                continue
            media, body = evaluate(store, payload)
            conn.send(("ok", media, body))
        except SyntaxError as exc:
            conn.send(("syntax", str(exc)))
        except TooLarge as exc:
            conn.send(("too_large", int(exc.args[0])))
        except Exception as exc:  # reported to the parent, which raises
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


def main(argv: list[str]) -> None:
    inbox = Connection(int(argv[1]), writable=False)
    outbox = Connection(int(argv[2]), readable=False)
    serve(inbox, outbox)
