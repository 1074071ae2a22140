"""Imaging data checks (`hyperfed node check --model dicom`), the ones imaging consortia apply
before accepting data (DRAGON's harmonised-data specification lists them):

| code | severity | finds |
|---|---|---|
| unreadable | error | a file that cannot be read as DICOM, or lacks the series/instance UID |
| missing-file | error | a file a DICOMDIR references that is not there |
| identifying-attribute | error | an attribute the PS3.15 basic profile removes or empties |
| missing-attribute | error / warning | StudyInstanceUID, Modality, PatientID (error), StudyDate |
| series-uid-not-unique | error | one SeriesInstanceUID in several studies, patients or rows |
| duplicate-instance | warning | one SOPInstanceUID in several files |
| inconsistent-series | error | files of one series disagree on a series-level attribute |
| missing-instances | warning | gaps in a series' instance numbers |
| missing-slices | warning | gaps in a series' slice positions (> 1.5 x the usual spacing) |
| instance-count | warning | number of instances differs from ImagesInAcquisition |
| date-in-future | error | a study or series date after today |
| series-before-study | warning | a series dated before its study |
| series-order | warning | series numbered against their acquisition time within a study |
| age-chronology | warning | a patient's age falls while the study dates advance |
| slice-thickness / pixel-spacing / slice-count | warning | outside the configured limits |

Folder checks read the file state (the indexer's records); index checks read a series table
(an existing Parquet index) and run the checks that need no files. Both are DuckDB SQL over
the same views the indexer builds; the limits are query parameters.
"""

from __future__ import annotations

import itertools
import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from hyperfed.adapters.checks import Problem, Report

__all__ = ["CheckLimits", "check_file_table", "check_folder", "check_series_table"]

_CONSISTENT = (
    ("StudyInstanceUID", "StudyInstanceUID"),
    ("person_key", "PatientID"),
    ("Modality", "Modality"),
    ("BodyPartExamined", "BodyPartExamined"),
    ("Manufacturer", "Manufacturer"),
    ("ManufacturerModelName", "ManufacturerModelName"),
    ("StudyDate", "StudyDate"),
    ("SeriesDate", "SeriesDate"),
    ("SeriesNumber", "SeriesNumber"),
    ("PatientSex", "PatientSex"),
    ("SliceThickness", "SliceThickness"),
    ("[pixel_spacing_row, pixel_spacing_col]", "PixelSpacing"),
    ("Rows", "Rows"),
    ("Columns", "Columns"),
    ("SOPClassUID", "SOPClassUID"),
    ("ConvolutionKernel", "ConvolutionKernel"),
    ("ContrastBolusAgent", "ContrastBolusAgent"),
)
_ERROR_MISSING = ("StudyInstanceUID", "Modality", "PatientID")


@dataclass(frozen=True)
class CheckLimits:
    """Acceptance limits (defaults from DRAGON's specification), for `modalities` only."""

    slice_thickness: tuple[float, float] = (0.5, 1.5)  # mm
    pixel_spacing: tuple[float, float] = (0.6, 1.5)  # mm
    slices: tuple[int, int] = (25, 1500)
    modalities: tuple[str, ...] = ("CT", "MR", "PT")
    gap_factor: float = 1.5  # a slice gap is > gap_factor x the median spacing

    def __post_init__(self) -> None:
        for name in ("slice_thickness", "pixel_spacing", "slices"):
            lo, hi = getattr(self, name)
            if lo > hi or lo < 0:
                raise ValueError(f"check limit {name}: need 0 <= min <= max, got {lo}..{hi}")


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[Any]:
    return con.execute(sql, params or []).fetchall()


def _p(severity: str, file: Any, row: Any, column: Any, code: str, message: str) -> Problem:
    return Problem(severity, file, row, column, code, message)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# File-level checks (a folder)


def _file_problems(con: duckdb.DuckDBPyConnection, f: str) -> Iterator[Problem]:
    for path, error in _rows(con, f"SELECT path, error FROM {f} WHERE status = 'unreadable'"):
        yield _p("error", path, None, None, "unreadable", error or "cannot be read")
    for path, kw in _rows(
        con,
        f"SELECT path, unnest(identifying) FROM {f} WHERE status = 'ok' ORDER BY 1, 2",
    ):
        yield _p(
            "error", path, None, kw, "identifying-attribute",
            f"carries {kw}, which the PS3.15 basic confidentiality profile removes or empties",
        )  # fmt: skip
    for path, series, kw in _rows(
        con,
        f'SELECT path, "SeriesInstanceUID", unnest(missing) FROM {f} '
        "WHERE status = 'ok' ORDER BY 1, 3",
    ):
        severity = "error" if kw in _ERROR_MISSING else "warning"
        yield _p(severity, path, series, kw, "missing-attribute", f"{kw} is missing or empty")
    for _uid, paths in _rows(
        con,
        f"SELECT \"SOPInstanceUID\", list(path ORDER BY path) FROM {f} WHERE status = 'ok' "
        "GROUP BY 1 HAVING count(*) > 1 ORDER BY 1",
    ):
        for path in paths[1:]:
            yield _p(
                "warning", path, None, "SOPInstanceUID", "duplicate-instance",
                f"the same SOPInstanceUID as {paths[0]}",
            )  # fmt: skip


def _series_from_files(con: duckdb.DuckDBPyConnection, f: str) -> Iterator[Problem]:
    for uid, first, studies, persons in _rows(
        con,
        f'SELECT "SeriesInstanceUID", min(path), count(DISTINCT "StudyInstanceUID"), '
        f"count(DISTINCT person_key) FROM {f} WHERE status = 'ok' GROUP BY 1 "
        'HAVING count(DISTINCT "StudyInstanceUID") > 1 OR count(DISTINCT person_key) > 1',
    ):
        yield _p(
            "error", first, uid, "SeriesInstanceUID", "series-uid-not-unique",
            f"one SeriesInstanceUID in {studies} studies of {persons} patients",
        )  # fmt: skip
    for column, keyword in _CONSISTENT:
        if column in ("StudyInstanceUID", "person_key"):
            continue  # reported as series-uid-not-unique
        expr = column if column.startswith("[") else f'"{column}"'
        for uid, first, n, files in _rows(
            con,
            f'SELECT "SeriesInstanceUID", min(path), count(DISTINCT {expr}), count(*) '
            f"FROM {f} WHERE status = 'ok' GROUP BY 1 "
            f"HAVING count(DISTINCT {expr}) > 1 ORDER BY 1",
        ):
            yield _p(
                "error", first, uid, keyword, "inconsistent-series",
                f"{n} different values of {keyword} across the {files} files of the series",
            )  # fmt: skip


def _gaps(values: list[float], factor: float) -> list[tuple[float, float]]:
    values = sorted(set(values))
    if len(values) < 3:
        return []
    diffs = [b - a for a, b in itertools.pairwise(values)]
    usual = sorted(diffs)[len(diffs) // 2]
    if usual <= 0:
        return []
    return [(a, b) for a, b in itertools.pairwise(values) if b - a > factor * usual]


def _completeness(con: duckdb.DuckDBPyConnection, f: str, limits: CheckLimits) -> Iterator[Problem]:
    rows = _rows(
        con,
        f'SELECT "SeriesInstanceUID", min(path), min("Modality"), '
        'list(DISTINCT "InstanceNumber") FILTER (WHERE "InstanceNumber" IS NOT NULL), '
        "list(DISTINCT slice_position) FILTER (WHERE slice_position IS NOT NULL), "
        'count(DISTINCT "SOPInstanceUID"), list(DISTINCT "ImagesInAcquisition") '
        'FILTER (WHERE "ImagesInAcquisition" IS NOT NULL), max("NumberOfFrames") '
        f"FROM {f} WHERE status = 'ok' GROUP BY 1 ORDER BY 1",
    )
    for uid, first, modality, numbers, positions, count, in_acq, frames in rows:
        numbers = sorted(numbers or [])
        if len(numbers) >= 2:
            expected = numbers[-1] - numbers[0] + 1
            if expected > len(numbers):
                present = set(numbers)
                absent = [n for n in range(numbers[0], numbers[-1] + 1) if n not in present]
                yield _p(
                    "warning", first, uid, "InstanceNumber", "missing-instances",
                    f"instance numbers {numbers[0]}..{numbers[-1]}: {len(absent)} missing "
                    f"(first {absent[0]})",
                )  # fmt: skip
        if modality in limits.modalities and (frames or 1) <= 1:
            for a, b in _gaps(list(positions or []), limits.gap_factor)[:1]:
                yield _p(
                    "warning", first, uid, "ImagePositionPatient", "missing-slices",
                    f"a gap of {b - a:.2f} mm between slices at {a:.2f} and {b:.2f} mm",
                )  # fmt: skip
        if in_acq and len(in_acq) == 1 and in_acq[0] != count:
            yield _p(
                "warning", first, uid, "ImagesInAcquisition", "instance-count",
                f"{count} instances, ImagesInAcquisition says {in_acq[0]}",
            )  # fmt: skip


def _pixel_spacing_files(
    con: duckdb.DuckDBPyConnection, f: str, limits: CheckLimits
) -> Iterator[Problem]:
    lo, hi = limits.pixel_spacing
    mods = list(limits.modalities)
    for uid, first, smallest, largest in _rows(
        con,
        f'SELECT "SeriesInstanceUID", min(path), min(least(pixel_spacing_row, pixel_spacing_col)), '
        f"max(greatest(pixel_spacing_row, pixel_spacing_col)) FROM {f} "
        "WHERE status = 'ok' AND list_contains(?, \"Modality\") GROUP BY 1 "
        "HAVING min(least(pixel_spacing_row, pixel_spacing_col)) < ? "
        "OR max(greatest(pixel_spacing_row, pixel_spacing_col)) > ? ORDER BY 1",
        [mods, lo, hi],
    ):
        yield _p(
            "warning", first, uid, "PixelSpacing", "pixel-spacing",
            f"pixel spacing {smallest:g}..{largest:g} mm outside {lo:g}..{hi:g} mm",
        )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Series-level checks (a folder's series, or a Parquet index)


def _series_problems(
    con: duckdb.DuckDBPyConnection, s: str, limits: CheckLimits, today: date, with_spacing: bool
) -> Iterator[Problem]:
    file_col = "first_file" if s == "hf_check_series" else "NULL"
    for uid, file, n in _rows(
        con,
        f'SELECT "SeriesInstanceUID", min({file_col}), count(*) FROM {s} '
        "GROUP BY 1 HAVING count(*) > 1 ORDER BY 1",
    ):
        yield _p(
            "error", file, uid, "SeriesInstanceUID", "series-uid-not-unique",
            f"{n} rows share this SeriesInstanceUID",
        )  # fmt: skip
    if s != "hf_check_series":  # folder checks report missing attributes per file
        for column, keyword in (
            ("person_key", "PatientID"),
            ("StudyInstanceUID", "StudyInstanceUID"),
            ("Modality", "Modality"),
            ("StudyDate", "StudyDate"),
        ):
            severity = "error" if keyword in _ERROR_MISSING else "warning"
            for (uid,) in _rows(
                con, f'SELECT "SeriesInstanceUID" FROM {s} WHERE "{column}" IS NULL'
            ):
                yield _p(severity, None, uid, keyword, "missing-attribute", f"{keyword} is missing")
    for uid, file, kw, value in _rows(
        con,
        f'SELECT "SeriesInstanceUID", {file_col}, \'StudyDate\', "StudyDate" FROM {s} '
        'WHERE "StudyDate" > ? UNION ALL '
        f'SELECT "SeriesInstanceUID", {file_col}, \'SeriesDate\', "SeriesDate" FROM {s} '
        'WHERE "SeriesDate" > ? ORDER BY 1, 3',
        [today, today],
    ):
        yield _p("error", file, uid, kw, "date-in-future", f"{kw} {value} is after today ({today})")
    for uid, file, sd, st in _rows(
        con,
        f'SELECT "SeriesInstanceUID", {file_col}, "SeriesDate", "StudyDate" FROM {s} '
        'WHERE "SeriesDate" < "StudyDate" ORDER BY 1',
    ):
        yield _p(
            "warning", file, uid, "SeriesDate", "series-before-study",
            f"series date {sd} is before its study date {st}",
        )  # fmt: skip
    for uid, file, number, prev_number in _rows(
        con,
        f"""SELECT "SeriesInstanceUID", {file_col}, "SeriesNumber", prev_number FROM (
  SELECT *, lag("SeriesNumber") OVER w AS prev_number,
    lag(("SeriesDate" + "SeriesTime")) OVER w AS prev_at
  FROM {s} WHERE "SeriesNumber" IS NOT NULL AND "SeriesDate" IS NOT NULL
    AND "SeriesTime" IS NOT NULL
  WINDOW w AS (PARTITION BY "StudyInstanceUID" ORDER BY "SeriesNumber", "SeriesInstanceUID")
) WHERE ("SeriesDate" + "SeriesTime") < prev_at
  AND "SeriesNumber" > prev_number ORDER BY 1""",
    ):
        yield _p(
            "warning", file, uid, "SeriesTime", "series-order",
            f"series {number} was acquired before series {prev_number} of the same study",
        )  # fmt: skip
    for uid, file, age, prev_age in _rows(
        con,
        f"""SELECT "SeriesInstanceUID", {file_col}, age_years, prev_age FROM (
  SELECT *, lag(age_years) OVER (PARTITION BY dataset, person_key
                                  ORDER BY "StudyDate", "SeriesInstanceUID") AS prev_age
  FROM {s} WHERE person_key IS NOT NULL AND age_years IS NOT NULL AND "StudyDate" IS NOT NULL
) WHERE age_years < prev_age ORDER BY 1""",
    ):
        yield _p(
            "warning", file, uid, "PatientAge", "age-chronology",
            f"age {age} at this study, {prev_age} at an earlier one of the same patient",
        )  # fmt: skip
    mods = list(limits.modalities)
    lo, hi = limits.slice_thickness
    for uid, file, value in _rows(
        con,
        f'SELECT "SeriesInstanceUID", {file_col}, "SliceThickness" FROM {s} '
        'WHERE list_contains(?, "Modality") AND ("SliceThickness" < ? OR "SliceThickness" > ?) '
        "ORDER BY 1",
        [mods, lo, hi],
    ):
        yield _p(
            "warning", file, uid, "SliceThickness", "slice-thickness",
            f"slice thickness {value:g} mm outside {lo:g}..{hi:g} mm",
        )  # fmt: skip
    if with_spacing:
        lo, hi = limits.pixel_spacing
        for uid, file, value in _rows(
            con,
            f'SELECT "SeriesInstanceUID", {file_col}, "PixelSpacing" FROM {s} '
            'WHERE list_contains(?, "Modality") AND ("PixelSpacing" < ? OR "PixelSpacing" > ?) '
            "ORDER BY 1",
            [mods, lo, hi],
        ):
            yield _p(
                "warning", file, uid, "PixelSpacing", "pixel-spacing",
                f"pixel spacing {value:g} mm outside {lo:g}..{hi:g} mm",
            )  # fmt: skip
    lo_n, hi_n = limits.slices
    for uid, file, value in _rows(
        con,
        f'SELECT "SeriesInstanceUID", {file_col}, coalesce(n_frames, n_instances) AS n FROM {s} '
        'WHERE list_contains(?, "Modality") AND (n < ? OR n > ?) ORDER BY 1',
        [mods, lo_n, hi_n],
    ):
        yield _p(
            "warning", file, uid, "NumberOfSlices", "slice-count",
            f"{value} slices, outside {lo_n}..{hi_n}",
        )  # fmt: skip


def check_series_table(
    con: duckdb.DuckDBPyConnection,
    view: str = "dicom_series",
    limits: CheckLimits = CheckLimits(),
    today: date | None = None,
    source: str = "",
) -> Report:
    """Checks of a series table (e.g. an existing Parquet index attached as `view`)."""
    if not view.isidentifier():
        raise ValueError(f"not a view name: {view!r}")
    report = Report(source=source or view, model="dicom")
    (n,) = con.execute(f"SELECT count(*) FROM {view}").fetchall()[0]
    report.facts = {"series": int(n)}
    report.extend(_series_problems(con, view, limits, today or date.today(), True))
    return report


def check_file_table(
    con: duckdb.DuckDBPyConnection,
    files_view: str,
    limits: CheckLimits = CheckLimits(),
    today: date | None = None,
    source: str = "",
    missing_files: list[str] | None = None,
) -> Report:
    """Checks of a file-state table (`files_view`, FILE_COLUMNS) and the series it forms."""
    from hyperfed.adapters.dicom.indexer import series_relation

    if not files_view.isidentifier():
        raise ValueError(f"not a view name: {files_view!r}")
    report = Report(source=source or files_view, model="dicom")
    series = series_relation(con, files_view)
    series.create_view("hf_check_series_base", replace=True)
    con.execute(
        "CREATE OR REPLACE TEMP VIEW hf_check_series AS SELECT s.*, f.first_file "
        'FROM hf_check_series_base s JOIN (SELECT "SeriesInstanceUID", min(path) AS first_file '
        f"FROM {files_view} WHERE status = 'ok' GROUP BY 1) f USING (\"SeriesInstanceUID\")"
    )
    counts = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE status = 'ok'), "
        "count(*) FILTER (WHERE status = 'not_dicom'), "
        f"count(DISTINCT \"SeriesInstanceUID\") FILTER (WHERE status = 'ok') FROM {files_view}"
    ).fetchall()[0]
    report.facts = {
        "files": int(counts[0]),
        "dicom_files": int(counts[1]),
        "not_dicom": int(counts[2]),
        "series": int(counts[3]),
    }
    for path in missing_files or []:
        report.extend(
            [_p("error", path, None, None, "missing-file", "referenced by a DICOMDIR, absent")]
        )
    report.extend(_file_problems(con, files_view))
    report.extend(_series_from_files(con, files_view))
    report.extend(_completeness(con, files_view, limits))
    report.extend(_pixel_spacing_files(con, files_view, limits))
    report.extend(_series_problems(con, "hf_check_series", limits, today or date.today(), False))
    return report


def check_folder(
    root: Path,
    limits: CheckLimits = CheckLimits(),
    *,
    workers: int | None = None,
    strict_profile: bool = False,
    ids_pseudonymous: bool = False,
    today: date | None = None,
) -> Report:
    """Read every file under `root` (headers only) and check it.

    Patient keys only group files here (a throwaway key, nothing is kept); with
    `ids_pseudonymous` the PatientID is not reported as identifying in strict mode.
    """
    from hyperfed.adapters.dicom.indexer import IndexOptions, read_files, stage_records
    from hyperfed.adapters.dicom.scan import scan_folder

    root = Path(root).resolve()
    options = IndexOptions(
        ids_pseudonymous=ids_pseudonymous, strict_profile=strict_profile, workers=workers
    )
    scan = scan_folder(root, None)
    n_workers = workers or min(os.cpu_count() or 1, 4)
    records = read_files(
        scan.candidates, options.read_options(secrets.token_bytes(32), ""), n_workers
    )
    con = duckdb.connect()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            stage_records(con, records, Path(tmp)).create_view("hf_check_files")
        return check_file_table(
            con, "hf_check_files", limits, today, str(root), missing_files=scan.missing
        )
    finally:
        con.close()
