"""The `hyperfed` command line (typer). These command forms are a public contract:

hyperfed demo --port N
hyperfed hub serve --config hub.toml
hyperfed node serve --config node.toml
hyperfed node count --exact --model omop --source duckdb:///path.duckdb QUERY.json --json
hyperfed node explain --model omop --source postgresql://... QUERY.json
hyperfed query --hub URL QUERY.json [--json]
hyperfed generate omop --persons N --out file.duckdb
hyperfed ontology search TEXT | hyperfed ontology import-eucaim CSV --out FILE.ttl
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from hyperfed.hub.render import render_result
from hyperfed.synth.cli import app as synth_app

app = typer.Typer(
    help="Hyperfed: federated feasibility queries over OMOP, FHIR, SDTM, DICOM.",
    no_args_is_help=True,
    add_completion=False,
)
node_app = typer.Typer(help="Run and check a node beside your data.", no_args_is_help=True)
hub_app = typer.Typer(help="Run the hub.", no_args_is_help=True)
onto_app = typer.Typer(help="The hyperontology.", no_args_is_help=True)
app.add_typer(node_app, name="node")
app.add_typer(hub_app, name="hub")
app.add_typer(synth_app, name="generate")
app.add_typer(onto_app, name="ontology")

err = Console(stderr=True)
out = Console()


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        _fail(f"query file not found: {path}")
    except json.JSONDecodeError as exc:
        _fail(f"{path} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="hub port; nodes use the next ports")] = 8100,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    data_dir: Annotated[Path, typer.Option(help="where demo data and configs go")] = Path(
        ".hyperfed/demo"
    ),
) -> None:
    """Start a demo federation: a hub and three OMOP nodes (OHDSI Eunomia GiBleed and two
    synthetic sites). Serves until interrupted."""
    from hyperfed.hub.demo import run_demo

    run_demo(host, port, data_dir, out)


@hub_app.command("serve")
def hub_serve(
    config: Annotated[Path, typer.Option(help="hub TOML file")],
    host: str = "127.0.0.1",
    port: int = 8100,
) -> None:
    """Serve the hub API."""
    import uvicorn

    from hyperfed.hub.app import create_app
    from hyperfed.hub.settings import SettingsError, load_settings

    try:
        settings = load_settings(config)
    except SettingsError as exc:
        _fail(str(exc))
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


def _adapter(
    config: Path | None, model: str | None, source: str | None, schema: str | None
) -> tuple[Any, Any]:
    from hyperfed.adapters.base import AdapterError, load_adapter_class
    from hyperfed.adapters.node.config import ConfigError, load_node_config
    from hyperfed.adapters.omop.runner import SourceError

    node_config = None
    try:
        if config is not None:
            node_config = load_node_config(config)
            model = node_config.node.model
            source = node_config.resolved_source()
            schema = node_config.node.schema_
        if model is None or source is None:
            _fail("give --config node.toml, or --model and --source")
        cls = load_adapter_class(str(model))
        return cls.from_source(str(source), schema), node_config
    except (ConfigError, AdapterError, SourceError, ValueError) as exc:
        _fail(str(exc))
    raise AssertionError("unreachable")


def _prepare_local(query_file: Path, model: str, as_of: dt.datetime | None) -> Any:
    from hyperfed.hub.prepare import QueryRejected, prepare
    from hyperfed.ontology import Ontology

    document = _read_json(query_file)
    try:
        prepared = prepare(document, Ontology.load(), {model}, dt.date.today())
    except QueryRejected as exc:
        for p in exc.problems:
            err.print(f"[red]{p['path']}[/]: {p['message']}")
        raise typer.Exit(2) from exc
    query = prepared.query
    if as_of is not None:
        query = query.model_copy(update={"as_of": as_of.date()})
    return query, prepared.bindings[model]


ConfigOpt = Annotated[Path | None, typer.Option(help="node TOML file")]
ModelOpt = Annotated[str | None, typer.Option(help="data model: omop")]
SourceOpt = Annotated[
    str | None, typer.Option(help="duckdb:///path/to.duckdb or postgresql://user@host/db")
]
SchemaOpt = Annotated[str | None, typer.Option(help="database schema of the CDM tables")]
AsOfOpt = Annotated[
    dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="reference date for ages")
]


@node_app.command("serve")
def node_serve(
    config: Annotated[Path, typer.Option(help="node TOML file")],
    host: str = "127.0.0.1",
    port: int = 8101,
) -> None:
    """Serve this node's count API (protected counts only)."""
    import uvicorn

    from hyperfed.adapters.node import NodeService, create_node_app

    adapter, node_config = _adapter(config, None, None, None)
    try:
        service = NodeService(node_config, adapter)
    except Exception as exc:
        _fail(str(exc))
    uvicorn.run(create_node_app(service), host=host, port=port, log_level="warning")


@node_app.command("count")
def node_count(
    query_file: Annotated[Path, typer.Argument(help="HQL query JSON file")],
    exact: Annotated[
        bool, typer.Option("--exact", help="the true count, for checking mappings; local only")
    ] = False,
    config: ConfigOpt = None,
    model: ModelOpt = None,
    source: SourceOpt = None,
    schema: SchemaOpt = None,
    as_of: AsOfOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Count on this machine, straight from the database (never over the network)."""
    from hyperfed.adapters.disclosure import Policy

    adapter, node_config = _adapter(config, model, source, schema)
    query, bindings = _prepare_local(query_file, adapter.MODEL, as_of)
    result = adapter.count(query, bindings, query.as_of or dt.date.today())
    payload: dict[str, Any] = {
        "count": result.total,
        "exact": exact,
        "notes": result.notes,
        "unsupported": [u.model_dump() for u in result.unsupported],
    }
    if result.dimensions:
        payload["strata"] = [
            dict(zip([*result.dimensions, "count"], [*k, v], strict=True))
            for k, v in sorted(result.strata.items())
        ]
    if not exact and result.total is not None:
        from hyperfed.adapters.node.service import NodeService

        cfg = node_config
        if cfg is None:
            from hyperfed.adapters.node.config import NodeConfig, NodeSettings

            cfg = NodeConfig(
                node=NodeSettings(id="local", source=str(source)),
                policy=Policy(),
                base_dir=Path.home() / ".hyperfed",
            )
        protected = NodeService(cfg, adapter).protect(result, query, cfg.policy, bindings)
        payload = protected.model_dump(exclude_none=True) | {"exact": False}
    if as_json:
        print(json.dumps(payload, indent=2))
    else:
        label = "exact count" if exact else "protected count"
        out.print(f"{label}: [bold]{payload.get('count')}[/]")
        for s in payload.get("strata", []) or []:
            out.print(f"  {s}")
        for n in payload.get("notes", []):
            out.print(f"[yellow]note:[/] {n}")
        for u in payload.get("unsupported", []):
            out.print(f"[red]unsupported[/] {u['path']}: {u['reason']}")
    if result.total is None:
        raise typer.Exit(1)


@node_app.command("explain")
def node_explain(
    query_file: Annotated[Path, typer.Argument(help="HQL query JSON file")],
    config: ConfigOpt = None,
    model: ModelOpt = None,
    source: SourceOpt = None,
    schema: SchemaOpt = None,
    as_of: AsOfOpt = None,
) -> None:
    """Show the native query (SQL) this node would run for QUERY_FILE."""
    adapter, _ = _adapter(config, model, source, schema)
    query, bindings = _prepare_local(query_file, adapter.MODEL, as_of)
    print(adapter.explain(query, bindings, query.as_of or dt.date.today()))


@app.command()
def query(
    query_file: Annotated[Path, typer.Argument(help="HQL query JSON file")],
    hub: Annotated[str, typer.Option(help="hub base URL")] = "http://127.0.0.1:8100",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the hub")] = 120.0,
) -> None:
    """Send a feasibility query to a hub and print protected counts per node and in total."""
    import httpx

    document = _read_json(query_file)
    try:
        r = httpx.post(hub.rstrip("/") + "/queries", json=document, timeout=timeout)
    except httpx.HTTPError as exc:
        _fail(f"cannot reach the hub at {hub}: {type(exc).__name__}")
    body = r.json() if r.headers.get("content-type", "").endswith("json") else {}
    if r.status_code != 200:
        if as_json:
            print(json.dumps(body, indent=2))
        else:
            err.print(f"[bold red]{body.get('title', r.status_code)}[/]: {body.get('detail', '')}")
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
