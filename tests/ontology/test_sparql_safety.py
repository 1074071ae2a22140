"""The SPARQL guard and worker pool (ontology/sparql.py): refusals before evaluation,
no outbound requests, timeouts that kill the worker, result caps."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest
from pyoxigraph import Literal, NamedNode, Quad, Store

from hyperfed.ontology import SparqlRejected, SparqlTimeout, SparqlTooLarge
from hyperfed.ontology.sparql import (
    SparqlLimits,
    SparqlPool,
    check_query,
    memory_source,
    run_query,
    uses_service,
)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }",
        "select * where { service silent <http://example.org/sparql> { ?s ?p ?o } }",
        "SELECT * WHERE { BIND(<http://x/> AS ?e) SERVICE ?e { ?s ?p ?o } }",
        "SELECT * WHERE { SERVICE# comment\n<http://x/> { ?s ?p ?o } }",
        "SELECT * WHERE { SERVICE<http://x/>{ ?s ?p ?o } }",
        "SELECT * WHERE { { SELECT ?s WHERE { SERVICE <http://x/> { ?s ?p ?o } } } }",
        r"SELECT * WHERE { \u0053ERVICE <http://x/> { ?s ?p ?o } }",
    ],
)
def test_service_is_refused(query: str) -> None:
    assert uses_service(query)
    with pytest.raises(SparqlRejected, match="SERVICE is not allowed"):
        check_query(query, SparqlLimits())


@pytest.mark.parametrize(
    "query",
    [
        'SELECT ?s WHERE { ?s ?p "SERVICE" }',
        "PREFIX service: <http://example.org/service#> SELECT ?s WHERE { ?s service:x ?o }",
        "SELECT ?service WHERE { ?service a <http://example.org/SERVICE> }",
        "SELECT ?s WHERE { ?s <http://example.org/p> ex:SERVICE } # SERVICE in a comment",
        "SELECT ?s WHERE { ?s a ?ServiceType }",
    ],
)
def test_the_word_elsewhere_is_not_a_service(query: str) -> None:
    assert not uses_service(query)


def test_overlong_queries_are_refused() -> None:
    with pytest.raises(SparqlRejected, match="at most 100"):
        check_query("ASK {}" + " " * 200, SparqlLimits(max_query_chars=100))


@pytest.fixture
def pool() -> Iterator[SparqlPool]:
    with SparqlPool(1) as p:
        yield p


def store(n: int) -> Store:
    s = Store()
    p = NamedNode("http://example.org/p")
    s.extend(Quad(NamedNode(f"http://example.org/s{i}"), p, Literal(str(i))) for i in range(n))
    return s


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/sparql-results+json")
        self.end_headers()
        self.wfile.write(b'{"head": {"vars": []}, "results": {"bindings": [{}]}}')

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


def test_no_request_ever_leaves_for_a_service(pool: SparqlPool) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}/sparql"
        for q in (
            f"SELECT * WHERE {{ SERVICE <{endpoint}> {{ ?s ?p ?o }} }}",
            f"SELECT * WHERE {{ SERVICE SILENT <{endpoint}> {{ ?s ?p ?o }} }}",
        ):
            with pytest.raises(SparqlRejected):
                run_query(store(3), q, pool=pool)
    finally:
        server.shutdown()
        server.server_close()
    assert _Recorder.hits == []


def test_a_slow_query_times_out_and_its_worker_is_replaced(pool: SparqlPool) -> None:
    s = store(400)
    slow = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
    with pytest.raises(SparqlTimeout, match=r"longer than 0\.5 s"):
        run_query(s, slow, limits=SparqlLimits(timeout_s=0.5), pool=pool)
    assert pool.killed == 1
    fast = run_query(s, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", pool=pool)
    assert isinstance(fast, dict)
    assert fast["results"]["bindings"][0]["n"]["value"] == "400"


def test_results_are_capped(pool: SparqlPool) -> None:
    s = store(50)
    limits = SparqlLimits(max_results=20)
    with pytest.raises(SparqlTooLarge, match="more than 20"):
        run_query(s, "SELECT * WHERE { ?s ?p ?o }", limits=limits, pool=pool)
    with pytest.raises(SparqlTooLarge):
        run_query(s, "CONSTRUCT WHERE { ?s ?p ?o }", limits=limits, pool=pool)
    ok = run_query(s, "SELECT * WHERE { ?s ?p ?o } LIMIT 20", limits=limits, pool=pool)
    assert isinstance(ok, dict) and len(ok["results"]["bindings"]) == 20


def test_a_changed_store_is_sent_again(pool: SparqlPool) -> None:
    s = store(5)
    first = memory_source(s)
    assert memory_source(s) is first
    s.add(Quad(NamedNode("http://example.org/x"), NamedNode("http://example.org/p"), Literal("x")))
    assert memory_source(s) is not first
    out = run_query(s, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", pool=pool)
    assert isinstance(out, dict) and out["results"]["bindings"][0]["n"]["value"] == "6"


def test_updates_are_refused_before_evaluation(pool: SparqlPool) -> None:
    s = store(3)
    with pytest.raises(SparqlRejected, match="UPDATE"):
        run_query(s, "DELETE WHERE { ?s ?p ?o }", pool=pool)
    assert len(s) == 3
