"""`hyperfed node count|explain|check --model sdtm --source DIR`, run as real processes on the
messy trial folder (`trial.py`; expected counts worked out by hand there)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hyperfed.adapters.checks import Report
from tests.adapters.sdtm.trial import DM, write_trial

HYPERFED = str(Path(sys.executable).parent / "hyperfed")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HYPERFED, *args], capture_output=True, text=True, timeout=120, check=False
    )


def words(text: str) -> str:
    """`text` with the terminal's line wrapping undone."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def trial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_trial(tmp_path_factory.mktemp("cli-trial") / "trial")


def query(tmp_path: Path, criteria: dict[str, object]) -> str:
    path = tmp_path / "query.json"
    path.write_text(json.dumps({"hql": "1", "criteria": criteria, "as_of": "2019-06-15"}))
    return str(path)


def test_count_exact_json(trial: Path, tmp_path: Path) -> None:
    q = query(tmp_path, {"concept": "hf:Hypertension"})
    r = run("node", "count", "--exact", "--model", "sdtm", "--source", str(trial), q, "--json")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["count"] == 4 and body["exact"] is True and body["unsupported"] == []
    everyone = query(tmp_path, {"concept": "hf:Person"})
    r = run(
        "node", "count", "--exact", "--model", "sdtm", "--source", str(trial),
        "--option", 'exclude_arms=["SCRNFAIL"]', everyone, "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["count"] == 5


def test_count_reports_unsupported_with_its_path(trial: Path, tmp_path: Path) -> None:
    icd = {"code": {"system": "icd10", "code": "Z99.9"}}
    q = query(tmp_path, {"all": [{"concept": "hf:Hypertension"}, {"not": icd}]})
    r = run("node", "count", "--exact", "--model", "sdtm", "--source", str(trial), q, "--json")
    assert r.returncode == 1
    body = json.loads(r.stdout)
    assert body["count"] is None
    assert [u["path"] for u in body["unsupported"]] == ["criteria.all[1].not"]
    assert "no ICD-10 codes" in body["unsupported"][0]["reason"]


def test_explain_shows_the_sql(trial: Path, tmp_path: Path) -> None:
    q = query(tmp_path, {"concept": "hf:Hemoglobin", "value": {"max": 12, "unit": "g/dL"}})
    r = run("node", "explain", "--model", "sdtm", "--source", str(trial), q)
    assert r.returncode == 0, r.stderr
    assert '"findings"' in r.stdout and "'HGB'" in r.stdout and "'g/L'" in r.stdout
    assert r.stdout.startswith("-- values are compared in units compatible with 'g/dL'")


def test_check_json_table_and_exit_status(trial: Path, tmp_path: Path) -> None:
    r = run("node", "check", "--model", "sdtm", "--source", str(trial), "--json")
    assert r.returncode == 1, r.stderr
    report = Report.from_dict(json.loads(r.stdout))
    found = {(p.file, p.row, p.column, p.code) for p in report.problems}
    assert ("acme_lb.csv", 8, "USUBJID", "unknown-subject") in found
    assert ("acme_lb.csv", 5, "LBSTRESN", "not-numeric") in found
    assert ("mh.csv", 3, "MHSTDTC", "date-ambiguous") in found
    table = run("node", "check", "--model", "sdtm", "--source", str(trial))
    assert table.returncode == 1 and "FAILED" in table.stdout
    assert "Traceback" not in table.stdout + table.stderr
    clean = tmp_path / "clean"
    clean.mkdir()
    lines = DM.splitlines()
    (clean / "dm.csv").write_text("\n".join([lines[0], lines[1]]) + "\n")
    ok = run("node", "check", "--model", "sdtm", "--source", str(clean))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK: 0 error(s)" in ok.stdout


def test_bad_sources_and_options_are_clear_errors(trial: Path, tmp_path: Path) -> None:
    q = query(tmp_path, {"concept": "hf:Person"})
    missing = tmp_path / "nope"
    r = run("node", "count", "--exact", "--model", "sdtm", "--source", str(missing), q)
    assert r.returncode == 2 and "no such folder" in words(r.stderr) and "Traceback" not in r.stderr
    r = run("node", "check", "--model", "sdtm", "--source", str(missing), "--json")
    assert r.returncode == 1
    assert [p["code"] for p in json.loads(r.stdout)["problems"]] == ["unreadable-source"]
    r = run(
        "node", "count", "--exact", "--model", "sdtm", "--source", str(trial),
        "--option", "on_error=explode", q,
    )  # fmt: skip
    assert r.returncode == 2 and "on_error" in words(r.stderr) and "Traceback" not in r.stderr
    no_dm = tmp_path / "no-dm"
    no_dm.mkdir()
    (no_dm / "ae.csv").write_text((trial / "ae.csv").read_text())
    r = run(
        "node", "count", "--exact", "--model", "sdtm", "--source", str(no_dm),
        "--option", "on_error=refuse", q,
    )  # fmt: skip
    assert r.returncode == 2 and "required domain DM is missing" in words(r.stderr)
