"""The official SQL-on-FHIR v2 conformance suite (../shared/reference/sql-on-fhir/), every
case through the project's engine. Rows compare as multisets; a test with `expectError` must
be rejected (at compile time or when run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from hyperfed.adapters.fhir.errors import FhirError
from hyperfed.adapters.fhir.run import create_resource_table, run_view

from .conftest import SOF_TESTS

SHAREABLE_TOTAL = 123
ALL_TOTAL = 134


def _cases() -> list[tuple[str, str, dict[str, Any], list[str]]]:
    if not SOF_TESTS.exists():
        return []
    out = []
    for f in sorted(SOF_TESTS.glob("*.json")):
        suite = json.loads(f.read_text())
        for t in suite["tests"]:
            out.append((f.name, t["title"], t, t.get("tags", [])))
    return out


_CASES = _cases()


def _norm(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value


def _multiset(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps({k: _norm(v) for k, v in r.items()}, sort_keys=True) for r in rows)


_OUTCOMES: dict[tuple[str, str], str | None] = {}


def _outcome(file: str, case: dict[str, Any]) -> str | None:
    """None when the case passes, else why it failed (each case runs once per session)."""
    key = (file, case["title"])
    if key not in _OUTCOMES:
        _OUTCOMES[key] = _run_case(file, case)
    return _OUTCOMES[key]


def _run_case(file: str, case: dict[str, Any]) -> str | None:
    suite = json.loads((SOF_TESTS / file).read_text())
    con = duckdb.connect()
    try:
        create_resource_table(con, suite["resources"])
        try:
            got = run_view(con, case["view"]).dicts()
        except FhirError as exc:
            return None if case.get("expectError") else f"error: {exc}"
        if case.get("expectError"):
            return f"expected an error, got {len(got)} rows"
        if _multiset(got) != _multiset(case["expect"]):
            return f"rows differ: got {got}, expected {case['expect']}"
        return None
    finally:
        con.close()


def _skip_without_suite() -> None:
    if not SOF_TESTS.exists():
        pytest.skip(f"{SOF_TESTS} is absent (../shared/ is not beside the worktree)")


@pytest.mark.parametrize(
    ("file", "title", "case"),
    [pytest.param(f, t, c, id=f"{Path(f).stem}::{t}") for f, t, c, _ in _CASES],
)
def test_case(file: str, title: str, case: dict[str, Any]) -> None:
    failure = _outcome(file, case)
    assert failure is None, f"{file} :: {title}: {failure}"


def test_pass_counts() -> None:
    """Every shareable case passes and at least 95 % of all; lists failures by name."""
    _skip_without_suite()
    assert len(_CASES) == ALL_TOTAL
    assert sum("shareable" in tags for *_, tags in _CASES) == SHAREABLE_TOTAL
    failures = {
        f"{f}::{t}": (tags, why) for f, t, c, tags in _CASES if (why := _outcome(f, c)) is not None
    }
    passed = ALL_TOTAL - len(failures)
    shareable_failed = [name for name, (tags, _) in failures.items() if "shareable" in tags]
    print(f"SQL-on-FHIR v2 conformance: {passed}/{ALL_TOTAL} passed")
    assert not shareable_failed, f"shareable cases failed: {shareable_failed}"
    assert passed >= 0.95 * ALL_TOTAL, f"{passed}/{ALL_TOTAL}; failed: {sorted(failures)}"
    assert passed == ALL_TOTAL, f"failed: {sorted(failures)}"
