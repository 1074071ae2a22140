"""Benchmark: generate a synthetic OMOP site and time it.

    python -m bench.gen_omop --persons 1000000 --seed 1 --duckdb out.duckdb [--postgres DSN]
    python -m bench.gen_omop --persons 200000 --postgres-temp      # throwaway PostgreSQL

Prints row counts, seconds per table and rows per second, and a baseline measured in the same
run: the time DuckDB takes to write the same number of rows of a trivial 6-column table
generated from range() (the storage floor). The ratio says what realism costs over that floor.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb

from hyperfed.synth import Summary, SynthSpec, write_omop_duckdb, write_omop_postgres
from hyperfed.synth.omop_schema import CLINICAL_TABLES


def baseline_seconds(rows: int, threads: int | None) -> float:
    """Seconds to write `rows` trivial rows into a fresh DuckDB file (and checkpoint)."""
    with tempfile.TemporaryDirectory(prefix="hf-bench-") as scratch:
        con = duckdb.connect(str(Path(scratch) / "baseline.duckdb"))
        try:
            if threads:
                con.execute(f"SET threads = {int(threads)}")
            started = time.perf_counter()
            con.execute(
                f"""CREATE TABLE t AS SELECT CAST(i AS INTEGER) AS id,
                  CAST(i // 60 AS INTEGER) AS person_id,
                  CAST(hash(i) % 1000 AS INTEGER) AS concept_id,
                  DATE '2000-01-01' + CAST(hash(i) % 9000 AS INTEGER) AS event_date,
                  CAST(hash(i + 1) % 1000 AS DOUBLE) / 10 AS value,
                  CAST(i % 8 AS INTEGER) AS visit_id
                FROM range({int(rows)}) r(i)"""
            )
            con.execute("CHECKPOINT")
            return time.perf_counter() - started
        finally:
            con.close()


def report(summary: Summary) -> str:
    lines = [f"== {summary.target}"]
    lines.append(f"  {'table':<22}{'rows':>14}{'seconds':>10}{'rows/s':>14}")
    for table, count in summary.row_counts.items():
        secs = summary.seconds.get(table)
        rate = f"{count / secs:>14,.0f}" if secs and count else f"{'':>14}"
        lines.append(f"  {table:<22}{count:>14,}{secs if secs else 0:>10.2f}{rate}")
    total = summary.seconds["total"]
    lines.append(
        f"  {'total':<22}{summary.total_rows:>14,}{total:>10.2f}"
        f"{summary.total_rows / total:>14,.0f}"
    )
    for phase in ("indexes",):
        if phase in summary.seconds:
            lines.append(f"  ({phase}: {summary.seconds[phase]:.2f} s)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.gen_omop", description=__doc__.split("\n")[0])
    p.add_argument("--persons", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--duckdb", metavar="PATH", help="DuckDB file to write (replaced)")
    p.add_argument("--postgres", metavar="DSN", help="PostgreSQL database to write (replaced)")
    p.add_argument(
        "--postgres-temp",
        action="store_true",
        help="start a throwaway PostgreSQL server (tests/pgserver.py) and write to it",
    )
    p.add_argument("--schema", help="target schema (default main / public)")
    p.add_argument("--threads", type=int, help="DuckDB threads (default: all cores)")
    p.add_argument("--cdm-version", choices=("5.4", "5.3"), default="5.4")
    p.add_argument("--upper-case-names", action="store_true")
    p.add_argument("--no-indexes", action="store_true")
    p.add_argument("--no-baseline", action="store_true")
    args = p.parse_args(argv)
    if not (args.duckdb or args.postgres or args.postgres_temp):
        p.error("give --duckdb PATH, --postgres DSN or --postgres-temp")
    spec = SynthSpec(
        persons=args.persons,
        seed=args.seed,
        cdm_version=args.cdm_version,
        upper_case_names=args.upper_case_names,
    )
    print(f"synthetic OMOP: {spec.persons:,} persons, seed {spec.seed}, CDM {spec.cdm_version}")
    if args.duckdb:
        summary = write_omop_duckdb(
            spec, args.duckdb, args.schema or "main", replace=True, threads=args.threads
        )
        print(report(summary))
        size = Path(args.duckdb).stat().st_size
        print(f"  file size {size / 2**20:,.0f} MiB")
        if not args.no_baseline:
            clinical = sum(summary.row_counts[t] for t in CLINICAL_TABLES)
            base = baseline_seconds(clinical, args.threads)
            ratio = summary.seconds["total"] / base
            print(
                f"  baseline: {clinical:,} trivial rows written in {base:.2f} s; "
                f"generator / baseline = {ratio:.1f}x"
            )
    if args.postgres:
        _postgres(spec, args.postgres, args)
    if args.postgres_temp:
        from tests.pgserver import PgServer  # the benchmark reuses the tests' throwaway server

        with PgServer() as server:
            _postgres(spec, server.create_database("bench_omop"), args)
    return 0


def _postgres(spec: SynthSpec, dsn: str, args: argparse.Namespace) -> None:
    summary = write_omop_postgres(
        spec,
        dsn,
        args.schema or "public",
        replace=True,
        indexes=not args.no_indexes,
        threads=args.threads,
    )
    print(report(summary))


if __name__ == "__main__":
    sys.exit(main())
