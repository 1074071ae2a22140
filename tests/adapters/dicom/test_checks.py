"""Imaging data checks on folders (files) and Parquet indexes (series)."""

from __future__ import annotations

import json
import shutil
import warnings
from datetime import date
from pathlib import Path

import duckdb
import pydicom
import pytest
from typer.testing import CliRunner

from hyperfed.adapters.dicom.checks import CheckLimits, check_folder, check_series_table
from hyperfed.adapters.dicom.mapping import attach_series
from hyperfed.hub.cli import app
from hyperfed.synth import SynthSpec
from hyperfed.synth.dicom import write_dicom


def _edit(path: Path, **values: object) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
        for key, value in values.items():
            if value is None:
                delattr(ds, key)
            else:
                setattr(ds, key, value)
        ds.save_as(path)


@pytest.fixture()
def site(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Synthetic DICOM files of 30 series (up to 4 files each), then damaged on purpose."""
    write_dicom(SynthSpec(persons=120, seed=5), tmp_path / "syn", files=30, instances=4)
    root = tmp_path / "syn" / "files"
    series = sorted(p for p in root.glob("*/*/*") if p.is_dir())
    files = {s.name: sorted(s.glob("*.dcm")) for s in series}
    a, b, c, d = [s for s in files if len(files[s]) == 4][:4]
    _edit(files[a][1], PatientName="Doe^Jane")  # identifying
    files[b][2].unlink()  # a missing instance (3 of 4) and slice
    _edit(files[c][0], Manufacturer="OTHER VENDOR")  # inconsistent series
    for path in files[d]:
        _edit(path, StudyDate="29991231", SeriesDate="29991231")  # chronology
    shutil.copy(files[d][1], root / "copy.dcm")  # duplicate instance
    (root / "broken.dcm").write_bytes(files[a][0].read_bytes()[:600])
    names = {"identifying": a, "gap": b, "inconsistent": c, "future": d}
    paths = {k: files[v][0].relative_to(root).parent.as_posix() for k, v in names.items()}
    return root, paths


def test_folder_checks_find_each_planted_problem(site: tuple[Path, dict[str, str]]) -> None:
    root, where = site
    report = check_folder(root, workers=1, ids_pseudonymous=True, today=date(2030, 1, 1))
    codes = report.codes()
    by = {(p.code, p.file.rsplit("/", 1)[0] if p.file else None) for p in report.problems}
    assert ("identifying-attribute", where["identifying"]) in by
    assert ("missing-instances", where["gap"]) in by
    assert ("inconsistent-series", where["inconsistent"]) in by
    assert ("date-in-future", where["future"]) in by
    assert codes["duplicate-instance"] == 1
    assert [p.file for p in report.problems if p.code == "unreadable"] == ["broken.dcm"]
    inconsistent = [p for p in report.problems if p.code == "inconsistent-series"]
    assert {p.column for p in inconsistent} == {"Manufacturer"}
    assert not report.ok
    # every problem names a file or a series
    assert all(p.file or p.row for p in report.problems)


def test_clean_synthetic_files_pass_the_error_checks(tmp_path: Path) -> None:
    write_dicom(SynthSpec(persons=120, seed=5), tmp_path, files=5, instances=3)
    report = check_folder(tmp_path / "files", workers=1, ids_pseudonymous=True)
    assert report.ok, report.sorted_problems()[:5]
    # 3 slices per synthetic series: below the 25-slice minimum of cross-sectional series
    assert report.codes().get("slice-count", 0) >= 1


def test_limits_are_configurable(tmp_path: Path) -> None:
    write_dicom(SynthSpec(persons=120, seed=5), tmp_path, files=5, instances=3)
    wide = CheckLimits(slice_thickness=(0, 10), pixel_spacing=(0, 10), slices=(1, 10))
    report = check_folder(tmp_path / "files", wide, workers=1, ids_pseudonymous=True)
    assert not {"slice-count", "slice-thickness", "pixel-spacing"} & set(report.codes())
    with pytest.raises(ValueError, match="slices"):
        CheckLimits(slices=(10, 1))


def test_series_table_checks_match_hand_written_sql(tmp_path: Path) -> None:
    write_dicom(SynthSpec(persons=400, seed=2), tmp_path)
    parquet = tmp_path / "dicom_series.parquet"
    con = duckdb.connect()
    attach_series(con, parquet)
    limits = CheckLimits()
    report = check_series_table(con, limits=limits, today=date(2030, 1, 1))
    (thick,) = (
        duckdb.connect()
        .execute(
            f"SELECT count(*) FROM read_parquet('{parquet}') WHERE Modality IN ('CT','MR','PT') "
            "AND (SliceThickness < 0.5 OR SliceThickness > 1.5)"
        )
        .fetchall()[0]
    )
    (slices,) = (
        duckdb.connect()
        .execute(
            f"SELECT count(*) FROM read_parquet('{parquet}') WHERE Modality IN ('CT','MR','PT') "
            "AND (n_frames < 25 OR n_frames > 1500)"
        )
        .fetchall()[0]
    )
    assert report.codes().get("slice-thickness", 0) == thick > 0
    assert report.codes().get("slice-count", 0) == slices
    assert report.ok
    # a duplicated series row is an error
    dup = tmp_path / "dup.parquet"
    duckdb.connect().execute(
        f"COPY (SELECT * FROM read_parquet('{parquet}') UNION ALL "
        f"(SELECT * FROM read_parquet('{parquet}') LIMIT 1)) TO '{dup}' (FORMAT parquet)"
    )
    con2 = duckdb.connect()
    attach_series(con2, dup)
    report2 = check_series_table(con2, today=date(2030, 1, 1))
    assert report2.codes()["series-uid-not-unique"] == 1 and not report2.ok


def test_the_check_command_prints_json_and_fails_on_errors(
    site: tuple[Path, dict[str, str]],
) -> None:
    root, _ = site
    args = ["node", "check", "--model", "dicom", "--source", str(root), "--option", "workers=1"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    assert data["ok"] is False and data["errors"] >= 4
    assert {"code", "file", "row", "column", "severity", "message"} <= set(data["problems"][0])
    table = CliRunner().invoke(app, args)
    assert table.exit_code == 1 and f"FAILED: {data['errors']} error(s)" in table.output
    assert "identifying-attribute" in {p["code"] for p in data["problems"]}
