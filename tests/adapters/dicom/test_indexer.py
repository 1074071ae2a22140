"""The node's own index: series rows, resumability, privacy, layouts, atomic writes."""

from __future__ import annotations

import json
import os
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import pytest

from hyperfed.adapters.dicom import indexer as indexer_module
from hyperfed.adapters.dicom.errors import SourceError
from hyperfed.adapters.dicom.indexer import IndexOptions, build_index, state_paths
from hyperfed.adapters.dicom.layout import SERIES_COLUMNS
from hyperfed.adapters.dicom.privacy import person_key
from tests.adapters.dicom.conftest import PYDICOM_FILES, SECRET, dicomdir_tree, read


def _expected_series(root: Path) -> dict[str, dict[str, Any]]:
    """Series of the files under root, from plain pydicom reads."""
    series: dict[str, dict[str, Any]] = defaultdict(lambda: {"sops": set(), "modalities": set()})
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        ds = read(path)
        if ds is None or "SeriesInstanceUID" not in ds or "SOPInstanceUID" not in ds:
            continue
        entry = series[str(ds.SeriesInstanceUID)]
        entry["sops"].add(str(ds.SOPInstanceUID))
        entry["modalities"].add(str(ds.get("Modality", "")))
        entry["patient"] = str(ds.get("PatientID", ""))
    return dict(series)


def _rows(index: Path) -> dict[str, dict[str, Any]]:
    rel = duckdb.read_parquet(str(index))
    names = rel.columns
    return {
        r[names.index("SeriesInstanceUID")]: dict(zip(names, r, strict=True))
        for r in rel.fetchall()
    }


def test_one_row_per_series_with_the_layout(mr_ct_tree: Path, tmp_path: Path) -> None:
    index = tmp_path / "out" / "index.parquet"
    report = build_index(mr_ct_tree, index, SECRET, IndexOptions(workers=1))
    expected = _expected_series(mr_ct_tree)
    rows = _rows(index)
    assert set(rows) == set(expected)
    assert report.series == len(expected)
    desc = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{index}')").fetchall()
    assert [(d[0], d[1]) for d in desc] == [
        (c.name, c.type.replace("INTEGER", "INTEGER")) for c in SERIES_COLUMNS
    ]
    for uid, exp in expected.items():
        row = rows[uid]
        assert row["n_instances"] == len(exp["sops"])
        assert {row["Modality"]} == exp["modalities"]
        assert row["person_key"] == person_key(exp["patient"], SECRET)
        assert row["dataset"] == "site"


def test_ages_dates_and_acquisition_values_come_from_the_headers(tmp_path: Path) -> None:
    root = tmp_path / "one"
    root.mkdir()
    shutil.copy(PYDICOM_FILES / "CT_small.dcm", root)
    index = tmp_path / "i.parquet"
    build_index(root, index, SECRET, IndexOptions(workers=1))
    ds = read(root / "CT_small.dcm")
    assert ds is not None
    (row,) = _rows(index).values()
    assert row["Modality"] == ds.Modality
    assert str(row["StudyDate"]) == f"{ds.StudyDate[:4]}-{ds.StudyDate[4:6]}-{ds.StudyDate[6:]}"
    assert row["SliceThickness"] == float(ds.SliceThickness)
    assert row["PixelSpacing"] == max(float(v) for v in ds.PixelSpacing)
    assert row["Manufacturer"] == ds.Manufacturer
    assert row["PatientSex"] == ds.PatientSex
    assert row["age_years"] == int(ds.PatientAge[:3])
    assert row["ConvolutionKernel"] == ds.ConvolutionKernel
    assert row["StudyDescription"] is None  # free text only when configured
    build_index(root, index, SECRET, IndexOptions(workers=1, keep_descriptions=True))
    (row,) = _rows(index).values()
    assert row["StudyDescription"] == ds.StudyDescription


def test_no_direct_identifier_enters_the_index_or_its_state(
    mr_ct_tree: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index.parquet"
    build_index(mr_ct_tree, index, SECRET, IndexOptions(workers=1))
    secrets_seen: set[str] = set()
    for path in mr_ct_tree.rglob("*"):
        ds = read(path) if path.is_file() else None
        if ds is None:
            continue
        for keyword in ("PatientID", "PatientName", "PatientBirthDate", "OtherPatientIDs"):
            value = str(ds.get(keyword, "") or "").strip()
            if len(value) >= 3:
                secrets_seen.add(value)
    assert secrets_seen
    for parquet in (index, state_paths(index)[0]):
        text = json.dumps(duckdb.read_parquet(str(parquet)).fetchall(), default=str)
        for value in secrets_seen:
            assert value not in text, (parquet.name, value)


def test_declared_pseudonymous_ids_are_kept(mr_ct_tree: Path, tmp_path: Path) -> None:
    index = tmp_path / "index.parquet"
    build_index(mr_ct_tree, index, None, IndexOptions(workers=1, ids_pseudonymous=True))
    expected = _expected_series(mr_ct_tree)
    assert {r["person_key"] for r in _rows(index).values()} == {
        e["patient"] for e in expected.values()
    }
    again = build_index(mr_ct_tree, index, None, IndexOptions(workers=1, ids_pseudonymous=True))
    assert again.read == 0 and again.reused == again.files  # resumable without a secret too
    with pytest.raises(ValueError, match="secret"):
        build_index(mr_ct_tree, index, None, IndexOptions(workers=1))


def test_reruns_read_only_new_or_changed_files(mr_ct_tree: Path, tmp_path: Path) -> None:
    index = tmp_path / "index.parquet"
    options = IndexOptions(workers=1)
    first = build_index(mr_ct_tree, index, SECRET, options)
    n = first.files
    assert first.read == n and first.full_rebuild
    again = build_index(mr_ct_tree, index, SECRET, options)
    assert (again.read, again.reused, again.removed, again.full_rebuild) == (0, n, 0, False)
    assert _rows(index) == _rows(index)  # stable
    before = _rows(index)
    # change one file (size), add one, remove one
    changed = mr_ct_tree / "CT_small.dcm"
    changed.write_bytes(changed.read_bytes() + b"\x00\x00")
    shutil.copy(PYDICOM_FILES / "rtplan.dcm", mr_ct_tree / "rtplan.dcm")
    (mr_ct_tree / "MR_small.dcm").unlink()
    third = build_index(mr_ct_tree, index, SECRET, options)
    assert (third.read, third.reused, third.removed) == (2, n - 2, 1)
    after = _rows(index)
    assert set(after) == set(_expected_series(mr_ct_tree))
    assert set(before) - set(after) == {
        str(read(PYDICOM_FILES / "MR_small.dcm").SeriesInstanceUID)  # type: ignore[union-attr]
    }
    # a new secret invalidates the state: everything is read again, keys change
    other = build_index(mr_ct_tree, index, b"another-secret-of-32-characters!!", options)
    assert other.full_rebuild and other.read == other.files
    assert {r["person_key"] for r in _rows(index).values()}.isdisjoint(
        {r["person_key"] for r in after.values()}
    )


def test_unreadable_files_are_listed_never_fatal(tmp_path: Path) -> None:
    root = tmp_path / "bad"
    root.mkdir()
    shutil.copy(PYDICOM_FILES / "CT_small.dcm", root)
    data = (PYDICOM_FILES / "MR_small.dcm").read_bytes()
    (root / "truncated.dcm").write_bytes(data[:700])
    (root / "notes").write_text("not an image\n")
    (root / "readme.txt").write_text("skipped by name\n")
    report = build_index(root, tmp_path / "i.parquet", SECRET, IndexOptions(workers=1))
    assert report.series == 1
    assert [p for p, _ in report.unreadable] == ["truncated.dcm"]
    assert report.not_dicom == 1 and report.skipped == 1


def test_identifying_attributes_are_reported_per_file(mr_ct_tree: Path, tmp_path: Path) -> None:
    report = build_index(mr_ct_tree, tmp_path / "i.parquet", SECRET, IndexOptions(workers=1))
    ds = read(mr_ct_tree / "CT_small.dcm")
    assert ds is not None and ds.PatientName
    assert "CT_small.dcm" in report.identifying["PatientName"]


def test_xnat_projects_become_datasets(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    for project, subject, source in (
        ("LUNG1", "S01", "CT_small.dcm"),
        ("BRAIN2", "S07", "MR_small.dcm"),
    ):
        folder = root / project / subject / "SESSION_A" / "SCANS" / "3" / "DICOM"
        folder.mkdir(parents=True)
        shutil.copy(PYDICOM_FILES / source, folder / "1.dcm")
        (folder.parent / "scan_catalog.xml").write_text("<catalog/>")
    index = tmp_path / "x.parquet"
    report = build_index(root, index, SECRET, IndexOptions(workers=1, person_scope="dataset"))
    assert sorted(r["dataset"] for r in _rows(index).values()) == ["BRAIN2", "LUNG1"]
    assert report.skipped == 2


def test_dicomdir_media_are_recognised(tmp_path: Path) -> None:
    root = tmp_path / "cd"
    shutil.copytree(dicomdir_tree() / "TINY_ALPHA", root)
    referenced = sorted(p for p in root.rglob("IM*") if p.is_file())
    referenced[0].unlink()
    report = build_index(root, tmp_path / "cd.parquet", SECRET, IndexOptions(workers=1))
    assert report.dicomdir_missing == [referenced[0].relative_to(root).as_posix()]
    assert not any(p.endswith("DICOMDIR") for p, _ in report.unreadable)
    expected = _expected_series(root)
    assert report.series == len(expected)
    assert sum(len(e["sops"]) for e in expected.values()) == len(referenced) - 1


def test_a_failed_run_leaves_the_previous_index_intact(
    mr_ct_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index.parquet"
    build_index(mr_ct_tree, index, SECRET, IndexOptions(workers=1))
    before = index.read_bytes()

    def broken(con: duckdb.DuckDBPyConnection, view: str) -> duckdb.DuckDBPyRelation:
        return con.sql("SELECT no_such_column FROM hf_files")

    monkeypatch.setattr(indexer_module, "series_relation", broken)
    shutil.copy(PYDICOM_FILES / "rtplan.dcm", mr_ct_tree / "rtplan.dcm")
    with pytest.raises(indexer_module.IndexWriteError, match="no_such_column"):
        build_index(mr_ct_tree, index, SECRET, IndexOptions(workers=1))
    assert index.read_bytes() == before
    assert not [p for p in index.parent.iterdir() if p.name.startswith(".")]


def test_parallel_reading_gives_the_serial_result(tmp_path: Path) -> None:
    from hyperfed.synth import SynthSpec
    from hyperfed.synth.dicom import write_dicom

    write_dicom(SynthSpec(persons=300, seed=3), tmp_path / "syn", files=90, instances=3)
    root = tmp_path / "syn" / "files"
    n_files = sum(1 for p in root.rglob("*.dcm"))
    assert n_files >= 200
    serial = build_index(root, tmp_path / "a.parquet", SECRET, IndexOptions(workers=1))
    options = IndexOptions(workers=2, parallel_min_files=200)
    parallel = build_index(root, tmp_path / "b.parquet", SECRET, options)
    assert parallel.workers == 2 and serial.workers == 1
    assert _rows(tmp_path / "a.parquet") == _rows(tmp_path / "b.parquet")


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a folder"):
        build_index(tmp_path / "nope", tmp_path / "i.parquet", SECRET)
    assert not os.path.exists(tmp_path / "i.parquet")
