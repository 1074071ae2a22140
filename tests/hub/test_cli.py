"""The `hyperfed` command line: the command forms the issue makes a public contract,
run as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hyperfed.hub.app import create_app
from hyperfed.hub.settings import load_settings
from tests.servers import omop_node_app, serve

HYPERFED = str(Path(sys.executable).parent / "hyperfed")
GI = {"hql": "1", "criteria": {"code": {"system": "http://snomed.info/sct", "code": "74474003"}}}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HYPERFED, *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture()
def gi_file(tmp_path: Path) -> Path:
    path = tmp_path / "gi.json"
    path.write_text(json.dumps(GI))
    return path


def test_node_count_exact_prints_the_true_count(eunomia_path: Path, gi_file: Path) -> None:
    r = run(
        "node",
        "count",
        "--exact",
        "--model",
        "omop",
        "--source",
        f"duckdb://{eunomia_path}",
        str(gi_file),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["count"] == 479


def test_node_count_without_exact_is_protected(
    eunomia_path: Path, gi_file: Path, tmp_path: Path
) -> None:
    config = tmp_path / "node.toml"
    config.write_text(f'[node]\nid = "eu"\nsource = "duckdb://{eunomia_path}"\n')
    r = run("node", "count", "--config", str(config), str(gi_file), "--json")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["count"] % 10 == 0 and body["countPrecision"] == "imprecise"
    assert (tmp_path / "eu.secret").exists()


def test_node_explain_shows_sql(eunomia_path: Path, gi_file: Path) -> None:
    r = run(
        "node", "explain", "--model", "omop", "--source", f"duckdb://{eunomia_path}", str(gi_file)
    )
    assert r.returncode == 0, r.stderr
    assert "condition_occurrence" in r.stdout.lower() and "192671" in r.stdout


def test_node_count_names_the_bad_field(eunomia_path: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hql": "1", "criteria": {"all": [{"concept": "hf:Femal"}]}}))
    r = run(
        "node",
        "count",
        "--exact",
        "--model",
        "omop",
        "--source",
        f"duckdb://{eunomia_path}",
        str(bad),
    )
    assert r.returncode == 2
    assert "criteria.all[0].concept" in r.stderr and "hf:Female" in r.stderr


def test_bad_source_is_a_clear_error(gi_file: Path, tmp_path: Path) -> None:
    r = run(
        "node",
        "count",
        "--exact",
        "--model",
        "omop",
        "--source",
        f"duckdb://{tmp_path}/missing.duckdb",
        str(gi_file),
    )
    assert r.returncode == 2 and "not found" in r.stderr
    r = run(
        "node", "count", "--exact", "--model", "nosuch", "--source", "duckdb:///x", str(gi_file)
    )
    assert r.returncode == 2 and "valid models: " in r.stderr
    assert "omop" in r.stderr.split("valid models: ")[1].strip().split(", ")


@pytest.fixture(scope="module")
def hub_url(eunomia_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("cli-hub")
    app = omop_node_app(eunomia_path, base)
    with serve(app) as node:
        (base / "hub.toml").write_text(
            f'[[nodes]]\nid = "eunomia"\nurl = "{node}"\nmodel = "omop"\n'
        )
        with serve(create_app(load_settings(base / "hub.toml"))) as hub:
            yield hub


def test_query_json_has_the_contract_fields(hub_url: str, gi_file: Path) -> None:
    r = run("query", "--hub", hub_url, str(gi_file), "--json")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert isinstance(body["total"]["count"], int) and body["total"]["status"] == "ok"
    node = body["nodes"][0]
    for key in ("node", "status", "count", "countAdjustedTo", "countPrecision"):
        assert key in node
    assert node["node"] == "eunomia"


def test_query_table_output(hub_url: str, gi_file: Path) -> None:
    r = run("query", "--hub", hub_url, str(gi_file))
    assert r.returncode == 0, r.stderr
    assert "eunomia" in r.stdout and "total" in r.stdout


def test_query_reports_rejections(hub_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hql": "1", "criteria": {"concept": "hf:LungCancr"}}))
    r = run("query", "--hub", hub_url, str(bad))
    assert r.returncode == 1
    assert "criteria.concept" in r.stderr and "hf:LungCancer" in r.stderr


def test_node_check_reports_on_any_model(eunomia_path: Path, tmp_path: Path) -> None:
    r = run("node", "check", "--model", "omop", "--source", f"duckdb://{eunomia_path}", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["model"] == "omop" and report["ok"] is True and report["errors"] == 0
    assert any("OMOP CDM 5.3" in n for n in report["notes"]), report["notes"]
    missing = f"duckdb://{tmp_path}/missing.duckdb"
    r = run("node", "check", "--model", "omop", "--source", missing, "--json")
    assert r.returncode == 1
    (problem,) = json.loads(r.stdout)["problems"]
    assert problem["code"] == "source.unreadable" and "not found" in problem["message"]
    r = run("node", "check", "--model", "omop", "--source", f"duckdb://{eunomia_path}")
    assert r.returncode == 0 and "OK: 0 error(s)" in r.stdout
