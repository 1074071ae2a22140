"""Read-only, bounded SPARQL: the guard and the worker pool every SPARQL endpoint uses.

Before evaluation a query is refused (`SparqlRejected`, HTTP 400) when it is an UPDATE,
when it uses ``SERVICE`` (federated queries make the server send requests to any URL: an
SSRF hole), or when it is longer than `SparqlLimits.max_query_chars`. Evaluation then
runs in a worker **process** (`SparqlPool`): Oxigraph cannot interrupt a running query,
so a query that outlives `SparqlLimits.timeout_s` is answered with `SparqlTimeout` (503)
and its worker is killed and replaced. A result with more than `max_results` rows (or
triples) is refused with `SparqlTooLarge` (400: add a LIMIT). Workers open a read-only
snapshot folder, or load the N-Quads dump of an in-memory store once per store version.

`run_query` keeps its old contract (a SPARQL JSON results dict, or Turtle text) and gets
the same protection with default limits and a process-wide default pool, created on
first use and closed at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import queue
import re
import secrets
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from pyoxigraph import RdfFormat, Store

from hyperfed.ontology.errors import SparqlFailed, SparqlRejected, SparqlTimeout, SparqlTooLarge
from hyperfed.ontology.sparql_worker import Job, Source
from hyperfed.ontology.vocab import PREFIXES

__all__ = [
    "Source",
    "SparqlAnswer",
    "SparqlLimits",
    "SparqlPool",
    "SparqlResult",
    "check_query",
    "default_pool",
    "is_update",
    "run_query",
    "uses_service",
]

SparqlResult = dict[str, Any] | str
"""A SPARQL 1.1 JSON results document (SELECT, ASK) or a Turtle document (CONSTRUCT, DESCRIBE)."""

_UPDATE_KEYWORDS = frozenset(
    {"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"}
)
_IRI_REF = re.compile(r"<[^<>\"{}|^`\\\s]*>")
_STRING = re.compile(r"'''.*?'''|\"\"\".*?\"\"\"|'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"", re.S)
_COMMENT = re.compile(r"#[^\n]*")
_PROLOGUE = re.compile(r"\s*(?:BASE\s*<>|PREFIX\s+[^\s:]*:\s*<>)", re.I)
_FIRST_WORD = re.compile(r"\s*([A-Za-z]+)")
_UCHAR = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
# SERVICE as a keyword: not part of a prefixed name, variable or longer word
_SERVICE = re.compile(r"(?<![\w:?$.\-])SERVICE(?![\w:\-])", re.I)


LOAD_TIMEOUT_S = 300.0
"""How long a worker may take to start and open a store version."""


@dataclass(frozen=True)
class SparqlLimits:
    timeout_s: float = 10.0
    max_results: int = 10_000
    max_query_chars: int = 100_000


def _strip(text: str) -> str:
    """The query with escapes decoded and strings, IRIs and comments blanked out."""
    text = _UCHAR.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)
    stripped = _STRING.sub('""', _IRI_REF.sub("<>", text))
    return _COMMENT.sub(" ", stripped)


def is_update(text: str) -> bool:
    """True when `text` is a SPARQL 1.1 Update request (its first keyword after the
    prologue is INSERT, DELETE, LOAD, CLEAR, DROP, CREATE, ADD, MOVE, COPY or WITH)."""
    stripped = _strip(text)
    position = 0
    while match := _PROLOGUE.match(stripped, position):
        position = match.end()
    first = _FIRST_WORD.match(stripped, position)
    return first is not None and first.group(1).upper() in _UPDATE_KEYWORDS


def uses_service(text: str) -> bool:
    """True when the query contains the SERVICE keyword outside strings, IRIs and comments."""
    return _SERVICE.search(_strip(text)) is not None


def check_query(text: str, limits: SparqlLimits) -> None:
    """Refuse what must never be evaluated (module docstring)."""
    if len(text) > limits.max_query_chars:
        raise SparqlRejected(
            f"the query has {len(text):,} characters; at most {limits.max_query_chars:,} "
            "are accepted"
        )
    if is_update(text):
        raise SparqlRejected(
            "SPARQL UPDATE is not allowed: the store is read-only "
            "(send a SELECT, ASK, CONSTRUCT or DESCRIBE query)"
        )
    if uses_service(text):
        raise SparqlRejected(
            "SERVICE is not allowed: this endpoint does not query other endpoints "
            "(federated SPARQL would make the server send requests on your behalf)"
        )


@dataclass(frozen=True)
class SparqlAnswer:
    media_type: str
    body: bytes

    @property
    def is_graph(self) -> bool:
        return not self.media_type.startswith("application/sparql-results")


class _Worker:
    """One worker process and its two pipes."""

    def __init__(self) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "hyperfed.ontology._sparql_main",
                    str(to_child_r),
                    str(from_child_w),
                ],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self.send = Connection(to_child_w, readable=False)
        self.recv = Connection(from_child_r, writable=False)
        self.key: str | None = None

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        self.send.close()
        self.recv.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.send.send(None)
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.send.close()
        self.recv.close()


class SparqlPool:
    """Worker processes for SPARQL evaluation; thread-safe, blocking `run`."""

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError("a SPARQL pool needs at least one worker")
        self._size = workers
        self._idle: queue.LifoQueue[_Worker | None] = queue.LifoQueue()
        for _ in range(workers):
            self._idle.put(None)  # a slot; the process starts on first use
        self._lock = threading.Lock()
        self._closed = False
        self._all: set[_Worker] = set()
        self.killed = 0
        """How many workers were killed for running past their deadline."""

    def run(
        self,
        source: Source,
        query: str,
        limits: SparqlLimits,
        *,
        prefixes: dict[str, str] | None = None,
        union_default_graph: bool = False,
        default_graphs: list[str] | None = None,
        graph_format: str = "text/turtle",
    ) -> SparqlAnswer:
        """Check and evaluate `query` over `source` within `limits` (module docstring)."""
        check_query(query, limits)
        deadline = time.monotonic() + limits.timeout_s
        try:
            worker = self._idle.get(timeout=limits.timeout_s)
        except queue.Empty:
            raise SparqlTimeout(
                f"no SPARQL worker became free within {limits.timeout_s:g} s; try again"
            ) from None
        if self._closed:
            self._idle.put(worker)
            raise SparqlFailed("the SPARQL pool is closed")
        try:
            if worker is None:
                worker = _Worker()
                with self._lock:
                    self._all.add(worker)
            job = Job(
                query=query,
                prefixes=prefixes or {},
                union_default_graph=union_default_graph,
                max_results=limits.max_results,
                graph_format=graph_format,
                default_graphs=tuple(default_graphs) if default_graphs is not None else None,
            )
            if worker.key != source.key:
                # starting the process and opening the data do not count against the
                # query's timeout (they happen once per worker and store version)
                worker.key = None
                worker.send.send(("load", source))
                if not worker.recv.poll(LOAD_TIMEOUT_S):
                    raise OSError("the worker did not open the data in time")
                loaded = worker.recv.recv()
                if loaded[0] != "loaded":
                    raise SparqlFailed(f"the SPARQL worker cannot open the data: {loaded[1]}")
                worker.key = source.key
                deadline = time.monotonic() + limits.timeout_s
            worker.send.send(("query", job))
            remaining = max(0.0, deadline - time.monotonic())
            reply = worker.recv.recv() if worker.recv.poll(remaining) else None
            if reply is None:
                self._discard(worker)
                worker = None
                self.killed += 1
        except (EOFError, OSError) as exc:
            if worker is not None:
                self._discard(worker)
                worker = None
            raise SparqlFailed(f"the SPARQL worker failed ({type(exc).__name__})") from exc
        finally:
            self._idle.put(worker)
        if reply is None:
            raise SparqlTimeout(
                f"the query ran longer than {limits.timeout_s:g} s and was stopped; "
                "narrow it down or add a LIMIT"
            )
        status = reply[0]
        if status == "ok":
            return SparqlAnswer(media_type=reply[1], body=reply[2])
        if status == "syntax":
            raise SparqlRejected(f"invalid SPARQL query: {reply[1]}")
        if status == "too_large":
            raise SparqlTooLarge(
                f"the result has more than {reply[1]:,} rows or triples; add a LIMIT "
                "(and OFFSET to page through it)"
            )
        raise SparqlFailed(f"the SPARQL query failed: {reply[1]}")

    def _discard(self, worker: _Worker) -> None:
        with self._lock:
            self._all.discard(worker)
        worker.kill()

    def close(self) -> None:
        self._closed = True
        with self._lock:
            workers, self._all = list(self._all), set()
        for w in workers:
            w.stop()

    def __enter__(self) -> SparqlPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


_default: SparqlPool | None = None
_default_lock = threading.Lock()


def default_pool() -> SparqlPool:
    """The process-wide pool `run_query` uses (one worker; closed at exit)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = SparqlPool(1)
            atexit.register(_default.close)
        return _default


_sources: OrderedDict[int, tuple[Store, int, Source]] = OrderedDict()
_sources_lock = threading.Lock()


def memory_source(store: Store) -> Source:
    """The worker source of an in-memory store: its N-Quads dump, made once per version
    (a store whose size changed is dumped again). The last 8 stores are remembered."""
    size = len(store)
    with _sources_lock:
        hit = _sources.get(id(store))
        if hit is not None and hit[0] is store and hit[1] == size:
            _sources.move_to_end(id(store))
            return hit[2]
    dump = store.dump(format=RdfFormat.N_QUADS) or b""
    source = Source(key=f"memory-{secrets.token_hex(8)}", dump=dump)
    with _sources_lock:
        _sources[id(store)] = (store, size, source)
        while len(_sources) > 8:
            _sources.popitem(last=False)
    return source


def run_query(
    store: Store,
    query: str,
    *,
    limits: SparqlLimits | None = None,
    pool: SparqlPool | None = None,
) -> SparqlResult:
    """Run a SELECT / ASK / CONSTRUCT / DESCRIBE query on an in-memory store, guarded and
    bounded (module docstring); the hf:, eucaim:, skos:, rdf:, rdfs:, owl:, dcterms: and
    xsd: prefixes are predeclared. Blocking: call it from a thread in async code."""
    limits = limits or SparqlLimits()
    check_query(query, limits)
    answer = (pool or default_pool()).run(
        memory_source(store), query, limits, prefixes=dict(PREFIXES)
    )
    if answer.is_graph:
        return answer.body.decode("utf-8")
    document: dict[str, Any] = json.loads(answer.body)
    return document
