"""Benchmark: generate N patients as FHIR Bulk NDJSON, load them, build the view tables.

    python -m bench.fhir_load --persons 10000            # quick
    python -m bench.fhir_load --persons 1000000 --cache /big/disk/fhir.duckdb --keep DIR

Prints, in one run: generation time; load time per million resources (NDJSON into the raw
table) against a baseline measured in the same run — DuckDB reading and parsing the same
files with `read_ndjson_objects` and nothing else (the floor of any JSON load); the time of
each view table and of all of them per million resources; and, for the condition and
observation views, the engine's compiled SQL against hand-written SQL producing the same
rows over the same raw table (the ratio is the cost of compiling FHIRPath generically).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb

from hyperfed.adapters.fhir.load import load_fhir
from hyperfed.adapters.fhir.viewdef import compile_view
from hyperfed.adapters.fhir.viewset import adapter_views
from hyperfed.synth import SynthSpec
from hyperfed.synth.fhir import write_fhir

REF = "regexp_extract(json_extract_string(json, '$.subject.reference'), '^Patient/(.+)$', 1)"
HAND_WRITTEN = {
    "condition": f"""SELECT id, nullif({REF}, '') AS patient_id,
  json_extract_string(c, '$.system') AS system, json_extract_string(c, '$.code') AS code,
  coalesce(json_extract_string(json, '$.onsetDateTime'),
           json_extract_string(json, '$.onsetPeriod.start'),
           json_extract_string(json, '$.recordedDate')) AS onset_date
FROM (SELECT id, json, unnest(json_extract(json, '$.code.coding[*]')) AS c
      FROM fhir_resource WHERE resource_type = 'Condition')""",
    "observation": f"""SELECT id, nullif({REF}, '') AS patient_id,
  json_extract_string(c, '$.code') AS code,
  TRY_CAST(json_extract(json, '$.valueQuantity.value') AS DOUBLE) AS value,
  json_extract_string(json, '$.valueQuantity.code') AS unit_code
FROM (SELECT id, json, unnest(json_extract(json, '$.code.coding[*]')) AS c
      FROM fhir_resource WHERE resource_type = 'Observation')
UNION ALL
SELECT id, nullif({REF}, ''), json_extract_string(c, '$.code'),
  TRY_CAST(json_extract(p, '$.valueQuantity.value') AS DOUBLE),
  json_extract_string(p, '$.valueQuantity.code')
FROM (SELECT id, json, p, unnest(json_extract(p, '$.code.coding[*]')) AS c
      FROM (SELECT id, json, unnest(json_extract(json, '$.component[*]')) AS p
            FROM fhir_resource WHERE resource_type = 'Observation'))""",
}


def _timed(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[float, int]:
    started = time.perf_counter()
    row = con.execute(f"SELECT count(*) FROM ({sql})").fetchone()
    return time.perf_counter() - started, int(row[0]) if row else 0


def baseline_read(folder: Path, scratch: Path) -> float:
    """Seconds DuckDB needs to read every NDJSON file and store its objects (as JSON, with
    their type) in a DuckDB file: the floor of any load."""
    con = duckdb.connect(str(scratch / "baseline.duckdb"))
    con.execute("SET enable_progress_bar = false")
    try:
        started = time.perf_counter()
        con.execute("CREATE TABLE raw (resource_type VARCHAR, json JSON)")
        for f in sorted(folder.glob("*.ndjson")):
            literal = "'" + str(f).replace("'", "''") + "'"
            con.execute(
                "INSERT INTO raw SELECT json_extract_string(json, '$.resourceType'), json "
                f"FROM read_ndjson_objects({literal})"
            )
        con.execute("CHECKPOINT")
        return time.perf_counter() - started
    finally:
        con.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="write the NDJSON here")
    parser.add_argument("--cache", type=Path, default=None, help="DuckDB file to load into")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hf-bench-fhir-") as scratch:
        folder = args.keep or Path(scratch) / "ndjson"
        t0 = time.perf_counter()
        summary = write_fhir(
            SynthSpec(persons=args.persons, seed=args.seed),
            folder,
            replace=True,
            threads=args.threads,
        )
        generated = time.perf_counter() - t0
        resources = summary.total_rows
        size = sum(f.stat().st_size for f in folder.glob("*.ndjson"))
        print(
            f"generated {args.persons:,} patients: {resources:,} resources, "
            f"{size / 1e6:,.0f} MB NDJSON in {generated:.1f} s"
        )
        floor = baseline_read(folder, Path(scratch))
        cache = args.cache or Path(scratch) / "fhir.duckdb"
        cache.unlink(missing_ok=True)
        store = load_fhir(folder, cache, threads=args.threads)
        secs = store.report.seconds
        per_m = 1e6 / max(resources, 1)
        print(
            f"baseline: DuckDB reads and stores the NDJSON objects in {floor:.2f} s "
            f"({floor * per_m:.2f} s per million resources)"
        )
        print(
            f"load (NDJSON -> raw table): {secs['ndjson']:.2f} s, "
            f"{secs['ndjson'] * per_m:.2f} s per million resources, "
            f"ratio to baseline {secs['ndjson'] / floor:.2f}"
        )
        print(
            f"views (all {len(store.tables)} tables): {secs['views']:.2f} s, "
            f"{secs['views'] * per_m:.2f} s per million resources"
        )
        print(
            f"checks {secs['checks']:.2f} s, duplicates {secs['duplicates']:.2f} s, "
            f"code index {secs.get('index', 0.0):.2f} s, "
            f"total {secs['total']:.2f} s ({secs['total'] * per_m:.2f} s per million)"
        )
        for name, rows in store.report.view_rows.items():
            print(f"  v_{name:<28}{rows:>14,} rows")
        views = adapter_views()
        for name, sql in HAND_WRITTEN.items():
            engine = compile_view(views[name]).sql()
            columns = "id, patient_id, code" if name == "observation" else "*"
            t_engine, n_engine = _timed(store.con, engine)
            t_hand, n_hand = _timed(store.con, sql)
            print(
                f"view {name}: engine {t_engine:.2f} s ({n_engine:,} rows), hand-written "
                f"{t_hand:.2f} s ({n_hand:,} rows), ratio {t_engine / t_hand:.2f}"
                + ("" if n_engine == n_hand else "  ROW COUNTS DIFFER")
                + f" [{columns}]"
            )
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
