"""The `hyperfed` command line (typer). These command forms are a public contract:

hyperfed demo --port N
hyperfed hub serve --config hub.toml
hyperfed hub migrate --config hub.toml | user NAME --role R | client NAME --role R | key
                                                               (hyperfed.hub.cli_identity)
hyperfed login --hub URL [--username U]    hyperfed token --hub URL   (hyperfed.hub.auth.cli)
hyperfed audit verify | export | check-export FILE              (hyperfed.hub.cli_audit)
hyperfed node serve --config node.toml                       (hyperfed.hub.cli_node)
hyperfed node count --exact --model omop --source duckdb:///path.duckdb QUERY.json --json
hyperfed node explain --model omop --source postgresql://... QUERY.json
hyperfed query --hub URL QUERY.json [--json]   (HYPERFED_TOKEN, the stored login, or
                                                HYPERFED_CLIENT_ID + _SECRET)
hyperfed generate omop --persons N --out file.duckdb          (hyperfed.synth.cli)
hyperfed ontology search TEXT | hyperfed ontology import-eucaim CSV --out FILE.ttl
hyperfed catalog validate node.toml | refresh [NODE] --hub URL | datacite NODE DATASET --hub URL
                                         (hyperfed.hub.cli_catalog)
hyperfed <model> ...                     commands a data model adds (Adapter.cli)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from hyperfed.hub.auth.cli import login_command, token_command
from hyperfed.hub.cli_audit import app as audit_app
from hyperfed.hub.cli_audit import migrate_command
from hyperfed.hub.cli_catalog import app as catalog_app
from hyperfed.hub.cli_common import err, fail, out, read_json
from hyperfed.hub.cli_identity import client_command, key_command, user_command
from hyperfed.hub.cli_node import app as node_app
from hyperfed.hub.render import render_result
from hyperfed.synth.cli import app as synth_app

app = typer.Typer(
    help="Hyperfed: federated feasibility queries over OMOP, FHIR, SDTM, DICOM.",
    no_args_is_help=True,
    add_completion=False,
)
hub_app = typer.Typer(help="Run the hub.", no_args_is_help=True)
onto_app = typer.Typer(help="The hyperontology.", no_args_is_help=True)
app.add_typer(node_app, name="node")
app.add_typer(hub_app, name="hub")
app.add_typer(synth_app, name="generate")
app.add_typer(onto_app, name="ontology")
app.add_typer(catalog_app, name="catalog")
app.add_typer(audit_app, name="audit")
app.command("login")(login_command)
app.command("token")(token_command)
hub_app.command("migrate")(migrate_command)
hub_app.command("user")(user_command)
hub_app.command("client")(client_command)
hub_app.command("key")(key_command)


def _mount_models() -> None:
    """`hyperfed <model> ...` for every registered model that brings commands."""
    from hyperfed.adapters.errors import AdapterError
    from hyperfed.adapters.registry import adapter_classes

    try:
        classes = adapter_classes()
    except AdapterError as exc:  # a broken plugin must not take the whole CLI down
        err.print(f"[yellow]warning:[/] {exc}")
        return
    for name, cls in classes.items():
        sub = cls.cli()
        if sub is not None:
            app.add_typer(sub, name=name)


_mount_models()


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="hub port; nodes use the next ports")] = 8100,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    data_dir: Annotated[Path, typer.Option(help="where demo data and configs go")] = Path(
        ".hyperfed/demo"
    ),
) -> None:
    """Start a demo federation: a hub, three OMOP nodes (OHDSI Eunomia GiBleed and two
    synthetic sites), a FHIR node (a synthetic site's Bulk NDJSON), an SDTM node and a DICOM
    node (the imaging of one of the sites). Serves until
    interrupted."""
    from hyperfed.hub.demo import run_demo

    run_demo(host, port, data_dir, out)


@hub_app.command("serve")
def hub_serve(
    config: Annotated[Path, typer.Option(help="hub TOML file")],
    host: str = "127.0.0.1",
    port: int = 8100,
) -> None:
    """Serve the hub API (until SIGTERM or Ctrl-C; it then stops within a few seconds)."""
    from hyperfed.hub.app import create_app
    from hyperfed.hub.serving import serve_app
    from hyperfed.hub.settings import SettingsError, load_settings

    try:
        settings = load_settings(config)
        app = create_app(settings)
    except SettingsError as exc:
        fail(str(exc))
    serve_app(app, host, port, on_stop=app.state.hub.pull.release)


@app.command()
def query(
    query_file: Annotated[Path, typer.Argument(help="HQL query JSON file")],
    hub: Annotated[str, typer.Option(help="hub base URL")] = "http://127.0.0.1:8100",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the hub")] = 120.0,
) -> None:
    """Send a feasibility query to a hub and print protected counts per node and in total.
    Signs in with HYPERFED_TOKEN, the stored `hyperfed login` for that hub, or client
    credentials (HYPERFED_CLIENT_ID and HYPERFED_CLIENT_SECRET), in that order."""
    import httpx

    from hyperfed.hub.auth.cli import LoginError, bearer_for

    document = read_json(query_file)
    try:
        token = bearer_for(hub)
    except LoginError as exc:
        fail(str(exc), 1)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        r = httpx.post(
            hub.rstrip("/") + "/queries", json=document, headers=headers, timeout=timeout
        )
    except httpx.HTTPError as exc:
        fail(f"cannot reach the hub at {hub}: {type(exc).__name__}")
    body = r.json() if r.headers.get("content-type", "").endswith("json") else {}
    if r.status_code != 200:
        if as_json:
            print(json.dumps(body, indent=2))
        else:
            err.print(f"[bold red]{body.get('title', r.status_code)}[/]: {body.get('detail', '')}")
            if r.status_code == 401 and not token:
                err.print(f"sign in first: hyperfed login --hub {hub}")
            if r.status_code == 429 and r.headers.get("retry-after"):
                err.print(f"try again in {r.headers['retry-after']} s")
            for e in body.get("errors", []):
                err.print(
                    f"  {e.get('path')}: {e.get('message')}"
                    + (
                        f" (did you mean {', '.join(e['suggestions'])}?)"
                        if e.get("suggestions")
                        else ""
                    )
                )
        raise typer.Exit(1)
    if as_json:
        print(json.dumps(body, indent=2))
    else:
        render_result(body, out)


@onto_app.command("search")
def ontology_search(text: str, limit: int = 20) -> None:
    """Search hyperontology concepts by label or code."""
    from hyperfed.ontology import Ontology

    for c in Ontology.load().search(text, limit=limit):
        out.print(f"{c.curie:28} {c.label}  [dim]{c.category or ''}[/]")


@onto_app.command("import-eucaim")
def ontology_import_eucaim(
    csv_file: Annotated[Path, typer.Argument(help="EUCAIM hyperontology concept CSV")],
    out_file: Annotated[Path, typer.Option("--out", help="Turtle file to write")],
) -> None:
    """Convert EUCAIM's concept list to Turtle, for the hub's `ontology_files`."""
    from hyperfed.ontology.eucaim import eucaim_csv_to_turtle

    out_file.write_text(eucaim_csv_to_turtle(csv_file))
    out.print(f"wrote {out_file}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)


if __name__ == "__main__":  # python -m hyperfed.hub.cli (the demo starts its services so)
    main()
