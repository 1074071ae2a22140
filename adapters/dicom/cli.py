"""The DICOM adapter's own node command (typer):

    hyperfed node index-dicom PATH --out INDEX.parquet [--config node.toml | --secret-file F]

`index_dicom` is a plain typer command function; `DicomAdapter.node_commands()` hands it to
the node CLI, which mounts it beside the generic commands (`hyperfed node count / explain /
check --model dicom` need nothing of their own: they go through the adapter contract).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["index_dicom", "load_secret"]

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
