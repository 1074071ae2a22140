"""The catalogue's package data (HealthDCAT-AP shapes, HTML templates) ships in the wheel,
and the official DCAT-AP shapes do not (they are read from a configured folder)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from hatchling.builders.wheel import WheelBuilder

from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    out = tmp_path_factory.mktemp("wheel")
    built = WheelBuilder(str(REPO_ROOT)).build(directory=str(out), versions=["standard"])
    return set(zipfile.ZipFile(Path(next(iter(built)))).namelist())


def test_shapes_and_templates_are_in_the_wheel(names: set[str]) -> None:
    assert "hyperfed/catalog/shapes/healthdcat-ap.ttl" in names
    for template in ("base", "catalog", "dataset", "resource"):
        assert f"hyperfed/catalog/templates/{template}.html" in names
    assert "hyperfed/ontology/_sparql_main.py" in names


def test_no_official_shapes_are_copied_into_the_project(names: set[str]) -> None:
    assert not any("dcat-ap-SHACL" in n or "shapes_recommended" in n for n in names)
    assert not list((REPO_ROOT / "catalog").rglob("shapes_recommended.ttl"))
