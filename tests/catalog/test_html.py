"""The human view: the same IRIs as HTML for a browser."""

from __future__ import annotations

import html.parser

import httpx

from tests.catalog.conftest import Served

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


class Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [v for k, v in attrs if k == "href" and v]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def page(url: str) -> Links:
    r = httpx.get(url, headers={"Accept": BROWSER})
    assert r.status_code == 200, url
    assert r.headers["content-type"].startswith("text/html")
    p = Links()
    p.feed(r.text)
    return p


def test_dataset_page(served: Served) -> None:
    iri = f"{served.url}/catalog/site-a/dataset/cohort-0"
    p = page(iri)
    text = " ".join(p.text)
    assert "Site A cohort 0" in text
    assert "Site A (2024). Cohort 0. doi:10.5072/site-a-cohort-0" in text  # the citation
    assert "CC-BY-4.0" in text or "CC_BY_4_0" in " ".join(p.hrefs)  # the licence
    assert "Persons" in text and "Typical age from" in text
    assert "https://doi.org/10.5072/site-a-cohort-0" in p.hrefs
    assert f"{iri}/datacite" in p.hrefs
    for fmt in ("ttl", "jsonld", "rdf", "nt"):
        assert f"{iri}?format={fmt}" in p.hrefs
        assert httpx.get(f"{iri}?format={fmt}").status_code == 200


def test_custom_licence_is_named(served: Served) -> None:
    p = page(f"{served.url}/catalog/site-a/dataset/cohort-1")
    assert "Use within the federation, attribution required" in " ".join(p.text)
    assert "https://site-a.example/terms/data-use" in p.hrefs


def test_imaging_facets_are_shown(served: Served) -> None:
    text = " ".join(page(f"{served.url}/catalog/imaging-c/dataset/img-0").text)
    assert "Modality" in text and "CT" in text and "Body part" in text
    assert "ACME-ONE-OFF" not in text and "MR ·" not in text


def test_catalogue_pages_list_datasets_with_paging(served: Served) -> None:
    first = page(f"{served.url}/catalog")
    text = " ".join(first.text)
    assert f"{len(served.public)} datasets" in text
    listed = [h for h in first.hrefs if "/dataset/" in h]
    assert len(set(listed)) == 4  # page size 4
    nxt = [h for h in first.hrefs if "page=2" in h]
    assert nxt
    second = page(nxt[0])
    assert set(h for h in second.hrefs if "/dataset/" in h).isdisjoint(listed)


def test_fdp_root_and_node_pages(served: Served) -> None:
    root = page(served.url + "/")
    assert {f"{served.url}/catalog/{n}" for n in served.publications} <= set(root.hrefs)
    node = page(f"{served.url}/catalog/site-b")
    assert f"{served.url}/catalog/site-b/dataset/ehr" in node.hrefs
    assert "hidden-study" not in " ".join(node.hrefs + node.text)
