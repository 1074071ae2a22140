"""The `hyperfed` command line: the command forms the issue makes a public contract,
run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hyperfed.hub.app import create_app
from hyperfed.hub.settings import load_settings
from tests.servers import free_port, omop_node_app, serve

HYPERFED = str(Path(sys.executable).parent / "hyperfed")
GI = {"hql": "1", "criteria": {"code": {"system": "http://snomed.info/sct", "code": "74474003"}}}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HYPERFED, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=None if env is None else {**os.environ, **env},
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
def cli_hub(
    eunomia_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """A hub with one Eunomia node, and a HYPERFED_HOME where a researcher made with
    `hyperfed hub user` has signed in with `hyperfed login`: (hub URL, that home)."""
    base = tmp_path_factory.mktemp("cli-hub")
    app = omop_node_app(eunomia_path, base)
    home = base / "home"
    with serve(app) as node:
        port = free_port()
        config = base / "hub.toml"
        config.write_text(
            f'[hub]\ndatabase = "sqlite:///hub.db"\n\n[identity]\nissuer = '
            f'"http://127.0.0.1:{port}"\n\n'
            f'[[nodes]]\nid = "eunomia"\nurl = "{node}"\nmodel = "omop"\n'
        )
        made = run("hub", "user", "ada", "--role", "researcher", "--config", str(config))
        assert made.returncode == 0, made.stderr
        password = made.stdout.split("password: ")[1].strip()
        with serve(create_app(load_settings(config)), port) as hub:
            env = {"HYPERFED_HOME": str(home), "HYPERFED_PASSWORD": password}
            signed = run("login", "--hub", hub, "--username", "ada", env=env)
            assert signed.returncode == 0, signed.stderr
            yield hub, home


@pytest.fixture(scope="module")
def hub_url(cli_hub: tuple[str, Path]) -> str:
    return cli_hub[0]


def _as_ada(cli_hub: tuple[str, Path]) -> dict[str, str]:
    return {"HYPERFED_HOME": str(cli_hub[1])}


def test_query_json_has_the_contract_fields(
    cli_hub: tuple[str, Path], hub_url: str, gi_file: Path
) -> None:
    r = run("query", "--hub", hub_url, str(gi_file), "--json", env=_as_ada(cli_hub))
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert isinstance(body["total"]["count"], int) and body["total"]["status"] == "ok"
    node = body["nodes"][0]
    for key in ("node", "status", "count", "countAdjustedTo", "countPrecision"):
        assert key in node
    assert node["node"] == "eunomia"


def test_query_table_output(cli_hub: tuple[str, Path], hub_url: str, gi_file: Path) -> None:
    r = run("query", "--hub", hub_url, str(gi_file), env=_as_ada(cli_hub))
    assert r.returncode == 0, r.stderr
    assert "eunomia" in r.stdout and "total" in r.stdout


def test_query_signs_in_by_token_login_or_client_credentials(
    cli_hub: tuple[str, Path], hub_url: str, gi_file: Path, tmp_path: Path
) -> None:
    empty = {"HYPERFED_HOME": str(tmp_path / "nobody")}
    r = run("query", "--hub", hub_url, str(gi_file), env=empty)
    assert r.returncode == 1 and "sign in first" in r.stderr and "hyperfed login" in r.stderr
    token = run("token", "--hub", hub_url, env=_as_ada(cli_hub))
    assert token.returncode == 0 and token.stdout.count(".") == 2, token.stderr
    r = run(
        "query",
        "--hub",
        hub_url,
        str(gi_file),
        "--json",
        env={**empty, "HYPERFED_TOKEN": token.stdout.strip()},
    )
    assert r.returncode == 0, r.stderr
    assert run("token", "--hub", hub_url, env=empty).returncode == 1
    config = Path(cli_hub[1]).parent / "hub.toml"
    made = run("hub", "client", "etl-bot", "--role", "researcher", "--config", str(config))
    assert made.returncode == 0, made.stderr
    secret = made.stdout.split("client_secret: ")[1].strip()
    bot = {**empty, "HYPERFED_CLIENT_ID": "etl-bot", "HYPERFED_CLIENT_SECRET": secret}
    r = run("query", "--hub", hub_url, str(gi_file), "--json", env=bot)
    assert r.returncode == 0, r.stderr
    bad = run("hub", "user", "eve", "--role", "wizard", "--config", str(config))
    assert bad.returncode == 2 and "--role" in bad.stderr


def test_hub_key_prints_the_task_public_key(cli_hub: tuple[str, Path]) -> None:
    config = Path(cli_hub[1]).parent / "hub.toml"
    r = run("hub", "key", "--config", str(config))
    assert r.returncode == 0, r.stderr
    jwk = json.loads(r.stdout)
    private = json.loads((config.parent / "hub.key").read_text())
    assert jwk["x"] == private["x"] and "d" not in jwk and jwk["crv"] == "Ed25519"


def test_query_reports_rejections(cli_hub: tuple[str, Path], hub_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hql": "1", "criteria": {"concept": "hf:LungCancr"}}))
    r = run("query", "--hub", hub_url, str(bad), env=_as_ada(cli_hub))
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
