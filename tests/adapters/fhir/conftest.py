"""Shared paths and helpers for the FHIR adapter tests."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[3].parent / "shared"
SOF_TESTS = SHARED / "reference" / "sql-on-fhir" / "tests"
SYNTHEA = SHARED / "data" / "fhir" / "synthea_r4_bundles"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/ is not beside the worktree)")
    return path
