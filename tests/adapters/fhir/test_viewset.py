"""The adapter's ViewDefinitions: shipped in the wheel, valid, operator-overridable."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import duckdb
import pytest
from hatchling.builders.wheel import WheelBuilder

from hyperfed.adapters.fhir.errors import ViewDefinitionError
from hyperfed.adapters.fhir.run import create_resource_table, run_view
from hyperfed.adapters.fhir.viewset import VIEW_NAMES, adapter_views
from tests.conftest import REPO_ROOT


def test_views_are_package_data_of_the_wheel(tmp_path: Path) -> None:
    built = WheelBuilder(str(REPO_ROOT)).build(directory=str(tmp_path), versions=["standard"])
    names = set(zipfile.ZipFile(next(iter(built))).namelist())
    for name in VIEW_NAMES:
        assert f"hyperfed/adapters/fhir/views/{name}.json" in names


def test_every_view_is_named_after_its_file_and_documents_its_columns() -> None:
    views = adapter_views()
    assert list(views) == list(VIEW_NAMES)
    for name, view in views.items():
        assert view["name"] == name and view["resourceType"] == "ViewDefinition"


def test_overrides_replace_or_add(tmp_path: Path) -> None:
    patient = {
        "resourceType": "ViewDefinition",
        "name": "patient",
        "resource": "Patient",
        "select": [{"column": [{"name": "id", "path": "getResourceKey()"}]}],
    }
    extra = dict(patient, name="careplan", resource="CarePlan")
    folder = tmp_path / "views"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps(extra))
    single = tmp_path / "patient.json"
    single.write_text(json.dumps(patient))
    views = adapter_views([single, folder])
    assert views["patient"] == patient and views["careplan"] == extra
    assert set(views) == {*VIEW_NAMES, "careplan"}


def test_broken_overrides_name_their_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"name": "patient", "resource": "Patient", "select": [{"column": '
        '[{"name": "x", "path": "name.("}]}]}'
    )
    with pytest.raises(ViewDefinitionError, match=r"bad\.json"):
        adapter_views([bad])
    (tmp_path / "nojson.json").write_text("{")
    with pytest.raises(ViewDefinitionError, match=r"nojson\.json.*invalid JSON"):
        adapter_views([tmp_path / "nojson.json"])
    with pytest.raises(ViewDefinitionError, match="no such"):
        adapter_views([tmp_path / "absent.json"])


def test_medication_reference_and_partial_birth_dates() -> None:
    """Codes of a referenced Medication; a partial birthDate's first day."""
    con = duckdb.connect()
    create_resource_table(
        con,
        [
            {
                "resourceType": "Medication",
                "id": "m1",
                "code": {
                    "coding": [
                        {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1191"}
                    ]
                },
            },
            {
                "resourceType": "MedicationRequest",
                "id": "r1",
                "subject": {"reference": "Patient/p"},
                "medicationReference": {"reference": "Medication/m1"},
                "authoredOn": "2020-01-02",
            },
            {
                "resourceType": "MedicationRequest",
                "id": "r2",
                "subject": {"reference": "Patient/p"},
                "medicationCodeableConcept": {"coding": [{"system": "s", "code": "c"}]},
            },
            {"resourceType": "Patient", "id": "p", "birthDate": "1984"},
        ],
    )
    views = adapter_views()
    rows = run_view(con, views["medication_request"]).dicts()
    got = sorted((r["id"], r["medication_id"], r["code"]) for r in rows)
    assert got == [("r1", "m1", None), ("r2", None, "c")]
    meds = run_view(con, views["medication"]).dicts()
    assert [(m["id"], m["code"]) for m in meds] == [("m1", "1191")]
    pat = run_view(con, views["patient"]).dicts()
    assert [(p["birth_date"], p["birth_date_start"]) for p in pat] == [("1984", "1984-01-01")]


def test_package_import_is_cheap() -> None:
    """Importing the package loads neither DuckDB, sqlglot nor fhir.resources."""
    import subprocess
    import sys

    code = (
        "import sys, hyperfed.adapters.fhir as f; "
        "heavy = [m for m in ('duckdb', 'sqlglot', 'fhir.resources') if m in sys.modules]; "
        "assert not heavy, heavy; assert callable(f.load_fhir)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
