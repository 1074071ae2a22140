"""`hyperfed generate ...`: the synthetic population written out, one command per data model.

    hyperfed generate omop --persons 100000 --out site.duckdb [--seed 1] [--postgres DSN]
    hyperfed generate fhir --persons 100000 --out DIR [--seed 1] [--bundles] [--gzip]
    hyperfed generate demo --out DIR

The options of `omop` are the fields of `SynthSpec` (a site profile) plus where to write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hyperfed.synth.errors import SynthError
from hyperfed.synth.spec import CdmVersion, SynthSpec

__all__ = ["app"]

app = typer.Typer(
    help="Generate synthetic data (one population, every model).", no_args_is_help=True
)
_out = Console()
_err = Console(stderr=True)
_D = SynthSpec()


def _fail(exc: SynthError) -> None:
    _err.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(2)


@app.command("omop")
def generate_omop(
    out_file: Annotated[
        Path | None, typer.Option("--out", help="DuckDB file to write (and/or --postgres)")
    ] = None,
    persons: int = 10_000,
    seed: int = _D.seed,
    postgres: Annotated[str | None, typer.Option(help="write to this PostgreSQL too")] = None,
    schema: Annotated[str | None, typer.Option(help="target schema (main / public)")] = None,
    replace: Annotated[bool, typer.Option(help="replace existing OMOP tables")] = False,
    cdm_version: Annotated[str, typer.Option(help="5.4 or 5.3")] = _D.cdm_version,
    upper_case_names: Annotated[bool, typer.Option(help="upper-case table/column names")] = False,
    site_name: str = _D.site_name,
    site_abbreviation: str = _D.site_abbreviation,
    start_year: int = _D.start_year,
    end_year: int = _D.end_year,
    visits_per_person: float = _D.visits_per_person,
    hemoglobin_g_per_l_share: float = _D.hemoglobin_g_per_l_share,
    creatinine_umol_per_l_share: float = _D.creatinine_umol_per_l_share,
    missing_unit_share: float = _D.missing_unit_share,
    icd10cm_source_share: float = _D.icd10cm_source_share,
    cancer_scale: float = _D.cancer_scale,
    indexes: Annotated[bool, typer.Option(help="PostgreSQL: keys and indexes")] = True,
    threads: Annotated[int | None, typer.Option(help="DuckDB threads (all cores)")] = None,
) -> None:
    """Write a deterministic synthetic OMOP CDM population (DuckDB and/or PostgreSQL)."""
    from hyperfed.synth.writers import write_omop_duckdb, write_omop_postgres

    if out_file is None and postgres is None:
        _err.print("[bold red]error:[/] give --out FILE.duckdb and/or --postgres DSN")
        raise typer.Exit(2)
    if cdm_version not in ("5.4", "5.3"):
        _err.print(f"[bold red]error:[/] --cdm-version must be 5.4 or 5.3, not {cdm_version!r}")
        raise typer.Exit(2)
    version: CdmVersion = "5.4" if cdm_version == "5.4" else "5.3"
    try:
        spec = SynthSpec(
            persons=persons,
            seed=seed,
            site_name=site_name,
            site_abbreviation=site_abbreviation,
            start_year=start_year,
            end_year=end_year,
            visits_per_person=visits_per_person,
            hemoglobin_g_per_l_share=hemoglobin_g_per_l_share,
            creatinine_umol_per_l_share=creatinine_umol_per_l_share,
            missing_unit_share=missing_unit_share,
            icd10cm_source_share=icd10cm_source_share,
            cancer_scale=cancer_scale,
            cdm_version=version,
            upper_case_names=upper_case_names,
        )
        if out_file is not None:
            summary = write_omop_duckdb(
                spec, out_file, schema or "main", replace=replace, threads=threads
            )
            _out.print(summary.format())
        if postgres is not None:
            summary = write_omop_postgres(
                spec,
                postgres,
                schema or "public",
                replace=replace,
                indexes=indexes,
                threads=threads,
            )
            _out.print(summary.format())
    except SynthError as exc:
        _fail(exc)


@app.command("fhir")
def generate_fhir(
    out_dir: Annotated[Path, typer.Option("--out", help="folder for the FHIR files")],
    persons: int = 10_000,
    seed: int = _D.seed,
    bundles: Annotated[
        bool, typer.Option(help="one transaction Bundle per patient instead of Bulk NDJSON")
    ] = False,
    gzip: Annotated[bool, typer.Option("--gzip", help="write .ndjson.gz")] = False,
    replace: Annotated[bool, typer.Option(help="overwrite files in a non-empty folder")] = False,
    site_abbreviation: str = _D.site_abbreviation,
    start_year: int = _D.start_year,
    end_year: int = _D.end_year,
    visits_per_person: float = _D.visits_per_person,
    hemoglobin_g_per_l_share: float = _D.hemoglobin_g_per_l_share,
    creatinine_umol_per_l_share: float = _D.creatinine_umol_per_l_share,
    missing_unit_share: float = _D.missing_unit_share,
    icd10cm_source_share: float = _D.icd10cm_source_share,
    cancer_scale: float = _D.cancer_scale,
    threads: Annotated[int | None, typer.Option(help="DuckDB threads (all cores)")] = None,
) -> None:
    """Write the same deterministic population as FHIR R4 (Bulk NDJSON, or Bundles)."""
    from hyperfed.synth.fhir import write_fhir

    try:
        spec = SynthSpec(
            persons=persons,
            seed=seed,
            site_abbreviation=site_abbreviation,
            start_year=start_year,
            end_year=end_year,
            visits_per_person=visits_per_person,
            hemoglobin_g_per_l_share=hemoglobin_g_per_l_share,
            creatinine_umol_per_l_share=creatinine_umol_per_l_share,
            missing_unit_share=missing_unit_share,
            icd10cm_source_share=icd10cm_source_share,
            cancer_scale=cancer_scale,
        )
        summary = write_fhir(
            spec, out_dir, bundles=bundles, compress=gzip, replace=replace, threads=threads
        )
        _out.print(summary.format())
    except SynthError as exc:
        _fail(exc)


@app.command("demo")
def generate_demo(
    out_dir: Annotated[Path, typer.Option("--out", help="folder for the demo sites")],
) -> None:
    """Write the demo's synthetic sites (uni-hospital, regional-clinic) to a folder."""
    from hyperfed.synth.demo import write_demo_sites

    try:
        for summary in write_demo_sites(out_dir):
            _out.print(summary.format())
    except SynthError as exc:
        _fail(exc)
