"""`check_source`: every problem with file, line or entry and path, never a stack trace."""

from __future__ import annotations

import json
from pathlib import Path

from hyperfed.adapters.fhir.check import check_source

from .conftest import SYNTHEA, condition, need, patient, write_ndjson


def _found(report: object) -> set[tuple[str, str, int | None, int | None, str | None]]:
    return {
        (p.kind, Path(p.file).name, p.line, p.entry, p.path)
        for p in report.problems  # type: ignore[attr-defined]
    }


def test_messy_input(messy: Path) -> None:
    report = check_source(messy)
    found = _found(report)
    expected_subset = {
        ("invalid_json", "Patient.ndjson", 4, None, None),
        ("not_a_resource", "Patient.ndjson", 6, None, None),
        ("not_a_resource", "Patient.ndjson", 7, None, None),
        ("dangling_reference", "Condition.ndjson.gz", 4, None, "subject.reference"),
        ("missing_subject", "Condition.ndjson.gz", 5, None, "subject"),
        ("missing_subject", "Condition.ndjson.gz", 7, None, "subject"),
        ("dangling_reference", "Condition.ndjson.gz", 7, None, "subject.reference"),
        ("dangling_reference", "bundle.json", None, 2, "subject.reference"),
        ("not_a_resource", "bundle.json", None, 3, None),
        ("invalid_json", "broken.json", None, None, None),
    }
    assert expected_subset <= found, expected_subset - found
    # a reference in every other form resolves: no problem on those lines / entries
    for line in (1, 2, 3, 6):
        assert not any(k[1] == "Condition.ndjson.gz" and k[2] == line for k in found), line
    assert not any(k[1] == "bundle.json" and k[3] in (0, 1, 4) for k in found)
    # typed objects: Patient.ndjson 4 (lines 1, 2, 5, 8), Condition 7, bundle 4, orphan 1
    assert report.resources == 16


def test_invalid_resources_name_the_path(tmp_path: Path) -> None:
    bad = patient("p1", "female", "1970-13-45")  # no such date
    bad["gender"] = "woman"  # not in the value set's codes? (a code: any token is valid)
    bad["name"] = [{"family": 3}]  # a string expected
    bad["unknownElement"] = True
    cond = condition("c1", "Patient/p1")
    cond["code"]["coding"][0]["code"] = {"not": "a string"}
    write_ndjson(
        tmp_path / "x.ndjson",
        [json.dumps(bad), json.dumps(cond), json.dumps({"resourceType": "Patientt", "id": "z"})],
    )
    report = check_source(tmp_path)
    found = {(p.kind, p.line, p.path) for p in report.problems}
    assert ("invalid_resource", 1, "birthDate") in found
    assert ("invalid_resource", 1, "name[0].family") in found
    assert ("invalid_resource", 1, "unknownElement") in found
    assert ("invalid_resource", 2, "code.coding[0].code") in found
    assert ("unknown_type", 3, None) in found
    text = report.format()
    assert "x.ndjson:3 Patientt/z: 'Patientt' is not a FHIR R4 resource type" in text


def test_unreadable_and_missing(tmp_path: Path) -> None:
    (tmp_path / "a.ndjson.gz").write_bytes(b"not gzip at all")
    report = check_source(tmp_path)
    assert [(p.kind, Path(p.file).name) for p in report.problems] == [("unreadable", "a.ndjson.gz")]
    assert check_source(tmp_path / "nothing").problems[0].kind == "unreadable"


def test_synthea_is_valid() -> None:
    report = check_source(need(SYNTHEA))
    assert report.ok, report.format()[:2000]
    assert report.resources > 8000
