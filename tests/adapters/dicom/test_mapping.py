"""Existing Parquet indexes as the series table: NCI IDC (real, 1M series) and custom ones."""

from __future__ import annotations

from pathlib import Path

import duckdb
import idc_index_data
import pytest

from hyperfed.adapters.dicom.errors import MappingError, SourceError
from hyperfed.adapters.dicom.layout import SERIES_COLUMNS
from hyperfed.adapters.dicom.mapping import attach_series, load_mapping, series_view

IDC = str(idc_index_data.IDC_INDEX_PARQUET_FILEPATH)


@pytest.fixture(scope="module")
def idc() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    attach_series(con, "idc")
    return con


def test_the_idc_view_has_the_layout_and_every_series(idc: duckdb.DuckDBPyConnection) -> None:
    desc = idc.execute("DESCRIBE dicom_series").fetchall()
    assert [d[0] for d in desc] == [c.name for c in SERIES_COLUMNS]
    (n,) = idc.execute("SELECT count(*) FROM dicom_series").fetchall()[0]
    (raw,) = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{IDC}')").fetchall()[0]
    assert n == raw and n > 1_000_000


def test_idc_patients_are_collection_scoped(idc: duckdb.DuckDBPyConnection) -> None:
    sql = "SELECT count(DISTINCT person_key) FROM dicom_series"
    (ours,) = idc.execute(sql).fetchall()[0]
    (hand,) = (
        duckdb.connect()
        .execute(
            "SELECT count(*) FROM (SELECT DISTINCT collection_id, PatientID "
            f"FROM read_parquet('{IDC}') "
            "WHERE collection_id IS NOT NULL AND PatientID IS NOT NULL)"
        )
        .fetchall()[0]
    )
    assert ours == hand


def test_a_same_series_count_agrees_with_hand_written_sql(idc: duckdb.DuckDBPyConnection) -> None:
    (ours,) = idc.execute(
        "SELECT count(DISTINCT person_key) FROM dicom_series WHERE \"Modality\" = 'CT' "
        "AND \"BodyPartExamined\" IN ('CHEST', 'LUNG') AND \"Manufacturer\" = 'SIEMENS' "
        "AND \"StudyDate\" BETWEEN DATE '2000-01-01' AND DATE '2001-12-31'"
    ).fetchall()[0]
    (hand,) = (
        duckdb.connect()
        .execute(
            f"SELECT count(DISTINCT (collection_id, PatientID)) FROM read_parquet('{IDC}') "
            "WHERE Modality = 'CT' AND upper(BodyPartExamined) IN ('CHEST', 'LUNG') "
            "AND Manufacturer = 'SIEMENS' AND StudyDate BETWEEN '2000-01-01' AND '2001-12-31'"
        )
        .fetchall()[0]
    )
    assert ours == hand and hand > 0


def test_idc_ages_are_whole_years_of_the_age_strings(idc: duckdb.DuckDBPyConnection) -> None:
    (ours,) = idc.execute("SELECT count(*) FROM dicom_series WHERE age_years = 66").fetchall()[0]
    (hand,) = (
        duckdb.connect()
        .execute(f"SELECT count(*) FROM read_parquet('{IDC}') WHERE upper(PatientAge) = '066Y'")
        .fetchall()[0]
    )
    assert ours == hand > 0


def _parquet(tmp_path: Path, sql: str) -> Path:
    path = tmp_path / "custom.parquet"
    duckdb.sql(sql).write_parquet(str(path))
    return path


def test_transforms(tmp_path: Path) -> None:
    path = _parquet(
        tmp_path,
        "SELECT * FROM (VALUES "
        "('p1', 's1', 'ct ', '20200105', '018M', 'f', '0.7', '0.9', 'x', '93000'), "
        "('p2', 's2', 'MR', '2021-03-04', '045Y', 'X', 'n/a', '1.1', '', '2359'), "
        "('p3', 's3', '', 'garbage', NULL, NULL, NULL, NULL, NULL, NULL)"
        ") t(pid, sid, modality, sdate, age, sex, ps_r, ps_c, agent, stime)",
    )
    toml = tmp_path / "m.toml"
    toml.write_text(
        'name = "pacs"\n[columns]\nperson_key = "pid"\nSeriesInstanceUID = "sid"\n'
        'dataset = { value = "pacs-1" }\n'
        'Modality = { column = "modality", transform = "upper" }\n'
        'StudyDate = { column = "sdate", transform = "date" }\n'
        'age_years = { column = "age", transform = "dicom_age" }\n'
        'PatientSex = { column = "sex", transform = "sex" }\n'
        'PixelSpacing = { columns = ["ps_r", "ps_c"], transform = "max" }\n'
        'contrast = { column = "agent", transform = "present" }\n'
        'SeriesTime = { column = "stime", transform = "time" }\n'
        'birth_year = { column = "sdate", transform = "year" }\n'
    )
    con = duckdb.connect()
    attach_series(con, path, load_mapping(toml))
    rows = con.execute(
        'SELECT dataset, "Modality", CAST("StudyDate" AS VARCHAR), age_years, "PatientSex", '
        '"PixelSpacing", contrast, CAST("SeriesTime" AS VARCHAR), birth_year, "Manufacturer" '
        "FROM dicom_series ORDER BY person_key"
    ).fetchall()
    assert rows == [
        ("pacs-1", "CT", "2020-01-05", 1, "F", 0.9, True, None, None, None),
        ("pacs-1", "MR", "2021-03-04", 45, None, 1.1, None, None, 2021, None),
        ("pacs-1", None, None, None, None, None, None, None, None, None),
    ]


def test_cheaper_transforms_only_where_the_data_allow_them(tmp_path: Path) -> None:
    """A date column of ISO dates needs no DA fallback and text without blanks no trim (one
    scan at attach decides); the values are the same as with the full transforms."""
    toml = tmp_path / "m.toml"
    toml.write_text(
        'name = "p"\n[columns]\nperson_key = "pid"\nSeriesInstanceUID = "sid"\n'
        'StudyDate = { column = "sdate", transform = "date" }\n'
        'BodyPartExamined = { column = "body", transform = "upper" }\n'
    )
    mapping = load_mapping(toml)
    for rows, simple in [
        ("('p1', 's1', '2020-01-05', 'chest'), ('p2', 's2', NULL, '')", True),
        ("('p1', 's1', '20200105', 'chest '), ('p2', 's2', NULL, '')", False),
    ]:
        folder = tmp_path / str(simple)
        folder.mkdir()
        path = _parquet(folder, f"SELECT * FROM (VALUES {rows}) t(pid, sid, sdate, body)")
        con = duckdb.connect()
        attach_series(con, path, mapping)
        (view,) = con.execute(
            "SELECT sql FROM duckdb_views() WHERE view_name = 'dicom_series'"
        ).fetchall()[0]
        assert ("try_strptime" not in view and "trim" not in view) == simple, view
        got = con.execute(
            'SELECT CAST("StudyDate" AS VARCHAR), "BodyPartExamined" FROM dicom_series '
            "ORDER BY person_key"
        ).fetchall()
        assert got == [("2020-01-05", "CHEST"), (None, None)]


def test_mapping_errors_name_the_problem(tmp_path: Path) -> None:
    path = _parquet(tmp_path, "SELECT 'a' AS pid, 'b' AS sid")
    bad_target = tmp_path / "t.toml"
    bad_target.write_text(
        '[columns]\nperson_key = "pid"\nSeriesInstanceUID = "sid"\nModalty = "x"\n'
    )
    with pytest.raises(MappingError, match="Modalty"):
        load_mapping(bad_target)
    missing = tmp_path / "m.toml"
    missing.write_text(
        '[columns]\nperson_key = "pid"\nSeriesInstanceUID = "sid"\nModality = "mod"\n'
    )
    with pytest.raises(MappingError, match="'mod'"):
        attach_series(duckdb.connect(), path, load_mapping(missing))
    bad_transform = tmp_path / "x.toml"
    bad_transform.write_text(
        '[columns]\nperson_key = "pid"\nSeriesInstanceUID = { column = "sid", transform = "md5" }\n'
    )
    with pytest.raises(MappingError, match="transform"):
        load_mapping(bad_transform)
    with pytest.raises(MappingError, match="shipped"):
        load_mapping("nope")
    with pytest.raises(MappingError, match="lacks series column"):
        attach_series(duckdb.connect(), path)
    with pytest.raises(SourceError, match="not found"):
        attach_series(duckdb.connect(), tmp_path / "absent.parquet")


def test_file_names_and_constants_are_literals_not_sql(tmp_path: Path) -> None:
    mapping = load_mapping("idc")
    sql = series_view(mapping, ["x'); DROP TABLE t; --.parquet"])
    assert sql.count("CREATE") == 1
    assert "'x''); DROP TABLE t; --.parquet'" in sql  # one quoted literal


def test_our_own_index_needs_no_mapping(tmp_path: Path) -> None:
    from hyperfed.synth import SynthSpec
    from hyperfed.synth.dicom import write_dicom

    write_dicom(SynthSpec(persons=200), tmp_path)
    con = duckdb.connect()
    mapping = attach_series(con, tmp_path / "dicom_series.parquet")
    assert mapping.name == "hyperfed"
    (n,) = con.execute("SELECT count(*) FROM dicom_series").fetchall()[0]
    (raw,) = (
        duckdb.connect()
        .execute(f"SELECT count(*) FROM read_parquet('{tmp_path / 'dicom_series.parquet'}')")
        .fetchall()[0]
    )
    assert n == raw > 0


def _kind(con: duckdb.DuckDBPyConnection) -> str:
    (kind,) = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = 'dicom_series'"
    ).fetchall()[0]
    return str(kind)


def test_a_series_table_in_memory_holds_what_the_view_shows(
    idc: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = duckdb.connect()
    attach_series(loaded, "idc", in_memory=True)
    assert _kind(loaded) == "BASE TABLE" and _kind(idc) == "VIEW"
    assert (
        loaded.execute("DESCRIBE dicom_series").fetchall()
        == idc.execute("DESCRIBE dicom_series").fetchall()
    )
    digest = (
        'SELECT count(*), count(DISTINCT person_key), count(DISTINCT "SeriesInstanceUID"), '
        'min("StudyDate"), max("StudyDate"), count("BodyPartExamined"), sum(n_instances), '
        "sum(age_years) FROM dicom_series"
    )
    assert loaded.execute(digest).fetchall() == idc.execute(digest).fetchall()
    # "auto": in memory up to the limit (1 M series here), over the files above it
    import hyperfed.adapters.dicom.mapping as mapping

    auto = duckdb.connect()
    attach_series(auto, "idc", in_memory="auto")
    assert _kind(auto) == "BASE TABLE"
    monkeypatch.setattr(mapping, "MEMORY_AUTO_SERIES", 1000)
    over = duckdb.connect()
    attach_series(over, "idc", in_memory="auto")
    assert _kind(over) == "VIEW"
