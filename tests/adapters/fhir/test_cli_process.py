"""The FHIR command forms as real processes: `hyperfed fhir view`, `hyperfed node count /
explain / check --model fhir` over files and over a FHIR server (the search test server on
loopback, started here), and a node config choosing to refuse bad input."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hyperfed.synth import SynthSpec
from hyperfed.synth.athena import write_athena_vocabulary
from hyperfed.synth.fhir import write_fhir
from tests.servers import serve

from .fhir_server import create_app
from .oracle import ndjson_resources

HYPERFED = str(Path(sys.executable).parent / "hyperfed")
SCT = "http://snomed.info/sct"
LUNG = {"code": {"system": SCT, "code": "363358000"}}
NSCLC = "254637007"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "400"}  # no terminal wrapping of long paths
    return subprocess.run(
        [HYPERFED, *args], capture_output=True, text=True, timeout=180, check=False, env=env
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli")
    write_fhir(SynthSpec(persons=120, seed=7, cancer_scale=6.0), out / "ndjson")
    write_athena_vocabulary(out / "athena")
    (out / "lung.json").write_text(json.dumps({"hql": "1", "criteria": LUNG}))
    return out


@pytest.fixture(scope="module")
def resources(data: Path) -> list[dict[str, Any]]:
    return ndjson_resources(data / "ndjson")


def with_codes(resources: list[dict[str, Any]], codes: set[str]) -> set[str]:
    """Patients with a Condition carrying one of `codes` (plain Python over the JSON)."""
    return {
        r["subject"]["reference"]
        for r in resources
        if r["resourceType"] == "Condition"
        and any(c["system"] == SCT and c["code"] in codes for c in r["code"]["coding"])
    }


@pytest.fixture(scope="module")
def server(resources: list[dict[str, Any]]) -> Iterator[str]:
    with serve(create_app(resources)) as url:
        yield url


def test_fhir_view(data: Path, tmp_path: Path, resources: list[dict[str, Any]]) -> None:
    view = tmp_path / "view.json"
    view.write_text(
        json.dumps(
            {
                "resourceType": "ViewDefinition",
                "resource": "Patient",
                "select": [
                    {"column": [{"name": "id", "path": "id"}, {"name": "sex", "path": "gender"}]}
                ],
            }
        )
    )
    want = sorted((r["id"], r["gender"]) for r in resources if r["resourceType"] == "Patient")
    r = run("fhir", "view", str(view), "--source", str(data / "ndjson"), "--format", "json")
    assert r.returncode == 0, r.stderr
    assert sorted((row["id"], row["sex"]) for row in json.loads(r.stdout)) == want
    r = run("fhir", "view", str(view), "--source", str(data / "ndjson"), "--format", "csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == ["id", "sex"] and sorted(map(tuple, rows[1:])) == want


@pytest.mark.parametrize("where", ["files", "server"])
def test_node_count_exact(
    where: str, data: Path, server: str, resources: list[dict[str, Any]]
) -> None:
    source = str(data / "ndjson") if where == "files" else server
    args = ["node", "count", "--exact", "--model", "fhir", "--source", source]
    r = run(*args, str(data / "lung.json"), "--json")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["count"] == len(with_codes(resources, {"363358000"})) > 0
    assert body["unsupported"] == []
    assert any("descendants of http://snomed.info/sct|363358000" in n for n in body["notes"])
    # with the vocabulary export: NSCLC below lung cancer counts too, and no note
    r = run(*args, "--option", f"vocabulary={data / 'athena'}", str(data / "lung.json"), "--json")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["count"] == len(with_codes(resources, {"363358000", NSCLC}))
    assert not any("descendants" in n for n in body["notes"])


def test_unsupported_criteria_are_listed(data: Path, tmp_path: Path) -> None:
    q = tmp_path / "q.json"
    q.write_text(
        json.dumps({"hql": "1", "criteria": {**LUNG, "attributes": {"Manufacturer": "X"}}})
    )
    r = run(
        "node",
        "count",
        "--exact",
        "--model",
        "fhir",
        "--source",
        str(data / "ndjson"),
        str(q),
        "--json",
    )
    assert r.returncode == 1
    body = json.loads(r.stdout)
    assert body["count"] is None
    assert body["unsupported"] == [
        {
            "path": "criteria.attributes",
            "reason": "the fhir data model cannot evaluate 'attributes' on an event",
        }
    ]


def test_node_explain(data: Path, server: str) -> None:
    r = run(
        "node",
        "explain",
        "--model",
        "fhir",
        "--source",
        str(data / "ndjson"),
        str(data / "lung.json"),
    )
    assert r.returncode == 0, r.stderr
    assert '"v_condition"' in r.stdout and "'363358000'" in r.stdout
    r = run("node", "explain", "--model", "fhir", "--source", server, str(data / "lung.json"))
    assert r.returncode == 0, r.stderr
    assert f"# FHIR search requests to {server}" in r.stdout
    assert "Condition?code=http://snomed.info/sct|363358000&_elements=subject" in r.stdout


def test_node_check(messy: Path) -> None:
    r = run("node", "check", "--model", "fhir", "--source", str(messy), "--json")
    assert r.returncode == 1, r.stderr
    report = json.loads(r.stdout)
    found = {(p["code"], p["file"], p["row"], p["column"]) for p in report["problems"]}
    assert ("invalid-json", "Patient.ndjson", 4, None) in found
    assert ("dangling-reference", "Condition.ndjson.gz", 4, "subject.reference") in found
    assert ("dangling-reference", "bundle.json", "entry[2]", "subject.reference") in found
    assert ("missing-subject", "Condition.ndjson.gz", 5, "subject") in found
    text = run("node", "check", "--model", "fhir", "--source", str(messy))
    assert text.returncode == 1 and "FAILED" in text.stdout and "Traceback" not in text.stderr


def test_a_node_config_refusing_bad_input(messy: Path, tmp_path: Path, data: Path) -> None:
    config = messy.parent / "refuse.toml"
    config.write_text(
        f'[node]\nid = "f"\nmodel = "fhir"\nsource = "{messy.name}"\n\n'
        '[adapter]\non_error = "refuse"\n'
    )
    r = run("node", "count", "--exact", "--config", str(config), str(data / "lung.json"), "--json")
    assert r.returncode == 2
    stderr = r.stderr
    assert "refusing to serve bad FHIR input" in stderr and "Traceback" not in stderr
    assert "Patient.ndjson:4: not valid JSON" in stderr


def test_generate_vocabulary(tmp_path: Path, data: Path) -> None:
    r = run("generate", "vocabulary", "--out", str(tmp_path / "athena"))
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in (tmp_path / "athena").iterdir())
    assert names == ["CONCEPT.csv", "CONCEPT_ANCESTOR.csv", "CONCEPT_RELATIONSHIP.csv"]
    assert (tmp_path / "athena" / "CONCEPT.csv").read_bytes() == (
        data / "athena" / "CONCEPT.csv"
    ).read_bytes()
