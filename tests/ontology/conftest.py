"""Fixtures of the ontology tests: the packaged ontology, EUCAIM's concept CSV."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperfed.ontology import Ontology

EUCAIM_CSV = "reference/eucaim/eucaim_hyperontology_concepts.csv"


@pytest.fixture(scope="session")
def onto() -> Ontology:
    """The packaged hyperontology alone."""
    return Ontology.load()


@pytest.fixture(scope="session")
def eucaim_csv(shared_dir: Path) -> Path:
    """EUCAIM's concept list (shared/reference/eucaim/); skips when absent."""
    path = shared_dir / EUCAIM_CSV
    if not path.is_file():
        pytest.skip(f"EUCAIM concept list {path} is absent (it belongs in the shared folder)")
    return path
