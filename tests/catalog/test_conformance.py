"""Conformance against the official shapes, loaded here straight from ../shared with
pyshacl (independently of the catalogue's own validator): DCAT-AP 3.0.1 (the combined
generated file, and the ITB "Full" set), and the FAIR Data Point reference shapes."""

from __future__ import annotations

from pathlib import Path

import httpx
import pyshacl
import pytest
from rdflib import RDF, Graph, Namespace, URIRef

from hyperfed.catalog.rdf import to_ntriples
from tests.catalog.conftest import Served

SH = Namespace("http://www.w3.org/ns/shacl#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")


def shapes(*paths: Path) -> Graph:
    g = Graph()
    for p in paths:
        g.parse(p, format="turtle")
    return g


def results(data: Graph, shape_graph: Graph) -> list[tuple[str, str, str, str]]:
    _, report, _ = pyshacl.validate(
        data, shacl_graph=shape_graph, inference="none", allow_warnings=True, advanced=True
    )
    assert isinstance(report, Graph)
    out = []
    for r in report.subjects(RDF.type, SH.ValidationResult):
        out.append(
            (
                str(report.value(r, SH.resultSeverity)).rsplit("#", 1)[-1],
                str(report.value(r, SH.focusNode)),
                str(report.value(r, SH.resultPath)),
                str(report.value(r, SH.resultMessage)),
            )
        )
    return out


def violations(data: Graph, shape_graph: Graph) -> list[tuple[str, str, str, str]]:
    return [r for r in results(data, shape_graph) if r[0] == "Violation"]


def whole_catalogue(served: Served) -> Graph:
    g = Graph()
    g.parse(data=to_ntriples(served.catalog.full_graph()).decode(), format="nt")
    return g


def fetch_graph(url: str) -> Graph:
    r = httpx.get(url, headers={"Accept": "text/turtle"})
    assert r.status_code == 200, (url, r.text)
    return Graph().parse(data=r.text, format="turtle")


def without_dangling_property_shapes(g: Graph) -> tuple[Graph, list[str]]:
    """The generated dcat-ap-SHACL.ttl names property shapes it never defines (one on
    dcat:DataServiceShape), which pyshacl refuses as soon as a DataService is in the data;
    drop those references (and only those)."""
    dangling = [o for o in set(g.objects(None, SH.property)) if (o, None, None) not in g]
    for o in dangling:
        g.remove((None, SH.property, o))
    return g, [str(o) for o in dangling]


def test_whole_catalogue_conforms_to_generated_dcat_ap_shacl(
    served: Served, dcat_release: Path
) -> None:
    generated, dangling = without_dangling_property_shapes(
        shapes(dcat_release / "shacl/dcat-ap-SHACL.ttl")
    )
    assert len(dangling) <= 2, dangling  # upstream bug, see the docstring above
    assert violations(whole_catalogue(served), generated) == []


def test_whole_catalogue_conforms_to_itb_full_set(served: Served, dcat_release: Path) -> None:
    full = shapes(
        *(
            dcat_release / "html/shacl" / f
            for f in ("shapes.ttl", "range.ttl", "shapes_recommended.ttl", "deprecateduris.ttl")
        )
    )
    found = results(whole_catalogue(served), full)
    assert [r for r in found if r[0] == "Violation"] == []
    assert found, "the recommended shapes report warnings (e.g. no dct:spatial)"


def test_every_served_document_conforms_on_its_own(served: Served, dcat_release: Path) -> None:
    """Each page and each dataset document carries what the range shapes need."""
    core = shapes(dcat_release / "html/shacl/shapes.ttl", dcat_release / "html/shacl/range.ttl")
    urls = [f"{served.url}/catalog?page={n}" for n in (1, 2, 3)]
    urls += [served.iri(e) for e in served.public]
    urls += [f"{served.url}/catalog/site-a", f"{served.url}/catalog/site-a/service"]
    urls += [f"{served.url}/", f"{served.url}/services/sparql"]
    for url in urls:
        assert violations(fetch_graph(url), core) == [], url


def test_fdp_reference_shapes_pass(served: Served, fdp_shapes: Path) -> None:
    """The FAIRDataPoint reference shapes pass on the root, catalogues and datasets. On
    distributions they demand dcat:mediaType as a literal, where DCAT-AP 3 demands an IANA
    IRI: that single known conflict is the only result, and it is on dcat:mediaType."""
    fdp = shapes(*sorted(fdp_shapes.glob("shape-*.ttl")))
    data = fetch_graph(f"{served.url}/")
    for node in ("site-a", "site-b", "imaging-c"):
        data += fetch_graph(f"{served.url}/catalog/{node}")
    for e in served.public:
        data += fetch_graph(served.iri(e))
    found = violations(data, fdp)
    distributions = set(map(str, data.subjects(RDF.type, DCAT.Distribution)))
    other = [r for r in found if r[1] not in distributions]
    assert other == []
    assert {r[2] for r in found} <= {"http://www.w3.org/ns/dcat#mediaType"}
    # the shapes did fire: every FDP record is typed dcat:Resource
    fdp_root = URIRef(f"{served.url}/")
    assert (fdp_root, RDF.type, URIRef("https://w3id.org/fdp/fdp-o#FAIRDataPoint")) in data
    assert (fdp_root, RDF.type, DCAT.Resource) in data


def test_package_validator_reports_the_official_sources(served: Served, dcat_release: Path) -> None:
    sources = served.catalog.validator.sources
    assert "DCAT-AP 3.0.1: html/shacl/shapes.ttl" in sources
    assert "DCAT-AP 3.0.1: html/shacl/range.ttl" in sources
    assert any("healthdcat-ap" in s for s in sources)


@pytest.mark.parametrize("namespace", ["https://w3id.org/healthdcat-ap#"])
def test_health_namespace_is_a_setting(tmp_path: Path, namespace: str) -> None:
    from hyperfed.catalog import Catalog
    from tests.catalog.conftest import settings_for
    from tests.catalog.samples import federation

    catalog = Catalog(settings_for(9, None, health_namespace=namespace))
    try:
        pub = federation()[2]
        report = catalog.publish_blocking(pub.node.id, pub)
        assert report.public == 2
        lines = b"".join(catalog.record("imaging-c", "img-0").lines)
        assert f"<{namespace}numberOfUniqueIndividuals>".encode() in lines
        assert b"healthdataportal.eu" not in lines
    finally:
        catalog.close()
