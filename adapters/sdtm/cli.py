"""`check` for SDTM folders, ready to be mounted as `hyperfed node check --model sdtm`.

    python -m hyperfed.adapters.sdtm.cli --source DIR [--json] [--exclude-arm SCRNFAIL]

Exit status: 0 without errors, 1 with errors, 2 when the command line is wrong. Output is the
rich table of `render_report`, or the report as JSON with `--json`. Never a stack trace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["app", "run_check"]

app = typer.Typer(help="Check an SDTM folder (data quality report).", no_args_is_help=True)


def run_check(
    source: Path,
    *,
    as_json: bool = False,
    exclude_arms: tuple[str, ...] = (),
    required_domains: tuple[str, ...] = ("DM",),
    csv_encoding: str = "utf-8",
    limit: int = 20,
    console: Console | None = None,
) -> int:
    """Check `source`, print the report, return the exit status (0 ok, 1 errors, 2 usage)."""
    from hyperfed.adapters.checks import render_report
    from hyperfed.adapters.sdtm.checks import check_folder
    from hyperfed.adapters.sdtm.errors import SdtmOptionError
    from hyperfed.adapters.sdtm.loader import LoadOptions

    out = console or Console()
    try:
        options = LoadOptions(
            exclude_arms=exclude_arms, required_domains=required_domains, csv_encoding=csv_encoding
        )
    except SdtmOptionError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}")
        return 2
    report = check_folder(source, options, limit=limit)
    if as_json:
        out.print_json(report.to_json())
    else:
        render_report(report, out)
    return report.exit_code


@app.command("check")
def check_command(
    source: Annotated[Path, typer.Option("--source", help="folder of the SDTM dataset files")],
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    exclude_arm: Annotated[
        list[str] | None, typer.Option(help="leave out DM subjects of this ARMCD/ARM")
    ] = None,
    require: Annotated[
        list[str] | None, typer.Option(help="required domain (default DM; repeatable)")
    ] = None,
    csv_encoding: Annotated[str, typer.Option(help="encoding of the CSV files")] = "utf-8",
    limit: Annotated[int, typer.Option(help="rows reported one by one per problem")] = 20,
) -> None:
    """Report the data-quality problems of an SDTM folder; exit status 1 on errors."""
    code = run_check(
        source,
        as_json=as_json,
        exclude_arms=tuple(exclude_arm or ()),
        required_domains=tuple(require or ("DM",)),
        csv_encoding=csv_encoding,
        limit=limit,
    )
    raise typer.Exit(code)


@app.callback()
def _main() -> None:
    """SDTM tools."""


if __name__ == "__main__":  # pragma: no cover
    app()
