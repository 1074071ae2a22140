"""DICOM: indexing throughput of `index-dicom`, and a same-series count on the NCI IDC index.

1. Indexing (headers only). Writes --series synthetic series of --instances small DICOM files
   each (cached under --workdir), then times, in the same run:
     baseline  a plain pydicom loop: dcmread(stop_before_pixels=True) of every file
     index/1   build_index with one process (fresh state)
     index/N   build_index with --workers processes (fresh state)
     rerun     build_index again with nothing changed (the resumable path)
   and prints files/second and each time's ratio to the baseline.
2. IDC (idc-index-data, 1,044,191 series): a 3-criterion same-series count (CT, chest, a
   manufacturer, a study-date window) through the series view of the column mapping vs
   hand-written DuckDB SQL on the same Parquet, alternately --repeat times; prints medians
   and the ratio view/hand-written (target <= 1.10; the whole count <= 200 ms).

    python -m bench.dicom_index [--series 400] [--instances 5] [--workers 2] [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import duckdb

from hyperfed.adapters.dicom.indexer import IndexOptions, build_index
from hyperfed.adapters.dicom.mapping import attach_series
from hyperfed.synth import SynthSpec
from hyperfed.synth.dicom import write_dicom

SECRET = b"bench-secret-bench-secret-bench-secret!!"

VIEW_SQL = (
    "SELECT count(DISTINCT person_key) FROM dicom_series "
    "WHERE \"Modality\" = 'CT' AND \"BodyPartExamined\" IN ('CHEST', 'LUNG') "
    "AND \"Manufacturer\" = 'SIEMENS' "
    "AND \"StudyDate\" BETWEEN DATE '2000-01-01' AND DATE '2001-12-31'"
)
HAND_SQL = (
    "SELECT count(DISTINCT (collection_id, PatientID)) FROM read_parquet('{path}') "
    "WHERE Modality = 'CT' AND upper(BodyPartExamined) IN ('CHEST', 'LUNG') "
    "AND Manufacturer = 'SIEMENS' AND StudyDate BETWEEN '2000-01-01' AND '2001-12-31'"
)


def _files(workdir: Path, series: int, instances: int) -> Path:
    root = workdir / f"files-{series}x{instances}"
    if not (root / "files").is_dir():
        persons = max(200, series * 3)
        write_dicom(SynthSpec(persons=persons, seed=7), root, files=series, instances=instances)
    return root / "files"


def _timed(fn: object) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t0


def bench_index(workdir: Path, series: int, instances: int, workers: int) -> None:
    import pydicom

    root = _files(workdir, series, instances)
    paths = sorted(p for p in root.rglob("*.dcm"))
    n = len(paths)

    def baseline() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for p in paths:
                pydicom.dcmread(p, stop_before_pixels=True)

    out = Path(tempfile.mkdtemp(dir=workdir))
    base = _timed(baseline)
    one = _timed(lambda: build_index(root, out / "a.parquet", SECRET, IndexOptions(workers=1)))
    many = _timed(
        lambda: build_index(root, out / "b.parquet", SECRET, IndexOptions(workers=workers))
    )
    rerun = _timed(
        lambda: build_index(root, out / "b.parquet", SECRET, IndexOptions(workers=workers))
    )
    print(f"indexing {n} files ({series} series x {instances}), cores {os.cpu_count()}")
    print(f"  {'phase':<12} {'seconds':>8} {'files/s':>9} {'vs baseline':>12}")
    for name, s in (
        ("baseline", base),
        ("index/1", one),
        (f"index/{workers}", many),
        ("rerun", rerun),
    ):
        print(f"  {name:<12} {s:8.3f} {n / s:9.0f} {s / base:12.2f}")


def bench_idc(repeat: int) -> None:
    try:
        import idc_index_data
    except ImportError:
        print("idc-index-data is not installed (pip install idc-index-data): IDC part skipped")
        return
    path = str(idc_index_data.IDC_INDEX_PARQUET_FILEPATH)
    con = duckdb.connect()
    attach_series(con, "idc")
    (rows,) = con.execute("SELECT count(*) FROM dicom_series").fetchall()[0]
    hand = HAND_SQL.format(path=path)
    a = con.execute(VIEW_SQL).fetchall()[0][0]
    b = con.execute(hand).fetchall()[0][0]
    assert a == b, (a, b)
    view_t, hand_t = [], []
    for _ in range(repeat):
        view_t.append(_timed(lambda: con.execute(VIEW_SQL).fetchall()))
        hand_t.append(_timed(lambda: con.execute(hand).fetchall()))
    v, h = statistics.median(view_t), statistics.median(hand_t)
    print(f"IDC index: {rows:,} series; CT + chest + SIEMENS + 2000-2001: {a} patients")
    print(f"  series view (mapping) {v * 1000:8.1f} ms")
    print(f"  hand-written SQL      {h * 1000:8.1f} ms")
    print(f"  ratio view / hand     {v / h:8.2f}  (target <= 1.10; whole count <= 200 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=400)
    parser.add_argument("--instances", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path("bench/out/dicom"))
    parser.add_argument("--skip-index", action="store_true")
    parser.add_argument("--skip-idc", action="store_true")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if not args.skip_index:
        bench_index(args.workdir, args.series, args.instances, args.workers)
    if not args.skip_idc:
        bench_idc(args.repeat)


if __name__ == "__main__":
    main()
