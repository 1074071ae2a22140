"""DICOM node: a same-series count on the full NCI IDC index through the node, `index-dicom`
throughput, and QIDO-RS requests per query — in one run.

1. IDC (idc-index-data, 1,044,191 series): one imaging criterion with three same-series
   qualifiers — CT, body site lung (SNOMED 39607008: BodyPartExamined LUNG or a region
   covering it), manufacturer SIEMENS — and a study-date window 2000-2001, counted
     node      through the node service (deadline, compile, run, disclosure control),
     adapter   DicomAdapter.count (compile + run),
     hand      hand-written DuckDB SQL on the same Parquet file, and on the file's rows
               loaded into a DuckDB table (the node loads its series table into memory
               when it opens: the `in_memory` option, "auto" up to 2 M series),
   alternately --repeat times; prints medians and the ratios node/hand and adapter/hand
   (targets: node <= 200 ms, <= 1.10 x hand-written).
2. Indexing (headers only): bench.dicom_index's phases (plain pydicom loop, build_index with
   one and --workers processes, a rerun with nothing changed) on --series x --instances files.
3. QIDO-RS: a throwaway Orthanc (tests/orthanc.py, loopback only) holding pydicom's test
   files and --qido-series synthetic series; for a few questions, the searches of the plan,
   the HTTP requests made (one per page of --page-size results) and the time.

    python -m bench.dicom_query [--repeat 15] [--series 400] [--instances 5] [--workers 2]
                                [--qido-series 200] [--page-size 100] [--skip-idc] ...
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from bench.dicom_index import bench_index
from hyperfed.adapters.dicom import DicomAdapter
from hyperfed.adapters.dicom.bodyparts import body_part_terms
from hyperfed.hub.prepare import prepare
from hyperfed.ontology import Ontology

DCM = "http://dicom.nema.org/resources/ontology/DCM"
AS_OF = dt.date(2025, 1, 1)
SAME_SERIES = {
    "code": {"system": DCM, "code": "CT"},
    "body_site": {"system": "http://snomed.info/sct", "code": "39607008"},
    "attributes": {"Manufacturer": "SIEMENS"},
    "during": {"from": "2000-01-01", "to": "2001-12-31"},
}


def hand_sql(path: str) -> str:
    terms = ", ".join(f"'{t}'" for t in body_part_terms("39607008"))
    return (
        f"SELECT count(DISTINCT (collection_id, PatientID)) FROM read_parquet('{path}') "
        f"WHERE Modality = 'CT' AND upper(BodyPartExamined) IN ({terms}) "
        "AND Manufacturer = 'SIEMENS' AND StudyDate BETWEEN '2000-01-01' AND '2001-12-31' "
        "AND PatientID IS NOT NULL"
    )


def _timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_idc(repeat: int, workdir: Path) -> None:
    try:
        import idc_index_data
    except ImportError:
        print("idc-index-data is not installed (pip install idc-index-data): IDC part skipped")
        return
    from hyperfed.adapters.disclosure import Policy
    from hyperfed.adapters.node.config import NodeConfig, NodeSettings
    from hyperfed.adapters.node.service import NodeService
    from hyperfed.adapters.protocol import CountRequest

    path = str(idc_index_data.IDC_INDEX_PARQUET_FILEPATH)
    ontology = Ontology.load()
    document = {"hql": "1", "criteria": SAME_SERIES, "as_of": AS_OF.isoformat()}
    prepared = prepare(document, ontology, {"dicom"}, AS_OF)
    bindings = prepared.bindings["dicom"]
    adapter = DicomAdapter.from_source("idc")
    config = NodeConfig(
        node=NodeSettings(id="idc", model="dicom", source="idc"),
        policy=Policy(),
        base_dir=workdir,
    )
    node = NodeService(config, adapter)
    request = CountRequest(query=prepared.query, bindings=bindings, deadline_ms=30_000)
    con = duckdb.connect()
    hand = hand_sql(path)
    (rows,) = con.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()[0]
    ours = adapter.count(prepared.query, bindings).total
    (expected,) = con.execute(hand).fetchall()[0]
    assert ours == expected, (ours, expected)
    # the same data in memory as the file has it (the node loads its mapped, typed series
    # table into memory when it opens: `in_memory`, "auto" up to 2 M series)
    con.execute(f"CREATE TABLE idc AS SELECT * FROM read_parquet('{path}')")
    hand_mem = hand.replace(f"read_parquet('{path}')", "idc")
    assert con.execute(hand_mem).fetchall()[0][0] == expected
    node_t, adapter_t, hand_t, mem_t = [], [], [], []
    for _ in range(repeat):
        node_t.append(_timed(lambda: node.count(request)))
        adapter_t.append(_timed(lambda: adapter.count(prepared.query, bindings)))
        hand_t.append(_timed(lambda: con.execute(hand).fetchall()))
        mem_t.append(_timed(lambda: con.execute(hand_mem).fetchall()))
    n, a, h, m = (statistics.median(t) for t in (node_t, adapter_t, hand_t, mem_t))
    print(f"IDC index: {rows:,} series; CT + lung + SIEMENS + 2000-2001: {ours} patients")
    print(f"  through the node    {n * 1000:8.1f} ms   (target <= 200 ms)")
    print(f"  DicomAdapter.count  {a * 1000:8.1f} ms")
    print(f"  hand-written SQL    {h * 1000:8.1f} ms   (on the Parquet file)")
    print(f"  hand-written SQL    {m * 1000:8.1f} ms   (on the file's rows in memory)")
    print(f"  ratio node / hand   {n / h:8.2f}   (target <= 1.10)")
    print(f"  ratio node / hand in memory {n / m:8.2f}")
    print(f"  ratio adapter/hand  {a / h:8.2f}")
    adapter.close()


QIDO_QUESTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("CT", {"concept": "hf:CT"}),
    ("thin-slice CT 2010-2019", {"concept": "hf:CT", "attributes": {"SliceThickness": {"max": 1.5}},
                                 "during": {"from": "2010-01-01", "to": "2019-12-31"}}),
    ("CT and MR", {"all": [{"concept": "hf:CT"}, {"concept": "hf:MR"}]}),
    ("women with a PET, 60+", {"all": [{"concept": "hf:PET"}, {"concept": "hf:Female"},
                                        {"age": {"min": 60}}]}),
    ("CT, never an MR", {"all": [{"concept": "hf:CT"}, {"not": {"concept": "hf:MR"}}]}),
)  # fmt: skip


def bench_qido(series: int, page_size: int, workdir: Path) -> None:
    from hyperfed.synth import SynthSpec
    from hyperfed.synth.dicom import write_dicom
    from tests.adapters.dicom.conftest import upload_files
    from tests.orthanc import OrthancError, OrthancServer

    root = workdir / f"qido-{series}"
    if not (root / "files").is_dir():
        write_dicom(SynthSpec(persons=series * 3, seed=13), root, files=series, instances=1)
    files = [*upload_files(), *sorted((root / "files").rglob("*.dcm"))]
    try:
        server = OrthancServer().start()
    except OrthancError as exc:
        print(f"QIDO-RS part skipped: {exc}")
        return
    try:
        for path in files:
            server.upload(path)
        ontology = Ontology.load()
        adapter = DicomAdapter.from_source(server.dicomweb, page_size=page_size)
        assert adapter.qido is not None
        print(f"QIDO-RS against Orthanc: {len(files)} instances, page size {page_size}")
        print(f"  {'question':<26} {'searches':>8} {'requests':>8} {'patients':>8} {'ms':>8}")
        for name, criteria in QIDO_QUESTIONS:
            document = {"hql": "1", "criteria": criteria, "as_of": AS_OF.isoformat()}
            prepared = prepare(document, ontology, {"dicom"}, AS_OF)
            native = adapter.compile(prepared.query, prepared.bindings["dicom"])
            adapter.qido.requests.clear()
            t0 = time.perf_counter()
            result = adapter.run(native)
            ms = (time.perf_counter() - t0) * 1000
            searches = len(getattr(native, "searches", []))
            print(f"  {name:<26} {searches:8d} {len(adapter.qido.requests):8d} "
                  f"{result.total:8d} {ms:8.1f}")  # fmt: skip
        adapter.close()
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--series", type=int, default=400)
    parser.add_argument("--instances", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--qido-series", type=int, default=200)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--workdir", type=Path, default=Path("bench/out/dicom"))
    parser.add_argument("--skip-idc", action="store_true")
    parser.add_argument("--skip-index", action="store_true")
    parser.add_argument("--skip-qido", action="store_true")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if not args.skip_idc:
        with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
            bench_idc(args.repeat, Path(tmp))
    if not args.skip_index:
        bench_index(args.workdir, args.series, args.instances, args.workers)
    if not args.skip_qido:
        bench_qido(args.qido_series, args.page_size, args.workdir)


if __name__ == "__main__":
    main()
