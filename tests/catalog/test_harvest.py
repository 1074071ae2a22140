"""Harvesters walking the catalogue the way real ones do, with rdflib as their parser:
ckanext-dcat's DCATRDFHarvester (HEAD, then GET; follow hydra:next; stop on a page whose
content repeats the first), a piveau-like importer that trusts hydra:totalItems, and a
FAIR Data Point crawler going breadth-first through ldp:contains."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import deque

import httpx
from rdflib import RDF, Graph, Namespace, URIRef

from hyperfed.catalog.records import Record
from tests.catalog.conftest import Served
from tests.catalog.rdfcheck import parse_rdf

DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
LDP = Namespace("http://www.w3.org/ns/ldp#")
FDP = Namespace("https://w3id.org/fdp/fdp-o#")


def next_page(g: Graph) -> str | None:
    """ckanext-dcat's RDFParser.next_page: hydra:next first, then hydra:nextPage, on any
    hydra:PartialCollectionView or hydra:PagedCollection."""
    for design in (HYDRA.PartialCollectionView, HYDRA.PagedCollection):
        for node in g.subjects(RDF.type, design):
            for o in g.objects(node, HYDRA.next):
                return str(o)
            for o in g.objects(node, HYDRA.nextPage):
                return str(o)
    return None


def ckan_walk(url: str, client: httpx.Client) -> tuple[dict[str, str], int]:
    """DCATRDFHarvester.gather_stage: datasets found (IRI -> title) and pages fetched."""
    found: dict[str, str] = {}
    first_hash = None
    pages = 0
    while url:
        head = client.head(url)  # ckanext-dcat: HEAD first (size check), then GET
        assert head.status_code == 200, url
        r = client.get(url)
        r.raise_for_status()
        digest = hashlib.md5(r.content).digest()
        if first_hash is not None and digest == first_hash:
            break
        first_hash = first_hash or digest
        pages += 1
        g = parse_rdf(r.content, r.headers["content-type"])
        for ds in g.subjects(RDF.type, DCAT.Dataset):
            found[str(ds)] = str(g.value(ds, DCT.title))
        url = next_page(g) or ""
    return found, pages


def test_ckan_walk_reaches_every_public_dataset(served: Served) -> None:
    with httpx.Client() as client:
        found, pages = ckan_walk(f"{served.url}/catalog", client)
    want = {served.iri(e): e.title for e in served.public}
    assert {k: v for k, v in found.items() if k in want} == want
    assert set(found) == set(want)  # no stubs of other datasets pass as datasets
    assert pages == -(-len(want) // 4)  # page size 4


def test_ckan_walk_in_rdfxml_and_jsonld(served: Served) -> None:
    """A forced format stays in the next links, so every page comes in that format."""
    want = {served.iri(e) for e in served.public}
    for start in (f"{served.url}/catalog.rdf", f"{served.url}/catalog?format=jsonld"):
        with httpx.Client() as client:
            found, pages = ckan_walk(start, client)
            assert set(found) == want, start
            last = client.get(f"{served.url}/catalog?page={pages}&format=rdf")
            assert last.headers["content-type"].startswith("application/rdf+xml")


def test_walk_of_one_node(served: Served) -> None:
    with httpx.Client() as client:
        found, _ = ckan_walk(f"{served.url}/catalog/site-a?page=1", client)
    assert set(found) == {served.iri(e) for e in served.public if e.node == "site-a"}


def test_piveau_like_walk_uses_total_items(served: Served) -> None:
    url: str | None = f"{served.url}/catalog?page_size=3"
    total = None
    seen: list[str] = []
    with httpx.Client() as client:
        while url:
            g = parse_rdf(client.get(url).content, "text/turtle")
            (view,) = list(g.subjects(RDF.type, HYDRA.PagedCollection))
            assert str(view) == url or url.endswith("page_size=3")
            n = int(g.value(view, HYDRA.totalItems))
            assert total in (None, n)
            total = n
            assert int(g.value(view, HYDRA.itemsPerPage)) == 3
            assert str(g.value(view, HYDRA.first)).startswith(served.url)
            assert str(g.value(view, HYDRA.last)).startswith(served.url)
            seen += sorted(str(d) for d in g.objects(URIRef(f"{served.url}/catalog"), DCAT.dataset))
            url = str(g.value(view, HYDRA.next) or "") or None
    assert total == len(served.public) == len(seen) == len(set(seen))
    keys = [(s.split("/catalog/")[1].split("/")[0], s.rsplit("/", 1)[1]) for s in seen]
    assert keys == sorted(keys)  # stable order: node, then dataset id


def test_modified_since(served: Served) -> None:
    records: list[Record] = served.catalog.records()
    cut = sorted(r.modified for r in records)[len(records) // 2]
    want = {r.iri for r in records if r.modified >= cut}
    since = cut.isoformat().replace("+00:00", "Z")
    with httpx.Client() as client:
        found, _ = ckan_walk(f"{served.url}/catalog?modified_since={since}", client)
        assert set(found) == want
        future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
        g = parse_rdf(
            client.get(f"{served.url}/catalog?modified_since={future}").content, "text/turtle"
        )
        assert not set(g.subjects(RDF.type, DCAT.Dataset))
        assert client.get(f"{served.url}/catalog?modified_since=yesterday").status_code == 400


def test_past_the_last_page_is_404(served: Served) -> None:
    r = httpx.get(f"{served.url}/catalog?page=99")
    assert r.status_code == 404
    assert httpx.get(f"{served.url}/catalog?page=0").status_code == 400
    assert httpx.get(f"{served.url}/catalog?page_size=100000").status_code == 400


def test_fdp_breadth_first_crawl_reaches_every_dataset(served: Served) -> None:
    start = served.url + "/"
    queue: deque[str] = deque([start])
    visited: set[str] = set()
    kinds: dict[str, set[str]] = {}
    with httpx.Client() as client:
        while queue:
            url = queue.popleft()
            if url in visited:
                continue
            visited.add(url)
            r = client.get(url, headers={"Accept": "text/turtle"})
            assert r.status_code == 200, url
            g = parse_rdf(r.content, r.headers["content-type"])
            kinds[url] = {str(t) for t in g.objects(URIRef(url), RDF.type)}
            for container in g.subjects(RDF.type, LDP.DirectContainer):
                if g.value(container, LDP.membershipResource) == URIRef(url):
                    queue.extend(str(m) for m in g.objects(container, LDP.contains))
    datasets = {u for u, k in kinds.items() if str(DCAT.Dataset) in k}
    assert datasets == {served.iri(e) for e in served.public}
    catalogs = {u for u, k in kinds.items() if str(DCAT.Catalog) in k}
    assert catalogs == {f"{served.url}/catalog/{n}" for n in served.publications}
    assert any(str(DCAT.Distribution) in k for k in kinds.values())


def test_a_failure_is_a_5xx_never_a_truncated_page(served: Served) -> None:
    """Corrupt one cached record (as a broken store would) : the page that holds it
    fails whole, with a 5xx, instead of a 200 missing datasets."""
    docs = served.catalog._nodes["site-b"]
    record = docs.records["ehr"]
    good, turtle = record.lines, record.turtle
    record.lines, record.turtle = [*good, b"<broken"], None
    try:
        pages = {}
        for n in (1, 2, 3):
            r = httpx.get(f"{served.url}/catalog?page={n}")
            pages[n] = r.status_code
        assert 500 in pages.values()
        assert set(pages.values()) <= {200, 500}
        bad = httpx.get(served.iri(next(e for e in served.public if e.id == "ehr")))
        assert bad.status_code == 500
        assert bad.headers["content-type"] == "application/problem+json"
        nt = httpx.get(f"{served.url}/catalog?page_size=100&format=nt")
        assert nt.status_code == 500
    finally:
        record.lines, record.turtle = good, turtle
    assert httpx.get(f"{served.url}/catalog?page=2").status_code == 200
