"""`hyperfed generate ...`: the synthetic population written out, one command per data model.

    hyperfed generate omop --persons 100000 --out site.duckdb [--seed 1] [--postgres DSN]
    hyperfed generate fhir --persons 100000 --out DIR [--seed 1] [--bundles] [--gzip]
    hyperfed generate sdtm --persons 100000 --out DIR [--seed 1] [--format csv|xpt]
    hyperfed generate dicom --persons 10000 --out DIR [--seed 1] [--files 20]
    hyperfed generate vocabulary --out DIR       (the vocabulary as an Athena export)
    hyperfed generate demo --out DIR

Every model command also takes the site profile — the fields of `SynthSpec` such as
`--hemoglobin-g-per-l-share 0.4` or `--cancer-scale 1.5` — added in one place
(`site_profile`), so the same options give the same population in every model.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from hyperfed.synth.errors import SynthError
from hyperfed.synth.spec import CdmVersion, SynthSpec

__all__ = ["app", "site_profile"]

app = typer.Typer(
    help="Generate synthetic data (one population, every model).", no_args_is_help=True
)
_out = Console()
_err = Console(stderr=True)
_D = SynthSpec()
_MODEL_FIELDS = {"persons", "seed", "cdm_version", "upper_case_names"}
PROFILE = tuple(f for f in dataclasses.fields(SynthSpec) if f.name not in _MODEL_FIELDS)
_TYPES = typing.get_type_hints(SynthSpec)


def site_profile(command: Callable[..., None]) -> Callable[..., None]:
    """Give `command` an option per site-profile field of `SynthSpec` (default: the spec's)
    and call it with `spec`, the SynthSpec of its `--persons`, `--seed` and those options."""
    hints = typing.get_type_hints(command, include_extras=True)
    sig = inspect.signature(command)
    extra = [
        inspect.Parameter(
            f.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=getattr(_D, f.name),
            annotation=_TYPES[f.name],
        )
        for f in PROFILE
    ]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        profile = {f.name: kwargs.pop(f.name) for f in PROFILE}
        model = {k: kwargs.pop(k) for k in ("cdm_version", "upper_case_names") if k in kwargs}
        try:
            spec = SynthSpec(
                persons=kwargs.pop("persons"), seed=kwargs.pop("seed"), **profile, **model
            )
            command(*args, spec=spec, **kwargs)
        except SynthError as exc:
            _err.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(2) from exc

    own = [p.replace(annotation=hints[p.name]) for p in sig.parameters.values() if p.name != "spec"]
    own += [
        inspect.Parameter(
            "persons", inspect.Parameter.KEYWORD_ONLY, default=10_000, annotation=int
        ),
        inspect.Parameter("seed", inspect.Parameter.KEYWORD_ONLY, default=_D.seed, annotation=int),
    ]
    params = [*own, *extra]
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def _usage(message: str) -> None:
    _err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


@app.command("omop")
@site_profile
def generate_omop(
    *,
    spec: SynthSpec,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="DuckDB file to write (and/or --postgres)")
    ] = None,
    postgres: Annotated[str | None, typer.Option(help="write to this PostgreSQL too")] = None,
    schema: Annotated[str | None, typer.Option(help="target schema (main / public)")] = None,
    replace: Annotated[bool, typer.Option(help="replace existing OMOP tables")] = False,
    cdm_version: Annotated[str, typer.Option(help="5.4 or 5.3")] = _D.cdm_version,
    upper_case_names: Annotated[bool, typer.Option(help="upper-case table/column names")] = False,
    indexes: Annotated[bool, typer.Option(help="PostgreSQL: keys and indexes")] = True,
    threads: Annotated[int | None, typer.Option(help="DuckDB threads (all cores)")] = None,
) -> None:
    """Write a deterministic synthetic OMOP CDM population (DuckDB and/or PostgreSQL)."""
    from hyperfed.synth.writers import write_omop_duckdb, write_omop_postgres

    if out_file is None and postgres is None:
        _usage("give --out FILE.duckdb and/or --postgres DSN")
    if cdm_version not in ("5.4", "5.3"):
        _usage(f"--cdm-version must be 5.4 or 5.3, not {cdm_version!r}")
    version: CdmVersion = "5.4" if cdm_version == "5.4" else "5.3"
    spec = dataclasses.replace(spec, cdm_version=version, upper_case_names=upper_case_names)
    if out_file is not None:
        summary = write_omop_duckdb(
            spec, out_file, schema or "main", replace=replace, threads=threads
        )
        _out.print(summary.format())
    if postgres is not None:
        summary = write_omop_postgres(
            spec, postgres, schema or "public", replace=replace, indexes=indexes, threads=threads
        )
        _out.print(summary.format())


@app.command("fhir")
@site_profile
def generate_fhir(
    *,
    spec: SynthSpec,
    out_dir: Annotated[Path, typer.Option("--out", help="folder for the FHIR files")],
    bundles: Annotated[
        bool, typer.Option(help="one transaction Bundle per patient instead of Bulk NDJSON")
    ] = False,
    gzip: Annotated[bool, typer.Option("--gzip", help="write .ndjson.gz")] = False,
    replace: Annotated[bool, typer.Option(help="overwrite files in a non-empty folder")] = False,
    threads: Annotated[int | None, typer.Option(help="DuckDB threads (all cores)")] = None,
) -> None:
    """Write the same deterministic population as FHIR R4 (Bulk NDJSON, or Bundles)."""
    from hyperfed.synth.fhir import write_fhir

    summary = write_fhir(
        spec, out_dir, bundles=bundles, compress=gzip, replace=replace, threads=threads
    )
    _out.print(summary.format())


@app.command("sdtm")
@site_profile
def generate_sdtm(
    *,
    spec: SynthSpec,
    out_dir: Annotated[Path, typer.Option("--out", help="folder for the SDTM domain files")],
    fmt: Annotated[str, typer.Option("--format", help="csv or xpt (SAS XPORT v5)")] = "csv",
    replace: Annotated[bool, typer.Option(help="overwrite existing domain files")] = False,
    threads: Annotated[int | None, typer.Option(help="DuckDB threads (all cores)")] = None,
) -> None:
    """Write the same deterministic population as SDTM domains (DM, MH, AE, CM, EX, LB, VS,
    PR, DS) as CSV or SAS XPORT files."""
    from hyperfed.synth.sdtm import write_sdtm

    if fmt not in ("csv", "xpt"):
        _usage(f"--format must be csv or xpt, not {fmt!r}")
    summary = write_sdtm(
        spec, out_dir, "xpt" if fmt == "xpt" else "csv", replace=replace, threads=threads
    )
    _out.print(summary.format())


@app.command("dicom")
@site_profile
def generate_dicom(
    *,
    spec: SynthSpec,
    out_dir: Annotated[Path, typer.Option("--out", help="folder for dicom_series.parquet")],
    files: Annotated[
        int, typer.Option(help="also write real DICOM files of the first N series")
    ] = 0,
    instances: Annotated[int, typer.Option(help="DICOM files per series (with --files)")] = 3,
    identifying: Annotated[
        bool, typer.Option(help="put PatientName and PatientBirthDate into the files")
    ] = False,
    replace: Annotated[bool, typer.Option(help="overwrite an existing index")] = False,
) -> None:
    """Write the population's imaging as a DICOM series index (Parquet), and DICOM files."""
    from hyperfed.synth.dicom import write_dicom

    if files < 0 or instances < 1:
        _usage("--files must be >= 0 and --instances >= 1")
    summary = write_dicom(
        spec, out_dir, files=files, instances=instances, identifying=identifying, replace=replace
    )
    _out.print(summary.format())


@app.command("vocabulary")
def generate_vocabulary(
    out_dir: Annotated[Path, typer.Option("--out", help="folder for the CSV files")],
) -> None:
    """Write the synthetic sites' OMOP vocabulary as an Athena export (tab-separated
    CONCEPT.csv, CONCEPT_ANCESTOR.csv, CONCEPT_RELATIONSHIP.csv): descendants for a FHIR
    node (`[adapter] vocabulary`)."""
    from hyperfed.synth.athena import write_athena_vocabulary

    for path in write_athena_vocabulary(out_dir):
        _out.print(f"wrote {path}")


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
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from exc
