"""No published count in (0, k); private datasets absent from every public route."""

from __future__ import annotations

from collections import deque

import httpx
from rdflib import RDF, Literal, Namespace, URIRef

from hyperfed.catalog.settings import HEALTH_NAMESPACES
from tests.catalog.conftest import Served
from tests.catalog.rdfcheck import parse_rdf
from tests.catalog.samples import K

HF = Namespace("https://w3id.org/hyperfed/catalog#")
DCT = Namespace("http://purl.org/dc/terms/")
LDP = Namespace("http://www.w3.org/ns/ldp#")
COUNTS = {
    URIRef(ns + p)
    for ns in HEALTH_NAMESPACES
    for p in ("numberOfUniqueIndividuals", "numberOfRecords")
} | {HF.persons}
BROWSER = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"


def every_public_document(served: Served) -> dict[str, bytes]:
    """Every page, every dereferenceable document (found by crawling), N-Triples."""
    docs: dict[str, bytes] = {}
    with httpx.Client() as client:
        for n in range(1, 4):
            docs[f"page {n}"] = client.get(f"{served.url}/catalog?page={n}&format=nt").content
        queue = deque([served.url + "/"])
        while queue:
            url = queue.popleft()
            if url in docs:
                continue
            r = client.get(url, params={"format": "nt"})
            assert r.status_code == 200, url
            docs[url] = r.content
            g = parse_rdf(r.content, "application/n-triples")
            for o in g.objects(None, None):
                s = str(o)
                ours = isinstance(o, URIRef) and s.startswith(served.url) and "#" not in s
                if ours and not s.endswith(("/queries", "/docs", "/sparql")):
                    queue.append(s)
    return docs


def test_no_published_count_is_below_k(served: Served) -> None:
    seen = 0
    for where, doc in every_public_document(served).items():
        g = parse_rdf(doc, "application/n-triples")
        for s, p, o in g:
            if p in COUNTS:
                assert isinstance(o, Literal)
                assert int(o) >= K, (where, s, p, o)
                seen += 1
    assert seen > 20


def test_small_values_are_not_named_anywhere(served: Served) -> None:
    everything = b"".join(every_public_document(served).values())
    html = b"".join(
        httpx.get(served.iri(e), headers={"Accept": BROWSER}).content for e in served.public
    )
    assert b'"CT"' in everything and b'"lung cancer"' in everything  # released values
    for small in (b"ACME-ONE-OFF", b"rare thing", b"254637007", b'"MR"', b'"other"'):
        assert small not in everything, small
        assert small not in html, small
    # the operator's hand-typed count of 7 in their own Turtle was dropped
    assert b'"7"^^<http://www.w3.org/2001/XMLSchema#nonNegativeInteger>' not in everything


def test_private_datasets_are_absent_everywhere(served: Served) -> None:
    assert served.private
    docs = every_public_document(served)
    blob = b"".join(docs.values())
    with httpx.Client() as client:
        for e in served.private:
            iri = served.iri(e)
            assert iri.encode() not in blob, iri
            assert e.title.encode() not in blob
            for suffix in ("", ".ttl", ".html", "/datacite"):
                assert client.get(iri + suffix).status_code == 404
            assert client.head(iri).status_code == 404
            html = client.get(f"{served.url}/catalog/{e.node}", headers={"Accept": BROWSER})
            assert e.title not in html.text and e.id not in html.text
            for n in (1, 2, 3):
                page = client.get(f"{served.url}/catalog?page={n}", headers={"Accept": BROWSER})
                assert e.title not in page.text
            q = (
                f'ASK {{ ?s ?p ?o . FILTER(CONTAINS(STR(?s), "{e.id}") '
                f'|| CONTAINS(STR(?o), "{e.id}")) }}'
            )
            assert (
                client.get(f"{served.url}/sparql", params={"query": q}).json()["boolean"] is False
            )
        q = "SELECT (COUNT(DISTINCT ?d) AS ?n) WHERE { ?d a <http://www.w3.org/ns/dcat#Dataset> }"
        n = client.get(f"{served.url}/sparql", params={"query": q}).json()
        assert int(n["results"]["bindings"][0]["n"]["value"]) == len(served.public)
    assert served.catalog.records(None) and all(
        r.iri not in {served.iri(e) for e in served.private} for r in served.catalog.records()
    )


def test_private_datasets_are_kept_for_their_operators(served: Served) -> None:
    """Stored apart (the private store), not lost."""
    docs = served.catalog._nodes["site-b"]
    assert set(docs.private) == {"hidden-study"}
    assert "hidden-study" not in docs.records


def test_protected_datasets_are_described(served: Served) -> None:
    protected = [e for e in served.public if e.visibility == "protected"]
    assert protected
    for e in protected:
        r = httpx.get(served.iri(e))
        assert r.status_code == 200
        g = parse_rdf(r.content, r.headers["content-type"])
        assert (URIRef(served.iri(e)), DCT.title, None) in g
        assert (URIRef(served.iri(e)), RDF.type, None) in g
