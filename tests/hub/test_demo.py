"""The demo federation (what `./hf demo` starts): a hub and six nodes — the real Eunomia
CDM, two synthetic OMOP sites, a synthetic FHIR clinic, a synthetic SDTM trial and the imaging
of one OMOP site as a DICOM index — answering over real HTTP on loopback, and publishing a
valid DCAT-AP 3 / HealthDCAT-AP catalogue."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest
from rdflib import RDF, Graph, Namespace

from hyperfed.hub.demo import SITES, build_apps
from tests.servers import free_port, serve

DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
HEALTH = Namespace("http://healthdataportal.eu/ns/health#")
HFC = Namespace("https://w3id.org/hyperfed/catalog#")
EXAMPLES = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "queries"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The demo's hub and nodes served on loopback: (hub URL, data folder)."""
    folder = tmp_path_factory.mktemp("demo")
    port = free_port()
    apps = build_apps(folder, "127.0.0.1", port)
    with contextlib.ExitStack() as stack:
        urls = [stack.enter_context(serve(app, p)) for app, p in apps]
        yield urls[0], folder


def test_demo_federation_answers_the_example_queries(demo: tuple[str, Path]) -> None:
    hub, tmp_path = demo
    assert {s.id for s in SITES} == {
        "eunomia",
        "uni-hospital",
        "regional-clinic",
        "fhir-clinic",
        "trial-sdtm",
        "uni-hospital-imaging",
    }
    for example in sorted(EXAMPLES.glob("*.json")):
        r = httpx.post(f"{hub}/queries", json=json.loads(example.read_text()), timeout=60)
        assert r.status_code == 200, (example.name, r.text)
        statuses = {n["node"]: n["status"] for n in r.json()["nodes"]}
        assert set(statuses) == {s.id for s in SITES}
        # the synthetic sites answer every example; Eunomia records no units, so it
        # reports a value criterion as unsupported rather than counting nobody
        assert statuses["uni-hospital"] == "ok", (example.name, statuses)
        assert statuses["regional-clinic"] in ("ok", "suppressed"), statuses
        assert statuses["eunomia"] in ("ok", "suppressed", "unsupported"), statuses
        # the SDTM trial (3,000 subjects: few GI bleedings); hf:CT names an imaging
        # modality, which SDTM records do not hold
        sdtm = {
            "ct-2010s-over-60.json": ("unsupported",),
            "gi-bleed-female-or-60.json": ("ok", "suppressed"),
            "low-hemoglobin-men.json": ("ok",),
            "lung-cancer-ct-over-60.json": ("unsupported",),
        }[example.name]
        assert statuses["trial-sdtm"] in sdtm, (example.name, statuses)
        # the DICOM node answers imaging questions; diagnoses and drugs are not imaging
        imaging = example.name.startswith("ct-")
        assert statuses["uni-hospital-imaging"] == ("ok" if imaging else "unsupported")
        assert statuses["fhir-clinic"] in ("ok", "suppressed"), statuses
    # the lung cancer example needs cancer patients with CTs: the synthetic sites have them
    lung = json.loads((EXAMPLES / "lung-cancer-ct-over-60.json").read_text())
    body = httpx.post(f"{hub}/queries", json=lung, timeout=60).json()
    uni = next(n for n in body["nodes"] if n["node"] == "uni-hospital")
    assert uni["status"] == "ok" and uni["count"] >= 10
    fhir = next(n for n in body["nodes"] if n["node"] == "fhir-clinic")
    assert fhir["status"] in ("ok", "suppressed"), fhir
    # data written once, atomically, and reused
    assert (tmp_path / "uni-hospital.duckdb").exists()
    assert not list(tmp_path.glob("*.tmp"))
    with duckdb.connect(str(tmp_path / "regional-clinic.duckdb"), read_only=True) as con:
        assert con.execute("SELECT COUNT(*) FROM person").fetchone() == (5000,)
    assert (tmp_path / "trial-sdtm" / "dm.csv").exists()
    assert 'model = "sdtm"' in (tmp_path / "trial-sdtm.toml").read_text()


DCAT_RELEASE = Path("reference/dcat/SEMICeu-DCAT-AP/releases/3.0.1")


def test_the_demo_publishes_a_valid_catalogue(demo: tuple[str, Path], shared_dir: Path) -> None:
    """Harvest the running demo as ckanext-dcat does (hydra paging to the end, two datasets a
    page) and check what was harvested with the official DCAT-AP 3.0.1 shapes."""
    from tests.catalog.test_conformance import shapes, violations
    from tests.catalog.test_harvest import ckan_walk

    release = shared_dir / DCAT_RELEASE
    if not release.is_dir():
        pytest.skip(f"the DCAT-AP 3.0.1 shapes are absent from {release}")
    hub, _ = demo
    # the hub started before its nodes here: publish now, as an admin would
    refreshed = httpx.post(f"{hub}/catalog/_refresh", timeout=300).json()["nodes"]
    assert {n for n, r in refreshed.items() if r["ok"]} == {s.id for s in SITES}, refreshed
    with httpx.Client(timeout=60) as client:
        found, pages = ckan_walk(f"{hub}/catalog?page_size=2", client)
        graph = Graph()
        url: str | None = f"{hub}/catalog?page_size=2&format=nt"
        while url:
            r = client.get(url)
            assert r.status_code == 200, r.text
            page = Graph().parse(data=r.text, format="nt")
            graph += page
            url = next((str(o) for o in page.objects(None, HYDRA.next)), None)
    assert pages == (len(SITES) + 1) // 2  # two datasets a page
    assert set(found) == {f"{hub}/catalog/{s.id}/dataset/{s.id}-{s.model}" for s in SITES}
    official = shapes(release / "html/shacl/shapes.ttl", release / "html/shacl/range.ttl")
    assert violations(graph, official) == []
    # the facts came from the data, protected: every count at least the floor's 10
    for ds in graph.subjects(RDF.type, DCAT.Dataset):
        persons = graph.value(ds, HEALTH.numberOfUniqueIndividuals)
        assert persons is not None and int(persons) >= 10, ds
        assert graph.value(ds, DCT.license) is not None and graph.value(ds, DCT.identifier)
    for _, _, n in graph.triples((None, HFC.persons, None)):
        assert int(n) >= 10
