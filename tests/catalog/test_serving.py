"""Dereferenceable IRIs, content negotiation, format overrides, HEAD, round trips through
rdflib in every format."""

from __future__ import annotations

import json

import httpx
import pytest
from rdflib import RDF, Graph, Namespace, URIRef
from rdflib.compare import isomorphic

from tests.catalog.conftest import Served
from tests.catalog.rdfcheck import RDFLIB_FORMATS, parse_rdf

DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


def get(url: str, accept: str | None = None, **params: str) -> httpx.Response:
    headers = {"Accept": accept} if accept else {}
    return httpx.get(url, headers=headers, params=params, follow_redirects=False)


def parse(r: httpx.Response) -> Graph:
    return parse_rdf(r.content, r.headers["content-type"])


def all_iris(served: Served) -> list[tuple[str, URIRef]]:
    """(IRI, its rdf:type) of every Catalog, Dataset, Distribution and DataService."""
    nt = get(f"{served.url}/catalog", "application/n-triples", page_size="1000")
    g = parse(nt)
    out = []
    for cls in (DCAT.Catalog, DCAT.Dataset, DCAT.Distribution, DCAT.DataService):
        out += [(str(s), cls) for s in g.subjects(RDF.type, cls) if str(s).startswith(served.url)]
    return sorted(set(out))


def test_every_iri_dereferences_to_itself(served: Served) -> None:
    iris = all_iris(served)
    kinds = {cls for _, cls in iris}
    assert kinds == {DCAT.Catalog, DCAT.Dataset, DCAT.Distribution, DCAT.DataService}
    assert len([i for i, c in iris if c == DCAT.Dataset]) == len(served.public)
    for iri, cls in iris:
        r = get(iri)
        assert r.status_code == 200, (iri, r.status_code)
        assert r.headers["content-type"].startswith("text/turtle")
        assert (URIRef(iri), RDF.type, cls) in parse(r), iri


@pytest.mark.parametrize("accept", list(RDFLIB_FORMATS))
def test_round_trip_in_every_format(served: Served, accept: str) -> None:
    e = served.public[0]
    reference = parse(get(served.iri(e), "application/n-triples"))
    r = get(served.iri(e), accept)
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == accept
    assert isomorphic(parse(r), reference)
    assert len(reference) > 40


@pytest.mark.parametrize("accept", list(RDFLIB_FORMATS))
def test_pages_round_trip_in_every_format(served: Served, accept: str) -> None:
    reference = parse(get(f"{served.url}/catalog", "application/n-triples", page="2"))
    assert isomorphic(parse(get(f"{served.url}/catalog", accept, page="2")), reference)


def test_jsonld_has_an_inline_context(served: Served) -> None:
    doc = get(served.iri(served.public[0]), "application/ld+json").json()
    assert isinstance(doc["@context"], dict)
    assert doc["@context"]["dcat"] == "http://www.w3.org/ns/dcat#"
    keys = {k for node in doc["@graph"] for k in node}
    assert "dct:title" in keys and "@type" in keys


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (None, "text/turtle"),
        ("*/*", "text/turtle"),
        ("text/*", "text/turtle"),
        (BROWSER, "text/html"),
        ("application/json", "application/ld+json"),
        ("application/rdf+xml;q=0.5, application/n-triples", "application/n-triples"),
        ("text/turtle;q=0.1, application/ld+json;q=0.9", "application/ld+json"),
        ("application/xml", "application/rdf+xml"),
    ],
)
def test_content_negotiation(served: Served, accept: str | None, media: str) -> None:
    r = get(f"{served.url}/catalog/site-a/dataset/cohort-0", accept)
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == media
    assert "Accept" in r.headers["vary"]


def test_unacceptable_is_406(served: Served) -> None:
    r = get(f"{served.url}/catalog/site-a/dataset/cohort-0", "image/png")
    assert r.status_code == 406
    assert "text/turtle" in r.json()["detail"]


@pytest.mark.parametrize(
    ("suffix", "params", "media"),
    [
        (".ttl", {}, "text/turtle"),
        (".jsonld", {}, "application/ld+json"),
        (".rdf", {}, "application/rdf+xml"),
        (".nt", {}, "application/n-triples"),
        (".html", {}, "text/html"),
        ("", {"format": "jsonld"}, "application/ld+json"),
        ("", {"format": "nt"}, "application/n-triples"),
        ("", {"format": "rdf"}, "application/rdf+xml"),
    ],
)
def test_format_override(served: Served, suffix: str, params: dict[str, str], media: str) -> None:
    for path in ("/catalog/site-a/dataset/cohort-1", "/catalog", "/catalog/site-b"):
        r = get(f"{served.url}{path}{suffix}", BROWSER if not suffix else None, **params)
        assert r.status_code == 200, (path, r.text)
        assert r.headers["content-type"].split(";")[0] == media


def test_override_beats_accept(served: Served) -> None:
    r = get(f"{served.url}/catalog/site-a/dataset/cohort-1.nt", "text/turtle")
    assert r.headers["content-type"].startswith("application/n-triples")
    assert get(f"{served.url}/catalog", "text/turtle", format="bogus").status_code == 400


def test_head_answers_200_with_the_length(served: Served) -> None:
    for path in ("/", "/catalog", "/catalog/site-a", "/catalog/site-a/dataset/cohort-0"):
        head = httpx.head(served.url + path)
        body = httpx.get(served.url + path)
        assert head.status_code == 200
        assert head.content == b""
        assert int(head.headers["content-length"]) == len(body.content)


def test_unknown_resources_are_404_problems(served: Served) -> None:
    for path in (
        "/catalog/nobody",
        "/catalog/site-a/dataset/nothing",
        "/catalog/site-a/dataset/cohort-0/distribution/nothing",
        "/catalog/site-a/whatever",
        "/services/bogus",
    ):
        r = get(served.url + path)
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "application/problem+json"


def test_fdp_root_describes_the_service(served: Served) -> None:
    r = get(served.url + "/", "text/turtle")
    g = parse(r)
    root = URIRef(served.url + "/")
    fdp = Namespace("https://w3id.org/fdp/fdp-o#")
    assert (root, RDF.type, fdp.FAIRDataPoint) in g
    assert (root, RDF.type, fdp.MetadataService) in g
    catalogs = set(g.objects(root, fdp.metadataCatalog))
    assert catalogs == {URIRef(f"{served.url}/catalog/{n}") for n in served.publications}
    html = get(served.url + "/", BROWSER)
    assert html.headers["content-type"].startswith("text/html")
    assert "Site A University Hospital" in html.text


def test_status_lists_the_shapes_and_counts(served: Served) -> None:
    assert get(served.url + "/catalog/_status").status_code == 401  # for admins only
    admin = served.bearer("status-admin", ["admin"])
    status = httpx.get(served.url + "/catalog/_status", headers=admin).json()
    assert status["datasets"] == len(served.public)
    assert any("DCAT-AP" in s for s in status["shapes"]) or status["shapes"]


def test_datacite_export(served: Served) -> None:
    r = get(f"{served.url}/catalog/site-a/dataset/cohort-0/datacite")
    assert r.status_code == 200
    a = r.json()["data"]["attributes"]
    assert a["doi"] == "10.5072/site-a-cohort-0"
    assert a["titles"] == [{"title": "Site A cohort 0", "lang": "en"}]
    assert a["publisher"] == {"name": "Site A University Hospital"}
    assert a["publicationYear"] == 2023
    assert a["types"]["resourceTypeGeneral"] == "Dataset"
    assert a["url"] == f"{served.url}/catalog/site-a/dataset/cohort-0"
    rights = {x["rightsUri"] for x in a["rightsList"]}
    assert "http://publications.europa.eu/resource/authority/licence/CC_BY_4_0" in rights
    assert json.dumps(a)  # plain JSON
    assert get(f"{served.url}/catalog/site-b/dataset/hidden-study/datacite").status_code == 404
