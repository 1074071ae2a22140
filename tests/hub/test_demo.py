"""The demo federation (what `./hf demo` starts): a hub and six nodes — the real Eunomia
CDM, two synthetic OMOP sites, a synthetic FHIR clinic, a synthetic SDTM trial and the imaging
of one OMOP site as a DICOM index — answering over real HTTP on loopback."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import duckdb
import httpx

from hyperfed.hub.demo import SITES, build_apps
from tests.servers import free_port, serve

EXAMPLES = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "queries"


def test_demo_federation_answers_the_example_queries(tmp_path: Path) -> None:
    port = free_port()
    apps = build_apps(tmp_path, "127.0.0.1", port)
    with contextlib.ExitStack() as stack:
        urls = [stack.enter_context(serve(app, p)) for app, p in apps]
        hub = urls[0]
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
    assert (tmp_path / "uni-hospital-imaging.parquet").exists()
    assert 'model = "dicom"' in (tmp_path / "uni-hospital-imaging.toml").read_text()
