"""The catalogue's SPARQL endpoint: the SPARQL 1.1 protocol over the public catalogue and
the hyperontology, read-only, bounded."""

from __future__ import annotations

import httpx
from rdflib import Namespace, URIRef

from hyperfed.catalog import Catalog
from tests.catalog.conftest import Served, make_app, settings_for
from tests.catalog.rdfcheck import parse_rdf
from tests.catalog.samples import federation
from tests.servers import free_port, serve

DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")


def select(url: str, query: str, **kw: object) -> httpx.Response:
    return httpx.get(f"{url}/sparql", params={"query": query}, **kw)  # type: ignore[arg-type]


def test_select_over_the_catalogue(served: Served) -> None:
    q = "SELECT ?d ?t WHERE { ?d a dcat:Dataset ; dct:title ?t } ORDER BY ?d"
    r = select(served.url, q)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/sparql-results+json")
    rows = r.json()["results"]["bindings"]
    assert {row["d"]["value"] for row in rows} == {served.iri(e) for e in served.public}


def test_post_forms_and_sparql_query_bodies(served: Served) -> None:
    q = "ASK { ?d a dcat:Dataset }"
    form = httpx.post(f"{served.url}/sparql", data={"query": q})
    body = httpx.post(
        f"{served.url}/sparql", content=q, headers={"Content-Type": "application/sparql-query"}
    )
    assert form.json() == body.json() == {"head": {}, "boolean": True}


def test_construct_in_graph_formats(served: Served) -> None:
    q = "CONSTRUCT { ?d dct:title ?t } WHERE { ?d a dcat:Dataset ; dct:title ?t }"
    for accept in ("text/turtle", "application/n-triples", "application/rdf+xml"):
        r = select(served.url, q, headers={"Accept": accept})
        assert r.status_code == 200, r.text
        g = parse_rdf(r.content, r.headers["content-type"])
        assert len(g) == len(served.public)
    default = select(served.url, q)
    assert default.headers["content-type"].startswith("text/turtle")


def test_the_hyperontology_is_queryable_with_the_catalogue(tmp_path: object) -> None:
    from hyperfed.ontology import Ontology

    port = free_port()
    catalog = Catalog(settings_for(port, None), ontology_turtle=Ontology.load().to_turtle())
    try:
        pub = federation()[2]
        catalog.publish_blocking(pub.node.id, pub)
        with serve(make_app(catalog), port) as url:
            q = (
                "SELECT ?label WHERE { eucaim:CLIN1000065 skos:prefLabel ?label . "
                "?d a dcat:Dataset }"
            )
            rows = select(url, q).json()["results"]["bindings"]
            assert {r["label"]["value"] for r in rows} == {"Malignant tumor of lung"}
    finally:
        catalog.close()


def test_service_is_refused_before_evaluation(served: Served) -> None:
    q = f"SELECT * WHERE {{ SERVICE <{served.url}/sparql> {{ ?s ?p ?o }} }}"
    r = select(served.url, q)
    assert r.status_code == 400
    assert "SERVICE" in r.json()["detail"]
    assert r.headers["content-type"] == "application/problem+json"


def test_updates_are_refused(served: Served) -> None:
    before = select(served.url, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }").json()
    attempts = [
        httpx.get(f"{served.url}/sparql", params={"update": "DROP ALL"}),
        httpx.post(f"{served.url}/sparql", data={"update": "DROP ALL"}),
        httpx.post(
            f"{served.url}/sparql",
            content="DROP ALL",
            headers={"Content-Type": "application/sparql-update"},
        ),
        select(served.url, "DELETE WHERE { ?s ?p ?o }"),
        select(served.url, "INSERT DATA { <http://x/a> <http://x/b> <http://x/c> }"),
    ]
    for r in attempts:
        assert r.status_code == 400, r.text
        assert "UPDATE" in r.json()["detail"]
    after = select(served.url, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }").json()
    assert before == after


def test_syntax_errors_are_400(served: Served) -> None:
    r = select(served.url, "SELECT WHERE {")
    assert r.status_code == 400 and "invalid SPARQL" in r.json()["detail"]
    assert httpx.get(f"{served.url}/sparql").status_code == 400


def test_timeout_and_result_cap(tmp_path: object) -> None:
    port = free_port()
    catalog = Catalog(settings_for(port, None, sparql_timeout=0.5, sparql_max_results=5))
    try:
        for pub in federation():
            catalog.publish_blocking(pub.node.id, pub)
        with serve(make_app(catalog), port) as url:
            slow = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
            r = select(url, slow)
            assert r.status_code == 503
            assert "longer than 0.5 s" in r.json()["detail"]
            assert r.headers["retry-after"]
            big = select(url, "SELECT * WHERE { ?s ?p ?o }")
            assert big.status_code == 400 and "LIMIT" in big.json()["detail"]
            ok = select(url, "SELECT * WHERE { ?s ?p ?o } LIMIT 5")
            assert ok.status_code == 200 and len(ok.json()["results"]["bindings"]) == 5
    finally:
        catalog.close()


def test_a_new_publication_is_visible_to_sparql(served: Served) -> None:
    q = f"ASK {{ <{served.url}/catalog/site-a/dataset/cohort-0> dct:title ?t }}"
    assert select(served.url, q).json()["boolean"] is True
    assert URIRef(served.url)  # the endpoint is under the base URL
