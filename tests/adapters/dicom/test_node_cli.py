"""`hyperfed node ... --model dicom` as real processes: index-dicom (mounted by the adapter's
node_commands hook), count, explain and check through the generic commands, on the three
kinds of source."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from hyperfed.synth import SynthSpec
from hyperfed.synth.dicom import write_dicom
from tests.orthanc import OrthancServer

HYPERFED = str(Path(sys.executable).parent / "hyperfed")
CT_MR = {"hql": "1", "criteria": {"any": [{"concept": "hf:CT"}, {"concept": "hf:MR"}]}}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HYPERFED, *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("cli-site")
    write_dicom(SynthSpec(persons=600, seed=21), base, files=12, instances=2)
    (base / "ct-or-mr.json").write_text(json.dumps(CT_MR))
    return base


def persons(parquet: Path, where: str) -> int:
    with duckdb.connect() as con:
        ((n,),) = con.execute(
            f"SELECT count(DISTINCT person_key) FROM read_parquet('{parquet}') WHERE {where}"
        ).fetchall()
    return int(n)


def count(source: str, query: Path, *options: str) -> dict[str, Any]:
    r = run("node", "count", "--exact", "--model", "dicom", "--source", source, str(query),
            "--json", *options)  # fmt: skip
    assert r.returncode == 0, r.stderr
    data: dict[str, Any] = json.loads(r.stdout)
    return data


def test_index_dicom_then_count_the_index_and_the_folder(site: Path) -> None:
    index = site / "own.parquet"
    r = run("node", "index-dicom", str(site / "files"), "--out", str(index),
            "--ids-pseudonymous", "--workers", "1", "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["series"] == 12 and index.exists()
    expected = persons(index, "Modality IN ('CT', 'MR')")
    query = site / "ct-or-mr.json"
    assert count(str(index), query)["count"] == expected > 0
    assert count(str(site / "files"), query, "--option", "workers=1")["count"] == expected
    with duckdb.connect() as con:
        ((studies, series),) = con.execute(
            f"SELECT count(DISTINCT StudyInstanceUID), count(*) FROM read_parquet('{index}') "
            "WHERE Modality IN ('CT', 'MR')"
        ).fetchall()
    data = count(str(index), query, "--option", "count_studies=true")
    assert data["count"] == expected  # the contract's field stays the person count
    assert data["details"] == {"studies": studies, "series": series}


def test_node_help_lists_the_model_command() -> None:
    r = run("node", "--help")
    assert r.returncode == 0 and "index-dicom" in r.stdout


def test_count_and_explain_a_parquet_index(site: Path) -> None:
    parquet = site / "dicom_series.parquet"
    query = site / "ct-or-mr.json"
    assert count(str(parquet), query)["count"] == persons(parquet, "Modality IN ('CT', 'MR')")
    r = run("node", "explain", "--model", "dicom", "--source", str(parquet), str(query))
    assert r.returncode == 0, r.stderr
    assert '"dicom_series"' in r.stdout and "UNION" in r.stdout
    protected = run("node", "count", "--model", "dicom", "--source", str(parquet), str(query),
                    "--json")  # fmt: skip
    assert protected.returncode == 0, protected.stderr
    assert json.loads(protected.stdout)["countPrecision"] in ("imprecise", "exact")


def test_unknown_keywords_are_refused_naming_them(site: Path) -> None:
    bad = site / "bad.json"
    bad.write_text(json.dumps({"hql": "1", "criteria": {
        "concept": "hf:CT", "attributes": {"SliceThicknes": {"max": 1}}}}))  # fmt: skip
    r = run("node", "count", "--exact", "--model", "dicom", "--source",
            str(site / "dicom_series.parquet"), str(bad))  # fmt: skip
    assert r.returncode == 2
    assert "criteria.attributes.SliceThicknes" in r.stderr and "SliceThickness" in r.stderr


def test_check_a_parquet_index_and_a_folder(site: Path) -> None:
    r = run("node", "check", "--model", "dicom", "--source", str(site / "dicom_series.parquet"),
            "--json")  # fmt: skip
    report = json.loads(r.stdout)
    assert report["model"] == "dicom" and report["facts"]["series"] > 100
    assert r.returncode == (0 if report["ok"] else 1)
    folder = run("node", "check", "--model", "dicom", "--source", str(site / "files"),
                 "--option", "workers=1", "--option", "slices=[1, 3]", "--json")  # fmt: skip
    data = json.loads(folder.stdout)
    n_files = len(list((site / "files").rglob("*.dcm")))
    assert data["facts"]["files"] == n_files and data["facts"]["series"] == 12


def test_a_dicomweb_source_counts_and_explains(orthanc: OrthancServer, tmp_path: Path) -> None:
    query = tmp_path / "ct.json"
    query.write_text(json.dumps({"hql": "1", "criteria": {"concept": "hf:CT"}}))
    data = count(orthanc.dicomweb, query, "--option", "count_studies=true")
    assert data["count"] >= 1 and data["details"]["series"] >= data["count"]
    r = run("node", "explain", "--model", "dicom", "--source", orthanc.dicomweb, str(query))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1].startswith(f"[1] GET {orthanc.dicomweb}/series?Modality=CT")
