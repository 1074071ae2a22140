"""Command-line commands of the DICOM adapter (typer), for `hyperfed node ...`:

    hyperfed node index-dicom PATH --out INDEX.parquet [--config node.toml | --secret-file F]
    hyperfed node check --model dicom --source PATH_OR_PARQUET_OR_idc [--json]

`index_dicom` and `check_dicom` are plain typer command functions: the node CLI registers them
(`node_app.command("index-dicom")(index_dicom)`); `app` bundles both for direct use.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["app", "check_dicom", "index_dicom", "load_secret"]

app = typer.Typer(help="DICOM tag index: build it, check the data.", no_args_is_help=True)
_out = Console()
_err = Console(stderr=True)


def _fail(message: str) -> None:
    _err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


def load_secret(config: Path | None, secret_file: Path | None) -> bytes:
    """The node secret: from a node TOML (its secret_file / secret_env) or a secret file."""
    if config is not None:
        from hyperfed.adapters.node.config import ConfigError, load_node_config

        try:
            return load_node_config(config).secret()
        except ConfigError as exc:
            _fail(str(exc))
    if secret_file is not None:
        try:
            value = secret_file.read_text().strip()
        except OSError as exc:
            _fail(f"cannot read the secret file {secret_file}: {exc}")
        if len(value) < 32:
            _fail(f"{secret_file}: the node secret must have at least 32 characters")
        return value.encode()
    _fail(
        "PatientIDs are pseudonymised with the node secret: give --config node.toml or "
        "--secret-file FILE (or --ids-pseudonymous if the ids already are pseudonyms)"
    )
    raise AssertionError("unreachable")


@app.command("index-dicom")
def index_dicom(
    path: Annotated[Path, typer.Argument(help="folder of DICOM files (DICOMDIR, XNAT archive)")],
    out: Annotated[Path, typer.Option("--out", help="the index to write (Parquet)")],
    config: Annotated[Path | None, typer.Option(help="node TOML (for its secret)")] = None,
    secret_file: Annotated[Path | None, typer.Option(help="file holding the node secret")] = None,
    ids_pseudonymous: Annotated[
        bool, typer.Option(help="the PatientIDs are already pseudonyms: keep them")
    ] = False,
    dataset: Annotated[
        str | None, typer.Option(help="dataset of files outside an XNAT layout (folder name)")
    ] = None,
    person_scope: Annotated[
        str, typer.Option(help="node: one PatientID space; dataset: ids per dataset")
    ] = "node",
    descriptions: Annotated[
        bool, typer.Option(help="keep Study/SeriesDescription (free text) in the index")
    ] = False,
    retain: Annotated[
        list[str] | None,
        typer.Option(
            help="attribute kept by de-identification on purpose (repeat; replaces "
            "the default list)"
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option(help="also list dummy-allowed and private attributes")
    ] = False,
    workers: Annotated[
        int | None, typer.Option(help="reader processes (default: cores, <= 4)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Index a folder of DICOM files (headers only) into a series table; reruns read only new
    or changed files. Writes INDEX.parquet, its file state and INDEX.report.json."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from hyperfed.adapters.dicom.errors import DicomError
    from hyperfed.adapters.dicom.indexer import IndexOptions, build_index
    from hyperfed.adapters.dicom.keywords import validate_keyword
    from hyperfed.adapters.dicom.privacy import DEFAULT_RETAINED

    if person_scope not in ("node", "dataset"):
        _fail(f"--person-scope must be node or dataset, not {person_scope!r}")
    try:
        retained = tuple(validate_keyword(k, "--retain") for k in retain) if retain else None
    except DicomError as exc:
        _fail(str(exc))
    secret = None if ids_pseudonymous else load_secret(config, secret_file)
    options = IndexOptions(
        dataset=dataset,
        ids_pseudonymous=ids_pseudonymous,
        person_scope="dataset" if person_scope == "dataset" else "node",
        keep_descriptions=descriptions,
        retained=retained if retained is not None else DEFAULT_RETAINED,
        strict_profile=strict,
        workers=workers,
    )
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=_err,
        transient=True,
        disable=as_json,
    )
    with progress:
        task = progress.add_task("reading headers", total=None)

        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            report = build_index(path, out, secret, options, progress=tick)
        except (DicomError, ValueError) as exc:
            _fail(str(exc))
    data = report.to_dict()
    report_path = out.with_name(out.name.removesuffix(".parquet") + ".report.json")
    report_path.write_text(json.dumps(data, indent=2))
    if as_json:
        print(json.dumps(data, indent=2))
        return
    table = Table(title=f"index {out}", show_header=False)
    for key in ("files", "read", "reused", "removed", "series", "persons", "not_dicom", "skipped"):
        table.add_row(key, str(data[key]))
    table.add_row("unreadable", str(len(report.unreadable)))
    table.add_row("seconds", str(report.seconds))
    _out.print(table)
    if report.without_patient:
        _out.print(f"[yellow]{report.without_patient} series have no PatientID: never counted[/]")
    for rel, error in report.unreadable[:20]:
        _out.print(f"[red]unreadable[/] {rel}: {error}")
    for rel in report.dicomdir_missing[:20]:
        _out.print(f"[red]missing[/] {rel} (listed in a DICOMDIR)")
    if report.identifying:
        _out.print(
            "[yellow]files still carrying identifying attributes (DICOM PS3.15 basic profile):[/]"
        )
        for keyword, files in report.identifying.items():
            _out.print(f"  {keyword}: {len(files)} files, e.g. {files[0]}")
    _out.print(f"report: {report_path}")


@app.command("check")
def check_dicom(
    source: Annotated[str, typer.Option(help="DICOM folder, Parquet index, or 'idc'")],
    mapping: Annotated[
        str | None, typer.Option(help="column mapping (TOML, or a shipped name) for Parquet")
    ] = None,
    slice_thickness: Annotated[tuple[float, float], typer.Option(help="mm, min max")] = (0.5, 1.5),
    pixel_spacing: Annotated[tuple[float, float], typer.Option(help="mm, min max")] = (0.6, 1.5),
    slices: Annotated[tuple[int, int], typer.Option(help="slices per series, min max")] = (
        25,
        1500,
    ),
    modalities: Annotated[
        str, typer.Option(help="modalities the limits apply to (comma-separated)")
    ] = "CT,MR,PT",
    strict: Annotated[bool, typer.Option(help="strict confidentiality profile")] = False,
    ids_pseudonymous: Annotated[bool, typer.Option(help="PatientIDs are pseudonyms")] = False,
    workers: Annotated[int | None, typer.Option(help="reader processes")] = None,
    limit: Annotated[int, typer.Option(help="rows of the table (0: all)")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Check imaging data: identifying attributes, uniqueness, completeness, consistency,
    chronology, readability and acquisition limits. Exits 1 when there are errors."""
    import duckdb

    from hyperfed.adapters.dicom.checks import CheckLimits, check_folder, check_series_table
    from hyperfed.adapters.dicom.errors import DicomError
    from hyperfed.adapters.dicom.mapping import attach_series, load_mapping

    try:
        limits = CheckLimits(
            slice_thickness=slice_thickness,
            pixel_spacing=pixel_spacing,
            slices=slices,
            modalities=tuple(m.strip().upper() for m in modalities.split(",") if m.strip()),
        )
    except ValueError as exc:
        _fail(str(exc))
    try:
        if source != "idc" and Path(source).is_dir():
            report = check_folder(
                Path(source),
                limits,
                workers=workers,
                strict_profile=strict,
                ids_pseudonymous=ids_pseudonymous,
            )
        else:
            con = duckdb.connect()
            attach_series(con, source, load_mapping(mapping) if mapping else None)
            report = check_series_table(con, limits=limits, source=source)
    except (DicomError, duckdb.Error) as exc:
        _fail(str(exc))
    if as_json:
        print(report.to_json())
    else:
        _out.print(report.table(limit or None))
        _out.print(f"checked: {report.checked}; by code: {report.by_code()}")
    if not report.ok:
        raise typer.Exit(1)
