"""`hyperfed catalog ...` as real processes: validate a node config (its protected facts
included), refresh through a running hub, export DataCite JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hyperfed.hub.auth.setup import create_service_account
from tests.catalog.conftest import Served

CONFIG = """
[node]
id = "eunomia"
title = "OHDSI Eunomia"
source = "duckdb://{source}"
contact = {{ name = "Data office", email = "data@eunomia.example" }}

[[datasets]]
id = "eunomia-omop"
title = "Eunomia GiBleed"
licence = "CC0-1.0"
doi = "10.5072/eunomia"
"""


def hyperfed(
    *args: str, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hyperfed.hub.cli", "catalog", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", **(env or {})},
    )


def test_validate_a_node_config(tmp_path: Path, eunomia_path: Path) -> None:
    good = tmp_path / "node.toml"
    good.write_text(CONFIG.format(source=eunomia_path))
    done = hyperfed("validate", str(good))
    assert done.returncode == 0, done.stderr
    assert "1 dataset(s) valid" in done.stdout
    # no contact point anywhere: the HealthDCAT-AP shapes refuse it, naming the dataset
    bad = tmp_path / "bad.toml"
    bad.write_text(CONFIG.format(source=eunomia_path).replace("contact = {", "# {"))
    done = hyperfed("validate", str(bad), "--no-facts")
    assert done.returncode == 1
    assert "/catalog/eunomia/dataset/eunomia-omop http://www.w3.org/ns/dcat#contactPoint" in (
        done.stderr
    )
    # a config error names the file, the entry and the field
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(CONFIG.format(source=eunomia_path).replace('"CC0-1.0"', '"GPL"'))
    done = hyperfed("validate", str(wrong), "--no-facts")
    assert done.returncode == 2
    assert "wrong.toml: datasets[0].licence" in done.stderr and "Traceback" not in done.stderr


def test_refresh_and_datacite_through_the_hub(served: Served, tmp_path: Path) -> None:
    nobody = {"HYPERFED_HOME": str(tmp_path / "home")}  # no stored login
    secret = create_service_account(served.store, "cli-admin", ["admin"])
    admin = {**nobody, "HYPERFED_CLIENT_ID": "cli-admin", "HYPERFED_CLIENT_SECRET": secret}
    done = hyperfed("refresh", "site-a", "--hub", served.url, env=admin)
    assert done.returncode == 0, done.stderr
    assert "site-a: 5 dataset(s) published" in done.stdout  # cohort-5 is private
    done = hyperfed("refresh", "--hub", served.url, env=admin)
    assert done.returncode == 0, done.stderr
    assert {line.split(":")[0] for line in done.stdout.splitlines()} == set(served.publications)
    assert hyperfed("refresh", "no-such-node", "--hub", served.url, env=admin).returncode == 1
    # refreshing is for admins: anonymous and a researcher's token are refused, saying so
    done = hyperfed("refresh", "site-a", "--hub", served.url, env=nobody)
    assert done.returncode == 1 and "sign in first" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    token = served.bearer("cli-researcher", ["researcher"])["Authorization"].split()[1]
    done = hyperfed(
        "refresh", "site-a", "--hub", served.url, env={**nobody, "HYPERFED_TOKEN": token}
    )
    assert done.returncode == 1 and "admin role" in done.stderr, done.stderr
    out = tmp_path / "datacite.json"
    done = hyperfed("datacite", "site-a", "cohort-0", "--hub", served.url, "--out", str(out))
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    attributes = doc["data"]["attributes"]
    assert attributes["titles"][0]["title"] == "Site A cohort 0"
    assert attributes["doi"] == "10.5072/site-a-cohort-0"
    # a private dataset has no DataCite record either
    assert hyperfed("datacite", "site-a", "cohort-5", "--hub", served.url).returncode == 1
