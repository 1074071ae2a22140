"""`hyperfed audit ...` and `hyperfed hub migrate` (typer; the lead mounts them):

    hyperfed audit verify  --database URL | --config hub.toml  [--json]
    hyperfed audit export  --database URL | --config hub.toml  [--out FILE]
    hyperfed audit check-export FILE [--head HASH]             (offline, no database)
    hyperfed hub migrate   --database URL | --config hub.toml  (migrate_command)

`verify` exits 1 and names the first broken record when the chain is broken; it prints the
head hash: note it down (or publish it), and a later rewrite of the whole chain shows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hyperfed.hub.cli_common import fail, out

if TYPE_CHECKING:
    from hyperfed.hub.db import HubStore

__all__ = ["app", "migrate_command"]

app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)

DatabaseOpt = Annotated[str | None, typer.Option(help="the hub database (SQLAlchemy URL)")]
ConfigOpt = Annotated[Path | None, typer.Option(help="hub TOML file (its hub database)")]


def _url(database: str | None, config: Path | None) -> str:
    """--database, or the database of --config read as the hub reads it (the file, then
    HYPERFED_DATABASE; SQLite paths relative to the file)."""
    if database:
        return database
    if config is None:
        fail("give --database URL or --config hub.toml")
    from hyperfed.hub.settings import SettingsError, load_settings

    try:
        url = load_settings(config).database
    except SettingsError as exc:
        fail(str(exc))
    if ":memory:" in url:
        fail(f"{config}: [hub] database is not set (the hub keeps its state in memory)")
    return url


def _store(database: str | None, config: Path | None) -> HubStore:
    from hyperfed.hub.db import HubStore, SchemaOutdated

    url = _url(database, config)
    try:
        return HubStore(url, migrate_schema=False, interrupt=False)
    except SchemaOutdated as exc:
        fail(str(exc))
    except Exception as exc:  # cannot connect, not a hub database ...
        fail(f"cannot open {url.split('@')[-1]}: {type(exc).__name__}: {exc}")


@app.command("verify")
def verify(
    database: DatabaseOpt = None,
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Check the whole hash chain; name the first broken record."""
    store = _store(database, config)
    try:
        report = store.verify()
    finally:
        store.close()
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
    elif report.ok:
        out.print(
            f"audit trail intact: {report.records} records; head {report.head_seq} "
            f"{report.head_hash}",
            highlight=False,
        )
    else:
        out.print(
            f"[bold red]audit trail broken at record {report.broken_seq}[/]: "
            f"{report.reason} ({report.records} records verified before it)",
            highlight=False,
        )
    if not report.ok:
        raise typer.Exit(1)


@app.command("export")
def export(
    database: DatabaseOpt = None,
    config: ConfigOpt = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="JSON-lines file")] = None,
) -> None:
    """Write the trail as JSON lines (each record with its hashes), oldest first."""
    store = _store(database, config)
    try:
        if out_file is None:
            n = store.export(sys.stdout)
        else:
            with out_file.open("w") as f:
                n = store.export(f)
            out.print(f"wrote {n} records to {out_file}", highlight=False)
    finally:
        store.close()


@app.command("check-export")
def check_export(
    file: Annotated[Path, typer.Argument(help="a JSON-lines export")],
    head: Annotated[str | None, typer.Option(help="the head hash noted down earlier")] = None,
) -> None:
    """Verify an export offline (with --head, a cut tail or a rewritten chain shows too)."""
    from hyperfed.hub.db import verify_jsonl

    try:
        with file.open() as f:
            report = verify_jsonl(f, head)
    except (OSError, ValueError) as exc:
        fail(f"{file}: {exc}")
    if report.ok:
        out.print(
            f"{file}: intact, {report.records} records, head {report.head_hash}", highlight=False
        )
        return
    out.print(
        f"[bold red]{file}: broken at record {report.broken_seq}[/]: {report.reason}",
        highlight=False,
    )
    raise typer.Exit(1)


def migrate_command(database: DatabaseOpt = None, config: ConfigOpt = None) -> None:
    """Bring the hub database to the newest schema (the hub also does this at start-up)."""
    from hyperfed.hub.db.engine import current_revision, head_revision, make_engine, migrate

    url = _url(database, config)
    engine = make_engine(url)
    try:
        before = current_revision(engine)
        migrate(engine)
        out.print(
            f"database at revision {head_revision()} (was {before or 'empty'})", highlight=False
        )
    except Exception as exc:
        fail(f"migration failed: {type(exc).__name__}: {exc}")
    finally:
        engine.dispose()
