"""The `hyperfed fhir ...` commands (a typer sub-app the hub CLI mounts as `fhir`).

hyperfed fhir view VIEW.json --source PATH [--format json|ndjson|csv] [--refuse-bad-input]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.console import Console

__all__ = ["app"]

app = typer.Typer(help="FHIR R4 tools (SQL-on-FHIR v2 views).", no_args_is_help=True)
_err = Console(stderr=True)


@app.callback()
def _main() -> None:
    """FHIR R4 tools (SQL-on-FHIR v2 views)."""


@app.command("view")
def view(
    view_file: Annotated[Path, typer.Argument(help="a SQL-on-FHIR v2 ViewDefinition (JSON)")],
    source: Annotated[
        Path, typer.Option("--source", help="a FHIR file or folder (Bundles, Bulk NDJSON)")
    ],
    fmt: Annotated[str, typer.Option("--format", help="json | ndjson | csv")] = "json",
    refuse_bad_input: Annotated[
        bool, typer.Option(help="fail when any input line or resource is bad")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="no load summary on stderr")] = False,
) -> None:
    """Run one ViewDefinition over FHIR resources and print its rows."""
    from hyperfed.adapters.fhir.command import OutputFormat, view_source, write_rows
    from hyperfed.adapters.fhir.errors import FhirError

    if fmt not in ("json", "ndjson", "csv"):
        _err.print(f"[bold red]error:[/] --format must be json, ndjson or csv, not {fmt!r}")
        raise typer.Exit(2)
    try:
        result, report = view_source(
            view_file, source, on_error="refuse" if refuse_bad_input else "serve"
        )
    except FhirError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if not quiet and not report.ok:
        typer.echo(report.format(limit=20), err=True)
    write_rows(result, cast(OutputFormat, fmt), sys.stdout)
