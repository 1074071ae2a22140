"""Synthetic DICOM: the OMOP population's imaging as a series index, and real files."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from hyperfed.adapters.dicom.layout import SERIES_COLUMNS
from hyperfed.hub.cli import app as hyperfed_app
from hyperfed.synth import SynthSpec, write_omop_duckdb
from hyperfed.synth.cli import app as synth_app
from hyperfed.synth.dicom import write_dicom

SPEC = SynthSpec(persons=1500, seed=11)


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("synth")
    write_omop_duckdb(SPEC, base / "omop.duckdb")
    write_dicom(SPEC, base / "dicom")
    return base / "omop.duckdb", base / "dicom" / "dicom_series.parquet"


def _set(sql: str) -> set[str]:
    return {r[0] for r in duckdb.connect().execute(sql).fetchall()}


@pytest.mark.parametrize(
    ("codes", "where"),
    [
        (("77477000", "169069000"), "Modality = 'CT'"),
        (("169069000",), "Modality = 'CT' AND BodyPartExamined = 'CHEST'"),
        (("113091000",), "Modality = 'MR'"),
        (("82918005",), "Modality = 'PT'"),
        (("71651007",), "Modality = 'MG'"),
    ],
)
def test_imaging_persons_are_the_omop_persons(
    sites: tuple[Path, Path], codes: tuple[str, ...], where: str
) -> None:
    omop, index = sites
    in_list = ", ".join(f"'{c}'" for c in codes)
    omop_persons = _set(
        f"ATTACH '{omop}' AS o (READ_ONLY); SELECT md5('hf-synth/{SPEC.seed}/' || "
        f"CAST(person_id AS VARCHAR)) FROM o.procedure_occurrence "
        f"WHERE procedure_source_value IN ({in_list})"
    )
    dicom_persons = _set(f"SELECT person_key FROM read_parquet('{index}') WHERE {where}")
    assert dicom_persons == omop_persons and omop_persons


def test_one_study_per_imaging_procedure(sites: tuple[Path, Path]) -> None:
    omop, index = sites
    (procedures,) = (
        duckdb.connect()
        .execute(
            f"ATTACH '{omop}' AS o (READ_ONLY); SELECT count(*) FROM o.procedure_occurrence "
            "WHERE procedure_source_value IN ('77477000', '169069000', '113091000', '82918005', "
            "'71651007', '399208008', '312681000')"
        )
        .fetchall()[0]
    )
    (studies, series) = (
        duckdb.connect()
        .execute(f"SELECT count(DISTINCT StudyInstanceUID), count(*) FROM read_parquet('{index}')")
        .fetchall()[0]
    )
    assert studies == procedures and series > studies


def test_the_index_has_the_layout_and_is_deterministic(
    sites: tuple[Path, Path], tmp_path: Path
) -> None:
    _, index = sites
    desc = duckdb.connect().execute(f"DESCRIBE SELECT * FROM read_parquet('{index}')").fetchall()
    assert [(d[0], d[1]) for d in desc] == [(c.name, c.type) for c in SERIES_COLUMNS]
    write_dicom(SPEC, tmp_path)
    again = tmp_path / "dicom_series.parquet"
    q = "SELECT * FROM read_parquet('{}') ORDER BY SeriesInstanceUID"
    con = duckdb.connect()
    assert con.execute(q.format(index)).fetchall() == con.execute(q.format(again)).fetchall()
    (dups,) = con.execute(
        f"SELECT count(*) - count(DISTINCT SeriesInstanceUID) FROM read_parquet('{index}')"
    ).fetchall()[0]
    assert dups == 0


def test_files_index_back_to_their_series_rows(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        synth_app,
        ["dicom", "--persons", "300", "--seed", "4", "--out", str(tmp_path), "--files", "8"],
    )
    assert result.exit_code == 0, result.output
    assert "persons with imaging" in result.output
    out = tmp_path / "own.parquet"
    indexed = CliRunner().invoke(
        hyperfed_app,
        ["node", "index-dicom", str(tmp_path / "files"), "--out", str(out), "--ids-pseudonymous",
         "--workers", "1", "--json"],
    )  # fmt: skip
    assert indexed.exit_code == 0, indexed.output
    assert (tmp_path / "own.report.json").exists()
    cols = (
        "person_key, Modality, BodyPartExamined, Manufacturer, ManufacturerModelName, StudyDate, "
        "SeriesDate, SeriesTime, PatientSex, age_years, SliceThickness, PixelSpacing, "
        "ConvolutionKernel, ContrastBolusAgent, MagneticFieldStrength, SeriesNumber, SOPClassUID"
    )
    con = duckdb.connect()
    ours = con.execute(
        f"SELECT SeriesInstanceUID, {cols} FROM read_parquet('{out}') ORDER BY 1"
    ).fetchall()
    synthetic = con.execute(
        f"SELECT SeriesInstanceUID, {cols} FROM read_parquet('{tmp_path / 'dicom_series.parquet'}')"
        f" WHERE SeriesInstanceUID IN (SELECT SeriesInstanceUID FROM read_parquet('{out}')) "
        "ORDER BY 1"
    ).fetchall()
    assert len(ours) == 8 and ours == synthetic


def test_index_dicom_needs_a_secret_unless_ids_are_pseudonymous(tmp_path: Path) -> None:
    write_dicom(SynthSpec(persons=100), tmp_path, files=1)
    result = CliRunner().invoke(
        hyperfed_app,
        ["node", "index-dicom", str(tmp_path / "files"), "--out", str(tmp_path / "i.parquet")],
    )
    assert result.exit_code == 2 and "secret" in result.output
    secret = tmp_path / "node.secret"
    secret.write_text("x" * 40)
    ok = CliRunner().invoke(
        hyperfed_app,
        ["node", "index-dicom", str(tmp_path / "files"), "--out", str(tmp_path / "i.parquet"),
         "--secret-file", str(secret), "--workers", "1"],
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "series" in ok.output
    bad = CliRunner().invoke(
        hyperfed_app,
        ["node", "index-dicom", str(tmp_path / "files"), "--out", str(tmp_path / "i.parquet"),
         "--secret-file", str(secret), "--retain", "StudyDat"],
    )  # fmt: skip
    assert bad.exit_code == 2 and "StudyDate" in bad.output


def test_an_existing_index_is_not_overwritten_silently(tmp_path: Path) -> None:
    from hyperfed.synth.errors import SynthWriteError

    write_dicom(SynthSpec(persons=50, seed=3), tmp_path)
    with pytest.raises(SynthWriteError, match=r"dicom_series\.parquet.*--replace"):
        write_dicom(SynthSpec(persons=60, seed=3), tmp_path)
    write_dicom(SynthSpec(persons=60, seed=3), tmp_path, replace=True)
