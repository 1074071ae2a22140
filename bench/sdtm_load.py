"""Benchmark: load a synthetic SDTM folder (XPT and CSV) and time it per million rows.

    python -m bench.sdtm_load --persons 20000 [--seed 1] [--dir .hyperfed/bench/sdtm]

Generates the population as SDTM CSV and XPT (cached in --dir), then times `load_folder` on
each: reading the files, the date dictionary, the unit map and the normalised layout. As a
baseline from the same run it times DuckDB's bare `read_csv` of the same CSV files into tables
(the floor for the CSV path). Prints JSON: rows, seconds, seconds per million rows, and the
ratio of the CSV load to its baseline.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb

from hyperfed.adapters.sdtm.loader import load_folder
from hyperfed.synth import SynthSpec
from hyperfed.synth.sdtm import write_sdtm


def _folder(root: Path, spec: SynthSpec, fmt: str) -> Path:
    folder = root / f"p{spec.persons}-s{spec.seed}-{fmt}"
    if not (folder / f"dm.{fmt}").exists():
        write_sdtm(spec, folder, "xpt" if fmt == "xpt" else "csv", replace=True)
    return folder


def _baseline(folder: Path) -> float:
    con = duckdb.connect()
    try:
        started = time.perf_counter()
        for i, path in enumerate(sorted(folder.glob("*.csv"))):
            literal = "'" + str(path).replace("'", "''") + "'"
            con.execute(f"CREATE TABLE t{i} AS SELECT * FROM read_csv({literal}, all_varchar=true)")
        return time.perf_counter() - started
    finally:
        con.close()


def _load(folder: Path) -> dict[str, float | int]:
    started = time.perf_counter()
    study = load_folder(folder)
    seconds = time.perf_counter() - started
    rows = sum(ds.rows for ds in study.datasets)
    layout = {t: study.count(t) for t in ("subjects", "events", "interventions", "findings")}
    study.close()
    per_million = seconds / rows * 1e6 if rows else 0.0
    return {"rows": rows, "seconds": round(seconds, 3), "s_per_M_rows": round(per_million, 2)} | {
        f"layout_{k}": v for k, v in layout.items()
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=Path(".hyperfed/bench/sdtm"))
    args = parser.parse_args(argv)
    spec = SynthSpec(persons=args.persons, seed=args.seed)
    args.dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, object] = {"persons": args.persons}
    for fmt in ("csv", "xpt"):
        result[fmt] = _load(_folder(args.dir, spec, fmt))
    base = _baseline(_folder(args.dir, spec, "csv"))
    csv = result["csv"]
    assert isinstance(csv, dict)
    result["baseline_read_csv_seconds"] = round(base, 3)
    result["csv_load_vs_read_csv"] = round(float(csv["seconds"]) / base, 2) if base else None
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
