"""`hyperfed fhir view` end to end through the typer sub-app (CliRunner)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from hyperfed.adapters.fhir.cli import app

from .conftest import condition, patient, write_ndjson

VIEW = {
    "resourceType": "ViewDefinition",
    "resource": "Patient",
    "select": [
        {
            "column": [
                {"name": "id", "path": "getResourceKey()"},
                {"name": "gender", "path": "gender"},
                {"name": "born", "path": "birthDate", "type": "date"},
                {"name": "given", "path": "name.given", "collection": True},
            ]
        }
    ],
}


def _source(tmp_path: Path) -> Path:
    p1 = patient("p1", "female", "1970-06", name=[{"given": ["Ann", "B"]}])
    p2 = patient("p2", "male", "1950")
    (tmp_path / "src").mkdir()
    write_ndjson(
        tmp_path / "src" / "all.ndjson",
        [json.dumps(p1), json.dumps(p2), json.dumps(condition("c1", "Patient/p1")), "{oops"],
    )
    view = tmp_path / "view.json"
    view.write_text(json.dumps(VIEW))
    return tmp_path


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_json_ndjson_csv(tmp_path: Path) -> None:
    base = _source(tmp_path)
    view, src = str(base / "view.json"), str(base / "src")
    want = [
        {"id": "p1", "gender": "female", "born": "1970-06", "given": ["Ann", "B"]},
        {"id": "p2", "gender": "male", "born": "1950", "given": []},
    ]
    code, out, err = _run("view", view, "--source", src)
    assert code == 0
    assert sorted(json.loads(out), key=lambda r: r["id"]) == want
    assert "all.ndjson:4: not valid JSON" in err
    code, out, _ = _run("view", view, "--source", src, "--format", "ndjson", "--quiet")
    assert code == 0
    assert sorted((json.loads(line) for line in out.splitlines()), key=lambda r: r["id"]) == want
    code, out, _ = _run("view", view, "--source", src, "--format", "csv", "--quiet")
    rows = sorted(csv.DictReader(io.StringIO(out)), key=lambda r: r["id"])
    assert rows == [
        {"id": "p1", "gender": "female", "born": "1970-06", "given": '["Ann", "B"]'},
        {"id": "p2", "gender": "male", "born": "1950", "given": "[]"},
    ]


def test_errors_are_messages(tmp_path: Path) -> None:
    base = _source(tmp_path)
    src = str(base / "src")
    code, out, err = _run("view", str(base / "view.json"), "--source", src, "--refuse-bad-input")
    assert code == 2 and out == "" and "refusing to serve" in err and "Traceback" not in err
    bad = base / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "resource": "Patient",
                "select": [{"column": [{"name": "x", "path": "name.where(use = 'official'"}]}],
            }
        )
    )
    code, out, err = _run("view", str(bad), "--source", src)
    assert code == 2 and "select[0].column[0].path" in err and "Traceback" not in err
    unsupported = base / "unsupported.json"
    unsupported.write_text(
        json.dumps(
            {
                "resource": "Patient",
                "select": [{"column": [{"name": "x", "path": "name.descendants()"}]}],
            }
        )
    )
    code, _, err = _run("view", str(unsupported), "--source", src)
    assert code == 2 and "descendants() is not supported" in err
    code, _, err = _run("view", str(base / "missing.json"), "--source", src)
    assert code == 2 and "cannot read" in err
    code, _, err = _run("view", str(base / "view.json"), "--source", src, "--format", "xml")
    assert code == 2 and "--format" in err
    code, _, err = _run("view", str(base / "view.json"), "--source", str(base / "nowhere"))
    assert code == 2 and "no such file or folder" in err
