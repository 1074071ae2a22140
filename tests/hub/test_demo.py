"""The demo federation (what `./hf demo` starts): a hub and six nodes — the real Eunomia
CDM, two synthetic OMOP sites, a synthetic FHIR clinic, a synthetic SDTM trial (behind a
firewall: it pulls its tasks) and the imaging of one OMOP site as a DICOM index — enrolled
through the registry API, answering signed-in researchers over real HTTP on loopback, and
publishing a valid DCAT-AP 3 / HealthDCAT-AP catalogue."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest
from rdflib import RDF, Graph, Namespace

from hyperfed.hub.auth.cli import sign_in
from hyperfed.hub.demo import SITES, build_apps
from hyperfed.hub.demo_enroll import enroll
from tests.servers import free_port, pulling, serve

DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
HEALTH = Namespace("http://healthdataportal.eu/ns/health#")
HFC = Namespace("https://w3id.org/hyperfed/catalog#")
EXAMPLES = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "queries"


Demo = tuple[str, Path, dict[str, dict[str, str]]]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo's hub and nodes served on loopback and enrolled: (hub URL, data folder,
    bearer headers of the demo's researcher, operator and admin)."""
    folder = tmp_path_factory.mktemp("demo")
    port = free_port()
    built = build_apps(folder, "127.0.0.1", port)
    with contextlib.ExitStack() as stack:
        hub = stack.enter_context(serve(built.hub, port))
        for app, p in built.nodes:
            stack.enter_context(serve(app, p))
        enroll(
            hub,
            folder,
            built.passwords,
            built.sites,
            registered=lambda: stack.enter_context(pulling(built.loops)),
        )
        people = {
            who: {
                "Authorization": "Bearer " + sign_in(hub, username=who, password=pw)["access_token"]
            }
            for who, pw in built.passwords.items()
        }
        yield hub, folder, people


def test_the_demo_enrols_its_nodes_through_the_registry(demo: Demo) -> None:
    hub, folder, people = demo
    listed = httpx.get(f"{hub}/nodes", timeout=60).json()
    assert {n["id"] for n in listed} == {s.id for s in SITES}
    assert {n["source"] for n in listed} == {"registry"}
    assert all(n["reachable"] for n in listed), [(n["id"], n.get("error")) for n in listed]
    modes = {n["id"]: n["mode"] for n in listed}
    assert modes["trial-sdtm"] == "pull" and list(modes.values()).count("pull") == 1
    assert "[[nodes]]" not in (folder / "hub.toml").read_text().replace("# no [[nodes]]", "")
    rows = httpx.get(f"{hub}/registry/nodes", headers=people["admin"]).json()
    assert {r["status"] for r in rows} == {"approved"}
    assert {r["owner"] for r in rows} == {"operator"}
    # the trail has every step, by the people who took it
    trail = httpx.get(f"{hub}/audit/export", headers=people["admin"]).text.splitlines()
    bodies = [json.loads(json.loads(line)["body"]) for line in trail]
    kinds = [(b["kind"], b["actor"]) for b in bodies]
    for step, actor in (
        ("registration", "operator"),
        ("node.handshake", "operator"),
        ("node.approve", "admin"),
    ):
        assert kinds.count((step, actor)) == len(SITES), (step, kinds)
    # a node enrolled once stays enrolled when the demo runs again on the same folder
    enroll(hub, folder, json.loads((folder / "credentials.json").read_text()), [])
    # the researcher may not touch the registry; anonymous may not query
    assert httpx.get(f"{hub}/registry/nodes", headers=people["researcher"]).status_code == 403
    assert httpx.post(f"{hub}/queries", json={"hql": "1"}).status_code == 401


def test_demo_federation_answers_the_example_queries(demo: Demo) -> None:
    hub, tmp_path, people = demo
    assert {s.id for s in SITES} == {
        "eunomia",
        "uni-hospital",
        "regional-clinic",
        "fhir-clinic",
        "trial-sdtm",
        "uni-hospital-imaging",
    }
    for example in sorted(EXAMPLES.glob("*.json")):
        r = httpx.post(
            f"{hub}/queries",
            json=json.loads(example.read_text()),
            headers=people["researcher"],
            timeout=60,
        )
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
    body = httpx.post(f"{hub}/queries", json=lung, headers=people["researcher"], timeout=60).json()
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


def test_the_demo_publishes_a_valid_catalogue(demo: Demo, shared_dir: Path) -> None:
    """Harvest the running demo as ckanext-dcat does (hydra paging to the end, two datasets a
    page) and check what was harvested with the official DCAT-AP 3.0.1 shapes."""
    from tests.catalog.test_conformance import shapes, violations
    from tests.catalog.test_harvest import ckan_walk

    release = shared_dir / DCAT_RELEASE
    if not release.is_dir():
        pytest.skip(f"the DCAT-AP 3.0.1 shapes are absent from {release}")
    hub, _, people = demo
    # the nodes were enrolled after the hub started: publish now, as an admin would
    refreshed = httpx.post(f"{hub}/catalog/_refresh", headers=people["admin"], timeout=300).json()[
        "nodes"
    ]
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
