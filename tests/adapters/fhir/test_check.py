"""`check_source`: every problem with file, line or entry and path, on the shared data-quality
Report (`hyperfed node check`), never a stack trace."""

from __future__ import annotations

import json
from pathlib import Path

from hyperfed.adapters.checks import Report
from hyperfed.adapters.fhir.check import check_source

from .conftest import SYNTHEA, condition, need, patient, write_ndjson

Found = set[tuple[str, str | None, int | str | None, str | None]]


def _found(report: Report) -> Found:
    return {(p.code, p.file, p.row, p.column) for p in report.problems}


def test_messy_input(messy: Path) -> None:
    report = check_source(messy)
    found = _found(report)
    expected_subset = {
        ("invalid-json", "Patient.ndjson", 4, None),
        ("duplicate", "Patient.ndjson", 5, None),
        ("not-a-resource", "Patient.ndjson", 6, None),
        ("not-a-resource", "Patient.ndjson", 7, None),
        ("dangling-reference", "Condition.ndjson.gz", 4, "subject.reference"),
        ("missing-subject", "Condition.ndjson.gz", 5, "subject"),
        ("missing-id", "Condition.ndjson.gz", 6, None),
        ("missing-subject", "Condition.ndjson.gz", 7, "subject"),
        ("dangling-reference", "Condition.ndjson.gz", 7, "subject.reference"),
        ("dangling-reference", "bundle.json", "entry[2]", "subject.reference"),
        ("not-a-resource", "bundle.json", "entry[3]", None),
        ("invalid-json", "broken.json", None, None),
        ("bundle-without-patient", "orphan.json.gz", None, None),
    }
    assert expected_subset <= found, expected_subset - found
    # a reference in every other form resolves: no problem on those lines / entries
    for line in (1, 2, 3):
        assert not any(k[1] == "Condition.ndjson.gz" and k[2] == line for k in found), line
    assert not any(
        k[1] == "bundle.json" and k[2] in ("entry[0]", "entry[1]", "entry[4]") for k in found
    )
    # typed objects: Patient.ndjson 4 (lines 1, 2, 5, 8), Condition 7, bundle 4, orphan 1
    assert report.facts["resources"] == 16
    assert report.facts["files"] == 5
    # a reference to a missing Patient is an error (its events are never counted), and the
    # messages name the resource
    dangling = next(p for p in report.problems if p.row == 4 and p.code == "dangling-reference")
    assert dangling.severity == "error"
    assert dangling.message == "Condition/c4: Patient/nobody is not in the input"
    assert not report.ok and report.exit_code == 1


def test_invalid_resources_name_the_path(tmp_path: Path) -> None:
    bad = patient("p1", "female", "1970-13-45")  # no such date
    bad["name"] = [{"family": 3}]  # a string expected
    bad["unknownElement"] = True
    cond = condition("c1", "Patient/p1")
    cond["code"]["coding"][0]["code"] = {"not": "a string"}
    write_ndjson(
        tmp_path / "x.ndjson",
        [json.dumps(bad), json.dumps(cond), json.dumps({"resourceType": "Patientt", "id": "z"})],
    )
    report = check_source(tmp_path)
    found = {(p.code, p.row, p.column) for p in report.problems}
    assert ("invalid-resource", 1, "birthDate") in found
    assert ("invalid-resource", 1, "name[0].family") in found
    assert ("invalid-resource", 1, "unknownElement") in found
    assert ("invalid-resource", 2, "code.coding[0].code") in found
    assert ("unknown-type", 3, None) in found
    unknown = next(p for p in report.problems if p.code == "unknown-type")
    assert unknown.where() == "x.ndjson row 3"
    assert unknown.message == "Patientt/z: 'Patientt' is not a FHIR R4 resource type"
    # the report is plain data: JSON out and back
    assert Report.from_dict(json.loads(report.to_json())).problems == report.problems


def test_unreadable_and_missing(tmp_path: Path) -> None:
    (tmp_path / "a.ndjson.gz").write_bytes(b"not gzip at all")
    report = check_source(tmp_path)
    assert [(p.code, p.file, p.severity) for p in report.problems] == [
        ("unreadable", "a.ndjson.gz", "error")
    ]
    missing = check_source(tmp_path / "nothing")
    assert [p.code for p in missing.problems] == ["unreadable"]


def test_synthea_is_valid() -> None:
    report = check_source(need(SYNTHEA))
    assert report.ok, [p for p in report.problems if p.severity == "error"][:20]
    assert report.facts["resources"] > 8000
