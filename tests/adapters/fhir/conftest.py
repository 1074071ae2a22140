"""Shared paths and helpers for the FHIR adapter tests."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

SHARED = Path(__file__).resolve().parents[3].parent / "shared"
SOF_TESTS = SHARED / "reference" / "sql-on-fhir" / "tests"
SYNTHEA = SHARED / "data" / "fhir" / "synthea_r4_bundles"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/ is not beside the worktree)")
    return path


US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"


def patient(pid: str | None, gender: str, birth: str, **extra: Any) -> dict[str, Any]:
    r: dict[str, Any] = {"resourceType": "Patient", "gender": gender, "birthDate": birth}
    if pid is not None:
        r["id"] = pid
    r.update(extra)
    return r


def condition(cid: str | None, ref: str | None, code: str = "44054006") -> dict[str, Any]:
    r: dict[str, Any] = {
        "resourceType": "Condition",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": code}]},
        "onsetDateTime": "2020-03-04",
    }
    if cid is not None:
        r["id"] = cid
    if ref is not None:
        r["subject"] = {"reference": ref}
    return r


def write_ndjson(path: Path, lines: list[str]) -> None:
    data = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data.encode()))
    else:
        path.write_text(data)


@pytest.fixture()
def messy(tmp_path: Path) -> Path:
    src = tmp_path / "export"
    src.mkdir()
    d = json.dumps
    write_ndjson(
        src / "Patient.ndjson",
        [
            d(patient("p1", "female", "1970-06", meta={"profile": [US_CORE]})),  # line 1
            d(patient("p2", "male", "1950", deceasedDateTime="2019-05-01")),  # line 2
            "",  # line 3: blank, ignored
            '{"resourceType": "Patient", "id": "p3", "gender": ',  # line 4: broken
            d(patient("p1", "female", "1970-06")),  # line 5: duplicate of line 1
            "[1, 2]",  # line 6: not an object
            d({"id": "x"}),  # line 7: no resourceType
            d({"resourceType": "Claim", "id": "c1"}),  # line 8: unused type
        ],
    )
    write_ndjson(
        src / "Condition.ndjson.gz",
        [
            d(condition("c1", "Patient/p1")),  # line 1
            d(condition("c2", "http://example.org/fhir/Patient/p2")),  # line 2: absolute URL
            d(condition("c3", "Patient/p2/_history/3")),  # line 3: versioned
            d(condition("c4", "Patient/nobody")),  # line 4: dangling
            d(condition("c5", None)),  # line 5: no subject
            d(condition(None, "Patient/p1")),  # line 6: no id
            d(condition("c6", "Group/g1")),  # line 7: not a Patient
        ],
    )
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:aaaa-1111",
                "resource": patient(None, "female", "2001-02-03"),  # entry 0: id from fullUrl
            },
            {
                "fullUrl": "urn:uuid:bbbb-2222",
                "resource": condition("c7", "urn:uuid:aaaa-1111", code="195967001"),  # entry 1
            },
            {
                "fullUrl": "urn:uuid:cccc-3333",
                "resource": condition("c8", "urn:uuid:missing-0000"),  # entry 2: unresolved
            },
            {"fullUrl": "urn:uuid:dddd-4444"},  # entry 3: no resource
            {
                "fullUrl": "https://example.org/fhir/Organization/o1",
                "resource": {"resourceType": "Organization", "id": "o1"},  # entry 4: skipped
            },
        ],
    }
    (src / "bundle.json").write_text(json.dumps(bundle, indent=2))
    orphan = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"fullUrl": "urn:uuid:eeee-5555", "resource": condition("c9", "Patient/p1")}],
    }
    (src / "orphan.json.gz").write_bytes(gzip.compress(json.dumps(orphan).encode()))
    (src / "broken.json").write_text('{"resourceType": "Bundle", "entry": [')
    (src / "manifest.json").write_text('{"transactionTime": "2024-01-01", "output": []}')
    (src / "log.ndjson").write_text('{"resourceType": "OperationOutcome"}\n')
    (src / "README.txt").write_text("not FHIR")
    return src
