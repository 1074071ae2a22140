"""The real ckanext-dcat parser (CKAN's DCAT harvester) on the catalogue's pages.

CKAN and ckanext-dcat are installed from PyPI into a throwaway virtualenv, kept in
``.hyperfed/ckanext-dcat-venv`` between runs (about 35 s the first time). The walk is the
DCATRDFHarvester's: HEAD then GET each page, parse it with ckanext-dcat's RDFParser, follow
its ``next_page()``, stop when a page repeats the first. Set HYPERFED_SKIP_CKAN=1 to skip
deliberately (for example offline); a failed install otherwise fails the test."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.catalog.conftest import Served
from tests.conftest import REPO_ROOT

SPEC = ["ckan[requirements]==2.12.0", "ckanext-dcat==2.4.4"]
VENV = REPO_ROOT / ".hyperfed" / "ckanext-dcat-venv"


def _python() -> Path:
    return VENV / "bin" / "python"


@pytest.fixture(scope="module")
def ckan_python() -> Path:
    if os.environ.get("HYPERFED_SKIP_CKAN") == "1":
        pytest.skip("ckanext-dcat tests skipped because HYPERFED_SKIP_CKAN=1")
    stamp = VENV / ".stamp"
    if stamp.exists() and stamp.read_text() == json.dumps(SPEC) and _python().exists():
        return _python()
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    pip = subprocess.run(
        [str(_python()), "-m", "pip", "install", "-q", "--disable-pip-version-check", *SPEC],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if pip.returncode != 0:
        pytest.fail(
            f"could not install {' '.join(SPEC)} into {VENV} (set HYPERFED_SKIP_CKAN=1 to "
            f"skip deliberately):\n{pip.stderr[-2000:]}",
            pytrace=False,
        )
    stamp.write_text(json.dumps(SPEC))
    return _python()


@pytest.fixture(scope="module")
def parser(ckan_python: Path) -> Iterator[subprocess.Popen[str]]:
    script = Path(__file__).with_name("ckan_parse.py")
    proc = subprocess.Popen(
        [str(ckan_python), str(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    yield proc
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    proc.wait(timeout=30)
    proc.stdout.close()


def ckan_parse(proc: subprocess.Popen[str], content: str, content_type: str) -> dict[str, Any]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps({"content": content, "content_type": content_type}) + "\n")
    proc.stdin.flush()
    out: dict[str, Any] = json.loads(proc.stdout.readline())
    assert "error" not in out, out.get("error")
    return out


def harvest(proc: subprocess.Popen[str], url: str) -> list[dict[str, Any]]:
    datasets: list[dict[str, Any]] = []
    first = None
    with httpx.Client() as client:
        while url:
            assert client.head(url).status_code == 200
            r = client.get(url)
            r.raise_for_status()
            digest = hashlib.md5(r.content).digest()
            if first is not None and digest == first:
                break
            first = first or digest
            page = ckan_parse(proc, r.text, r.headers["content-type"].split(";")[0])
            datasets += page["datasets"]
            url = page["next"] or ""
    return datasets


def extras(d: dict[str, Any]) -> dict[str, Any]:
    return {e["key"]: e["value"] for e in d.get("extras", [])}


@pytest.mark.parametrize("start", ["/catalog", "/catalog.rdf", "/catalog?format=jsonld"])
def test_ckanext_dcat_harvests_every_public_dataset(
    served: Served, parser: subprocess.Popen[str], start: str
) -> None:
    datasets = harvest(parser, served.url + start)
    by_uri = {extras(d)["uri"]: d for d in datasets}
    assert len(by_uri) == len(datasets)
    assert set(by_uri) == {served.iri(e) for e in served.public}
    for e in served.public:
        assert by_uri[served.iri(e)]["title"] == e.title


def test_ckanext_dcat_reads_the_health_facts(served: Served, parser: subprocess.Popen[str]) -> None:
    datasets = {extras(d)["uri"]: d for d in harvest(parser, served.url + "/catalog")}
    for record in served.catalog.records():
        d = datasets[record.iri]
        text = b"\n".join(record.lines).decode()
        persons = d.get("number_of_unique_individuals")
        if persons is not None:
            assert f'numberOfUniqueIndividuals> "{persons}"' in text
            assert persons >= 10
        for key in ("min_typical_age", "max_typical_age", "number_of_records"):
            if key in d:
                assert d[key] >= 0
        assert d["health_category"], record.iri
        assert d["resources"], "every dataset has the feasibility distribution"
        assert any(r.get("access_url", "").endswith("/queries") for r in d["resources"])
    cohort = datasets[f"{served.url}/catalog/site-a/dataset/cohort-0"]
    assert extras(cohort)["identifier"] == "https://doi.org/10.5072/site-a-cohort-0"
    assert "number_of_unique_individuals" in cohort
    assert cohort["min_typical_age"] <= cohort["max_typical_age"]
