"""Command line: `python -m adapters.synth --persons 20000 --seed 1 --duckdb site.duckdb`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from adapters.synth.demo import write_demo_sites
from adapters.synth.errors import SynthError
from adapters.synth.spec import SynthSpec
from adapters.synth.writers import write_omop_duckdb, write_omop_postgres

__all__ = ["build_parser", "main", "spec_from_args"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m adapters.synth",
        description="Generate a deterministic synthetic OMOP CDM site (DuckDB and/or PostgreSQL).",
    )
    d = SynthSpec()
    p.add_argument("--persons", type=int, default=d.persons)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--site-name", default=d.site_name)
    p.add_argument("--site-abbreviation", default=d.site_abbreviation)
    p.add_argument("--start-year", type=int, default=d.start_year)
    p.add_argument("--end-year", type=int, default=d.end_year)
    p.add_argument("--visits-per-person", type=float, default=d.visits_per_person)
    p.add_argument("--hemoglobin-g-per-l-share", type=float, default=d.hemoglobin_g_per_l_share)
    p.add_argument(
        "--creatinine-umol-per-l-share", type=float, default=d.creatinine_umol_per_l_share
    )
    p.add_argument("--missing-unit-share", type=float, default=d.missing_unit_share)
    p.add_argument("--icd10cm-source-share", type=float, default=d.icd10cm_source_share)
    p.add_argument("--cancer-scale", type=float, default=d.cancer_scale)
    p.add_argument("--cdm-version", choices=("5.4", "5.3"), default=d.cdm_version)
    p.add_argument("--upper-case-names", action="store_true")
    p.add_argument("--duckdb", metavar="PATH", help="write to this DuckDB file")
    p.add_argument("--postgres", metavar="DSN", help="write to this PostgreSQL database")
    p.add_argument("--schema", help="target schema (default: main / public)")
    p.add_argument("--replace", action="store_true", help="drop existing OMOP tables first")
    p.add_argument("--no-indexes", action="store_true", help="PostgreSQL: skip keys and indexes")
    p.add_argument("--threads", type=int, help="DuckDB threads (default: all cores)")
    p.add_argument("--demo", metavar="DIR", help="write the demo sites to DIR and exit")
    return p


def spec_from_args(args: argparse.Namespace) -> SynthSpec:
    return SynthSpec(
        persons=args.persons,
        seed=args.seed,
        site_name=args.site_name,
        site_abbreviation=args.site_abbreviation,
        start_year=args.start_year,
        end_year=args.end_year,
        visits_per_person=args.visits_per_person,
        hemoglobin_g_per_l_share=args.hemoglobin_g_per_l_share,
        creatinine_umol_per_l_share=args.creatinine_umol_per_l_share,
        missing_unit_share=args.missing_unit_share,
        icd10cm_source_share=args.icd10cm_source_share,
        cancer_scale=args.cancer_scale,
        cdm_version=args.cdm_version,
        upper_case_names=args.upper_case_names,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.demo:
            for summary in write_demo_sites(args.demo):
                print(summary.format())
            return 0
        if not args.duckdb and not args.postgres:
            parser.error("give --duckdb PATH and/or --postgres DSN (or --demo DIR)")
        spec = spec_from_args(args)
        if args.duckdb:
            summary = write_omop_duckdb(
                spec, args.duckdb, args.schema or "main", replace=args.replace, threads=args.threads
            )
            print(summary.format())
        if args.postgres:
            summary = write_omop_postgres(
                spec,
                args.postgres,
                args.schema or "public",
                replace=args.replace,
                indexes=not args.no_indexes,
                threads=args.threads,
            )
            print(summary.format())
    except SynthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
