"""The loader on messy input written here: broken lines, dangling and urn:uuid references,
absolute URLs, profiles, Bundles without Patients, unreadable files, duplicates; both
operator choices (serve what you can / refuse)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hyperfed.adapters.fhir.errors import SourceError
from hyperfed.adapters.fhir.load import load_fhir

from .conftest import US_CORE, patient, write_ndjson


def _problems(report: Any) -> set[tuple[str, str, int | None, int | None]]:
    return {(p.kind, Path(p.file).name, p.line, p.entry) for p in report.problems}


def test_serve_what_you_can(messy: Path) -> None:
    store = load_fhir(messy)
    r = store.report
    assert r.loaded == {"Condition": 9, "Patient": 3}
    assert r.skipped == {"Claim": 1, "Organization": 1}
    assert sorted(Path(f).name for f in r.ignored_files) == [
        "README.txt",
        "log.ndjson",
        "manifest.json",
    ]
    expected = {
        ("invalid_json", "Patient.ndjson", 4, None),
        ("duplicate", "Patient.ndjson", 5, None),
        ("not_a_resource", "Patient.ndjson", 6, None),
        ("not_a_resource", "Patient.ndjson", 7, None),
        ("dangling_reference", "Condition.ndjson.gz", 4, None),
        ("missing_subject", "Condition.ndjson.gz", 5, None),
        ("missing_id", "Condition.ndjson.gz", 6, None),
        ("missing_subject", "Condition.ndjson.gz", 7, None),
        ("unresolved_reference", "bundle.json", None, 2),
        ("missing_subject", "bundle.json", None, 2),
        ("not_a_resource", "bundle.json", None, 3),
        ("bundle_without_patient", "orphan.json.gz", None, None),
        ("invalid_json", "broken.json", None, None),
    }
    assert _problems(r) == expected
    assert sum(r.problem_counts.values()) == len(expected)
    text = r.format()
    assert "Patient.ndjson:4: not valid JSON" in text
    assert "refers to Patient/nobody, which is not loaded" in text
    # the references in every form resolve to the patient
    rows = store.con.execute(
        "SELECT id, patient_id, system, code FROM v_condition ORDER BY id"
    ).fetchall()
    assert rows == [
        ("c1", "p1", "http://snomed.info/sct", "44054006"),
        ("c2", "p2", "http://snomed.info/sct", "44054006"),
        ("c3", "p2", "http://snomed.info/sct", "44054006"),
        ("c4", "nobody", "http://snomed.info/sct", "44054006"),
        ("c5", None, "http://snomed.info/sct", "44054006"),
        ("c6", None, "http://snomed.info/sct", "44054006"),
        ("c7", "aaaa-1111", "http://snomed.info/sct", "195967001"),
        ("c8", None, "http://snomed.info/sct", "44054006"),
        ("c9", "p1", "http://snomed.info/sct", "44054006"),
    ]
    patients = store.con.execute(
        "SELECT id, gender, birth_date, birth_date_start, deceased FROM v_patient ORDER BY id"
    ).fetchall()
    assert patients == [
        ("aaaa-1111", "female", "2001-02-03", "2001-02-03", None),
        ("p1", "female", "1970-06", "1970-06-01", None),
        ("p2", "male", "1950", "1950-01-01", True),
    ]
    # the first of the duplicates is kept (it carries the US Core profile)
    profile = store.con.execute(
        "SELECT json_extract_string(json, '$.meta.profile[0]') FROM fhir_resource "
        "WHERE resource_type = 'Patient' AND id = 'p1'"
    ).fetchall()
    assert profile == [(US_CORE,)]
    store.close()


def test_refuse(messy: Path) -> None:
    with pytest.raises(SourceError) as err:
        load_fhir(messy, on_error="refuse")
    text = str(err.value)
    assert "refusing to serve" in text and "Patient.ndjson:4" in text


def test_refuse_accepts_clean_input(tmp_path: Path) -> None:
    f = tmp_path / "p.ndjson"
    write_ndjson(f, [json.dumps(patient("p1", "female", "1980-01-01"))])
    store = load_fhir(f, on_error="refuse")
    assert store.report.ok and store.report.loaded == {"Patient": 1}
    store.close()


def test_missing_source(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        load_fhir(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no FHIR files"):
        load_fhir(tmp_path / "empty")


def test_cache_reused_and_invalidated(messy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "fhir.duckdb"
    first = load_fhir(messy, cache)
    assert not first.report.from_cache and cache.exists()
    counts = dict(first.report.loaded)
    first.close()
    second = load_fhir(messy, cache)
    assert second.report.from_cache and dict(second.report.loaded) == counts
    assert second.report.problem_counts == first.report.problem_counts
    second.close()
    extra = messy / "more.ndjson"
    write_ndjson(extra, [json.dumps(patient("p9", "male", "1990-01-01"))])
    third = load_fhir(messy, cache)
    assert not third.report.from_cache
    assert third.report.loaded["Patient"] == counts["Patient"] + 1
    third.close()
