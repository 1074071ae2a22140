"""`hyperfed node ...`: run and check a node beside your data, for any data model.

    hyperfed node serve --config node.toml
    hyperfed node count --exact --model omop --source duckdb:///path.duckdb QUERY.json --json
    hyperfed node explain --model omop --source postgresql://... QUERY.json
    hyperfed node check --model MODEL --source PATH [--json]   (exit status 1 on errors)

Every command takes either `--config node.toml` or `--model` + `--source` (+ `--schema`, and
`--option KEY=VALUE` for the model's other options). The model is found in the adapter
registry; models may add commands of their own (`Adapter.node_commands`).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from hyperfed.hub.cli_common import err, fail, out, read_json

__all__ = ["app"]

app = typer.Typer(help="Run and check a node beside your data.", no_args_is_help=True)

ConfigOpt = Annotated[Path | None, typer.Option(help="node TOML file")]
ModelOpt = Annotated[str | None, typer.Option(help="data model (omop, fhir, sdtm, dicom ...)")]
SourceOpt = Annotated[
    str | None, typer.Option(help="the data: a URL (duckdb:///x.duckdb, postgresql://...) or path")
]
SchemaOpt = Annotated[str | None, typer.Option(help="database schema of the tables (SQL models)")]
OptionOpt = Annotated[
    list[str] | None,
    typer.Option("--option", help="a model option KEY=VALUE (VALUE as JSON, else text)"),
]
AsOfOpt = Annotated[
    dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="reference date for ages")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _options(schema: str | None, pairs: list[str] | None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"--option {pair!r}: write KEY=VALUE")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    if schema is not None:
        options["schema"] = schema
    return options


def _config(config: Path | None, model: str | None, source: str | None) -> Any:
    from hyperfed.adapters.node.config import ConfigError, load_node_config

    if config is not None:
        try:
            return load_node_config(config)
        except ConfigError as exc:
            fail(str(exc))
    if model is None or source is None:
        fail("give --config node.toml, or --model and --source")
    return None


def open_adapter(
    config: Path | None,
    model: str | None,
    source: str | None,
    schema: str | None,
    pairs: list[str] | None = None,
) -> tuple[Any, Any]:
    """(adapter, node config or None) for a command's options; a clear error else."""
    from hyperfed.adapters.errors import AdapterError
    from hyperfed.adapters.node.config import ConfigError
    from hyperfed.adapters.registry import load_adapter_class

    node_config = _config(config, model, source)
    try:
        if node_config is not None:
            cls = load_adapter_class(node_config.node.model)
            source, options = node_config.resolved_source(), node_config.adapter_options()
        else:
            cls = load_adapter_class(str(model))
            options = _options(schema, pairs)
        return cls.from_source(str(source), **options), node_config
    except (ConfigError, AdapterError, ValueError) as exc:
        fail(str(exc))


def _prepare_local(query_file: Path, model: str, as_of: dt.datetime | None) -> Any:
    from hyperfed.hub.prepare import QueryRejected, prepare
    from hyperfed.ontology import Ontology

    document = read_json(query_file)
    today = as_of.date() if as_of is not None else dt.date.today()
    try:
        prepared = prepare(document, Ontology.load(), {model}, today)
    except QueryRejected as exc:
        for p in exc.problems:
            err.print(f"[red]{p['path']}[/]: {p['message']}", highlight=False)
        raise typer.Exit(2) from exc
    query = prepared.query
    if as_of is not None:
        query = query.model_copy(update={"as_of": as_of.date()})
    return query, prepared.bindings[model]


@app.command("serve")
def node_serve(
    config: Annotated[Path, typer.Option(help="node TOML file")],
    host: str = "127.0.0.1",
    port: int = 8101,
) -> None:
    """Serve this node's count API (protected counts only)."""
    from hyperfed.adapters.errors import AdapterError
    from hyperfed.adapters.node import ConfigError, create_node_app, open_node
    from hyperfed.hub.serving import serve_app

    node_config = _config(config, None, None)
    try:
        service = open_node(node_config)
    except (ConfigError, AdapterError, ValueError) as exc:
        fail(str(exc))
    serve_app(create_node_app(service), host, port)  # stops within seconds of SIGTERM


def _local_config(model: str, source: str) -> Any:
    from hyperfed.adapters.disclosure import Policy
    from hyperfed.adapters.node.config import NodeConfig, NodeSettings

    return NodeConfig(
        node=NodeSettings(id="local", model=model, source=source),
        policy=Policy(),
        base_dir=Path.home() / ".hyperfed",
    )


@app.command("count")
def node_count(
    query_file: Annotated[Path, typer.Argument(help="HQL query JSON file")],
    exact: Annotated[
        bool, typer.Option("--exact", help="the true count, for checking mappings; local only")
    ] = False,
    config: ConfigOpt = None,
    model: ModelOpt = None,
    source: SourceOpt = None,
    schema: SchemaOpt = None,
    option: OptionOpt = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Count on this machine, straight from the data (never over the network)."""
    from hyperfed.adapters.node.service import NodeService

    adapter, node_config = open_adapter(config, model, source, schema, option)
    query, bindings = _prepare_local(query_file, adapter.MODEL, as_of)
    result = adapter.count(query, bindings)
    payload: dict[str, Any] = {
        "count": result.total,
        "exact": exact,
        "notes": result.notes,
        "unsupported": [u.model_dump() for u in result.unsupported],
    }
    if exact and result.details:
        payload["details"] = dict(result.details)  # e.g. a DICOM node's studies and series
    if result.dimensions:
        payload["strata"] = [
            dict(zip([*result.dimensions, "count"], [*k, v], strict=True))
            for k, v in sorted(result.strata.items())
        ]
    if not exact and result.total is not None:
        cfg = node_config or _local_config(adapter.MODEL, str(source))
        protected = NodeService(cfg, adapter).protect(result, query, cfg.policy, bindings)
        payload = protected.model_dump(exclude_none=True) | {"exact": False}
    if as_json:
        print(json.dumps(payload, indent=2))
    else:
        label = "exact count" if exact else "protected count"
        out.print(f"{label}: [bold]{payload.get('count')}[/]")
        for key, value in (payload.get("details") or {}).items():
            out.print(f"  {key}: {value}")
        for s in payload.get("strata", []) or []:
            out.print(f"  {s}")
        for n in payload.get("notes", []):
            out.print(f"[yellow]note:[/] {n}", highlight=False)
        for u in payload.get("unsupported", []):
            out.print(f"[red]unsupported[/] {u['path']}: {u['reason']}", highlight=False)
    if result.total is None:
        raise typer.Exit(1)


@app.command("explain")
def node_explain(
    query_file: Annotated[Path, typer.Argument(help="HQL query JSON file")],
    config: ConfigOpt = None,
    model: ModelOpt = None,
    source: SourceOpt = None,
    schema: SchemaOpt = None,
    option: OptionOpt = None,
    as_of: AsOfOpt = None,
) -> None:
    """Show the native query (SQL, requests ...) this node would run for QUERY_FILE."""
    adapter, _ = open_adapter(config, model, source, schema, option)
    query, bindings = _prepare_local(query_file, adapter.MODEL, as_of)
    print(adapter.explain(query, bindings))


@app.command("check")
def node_check(
    config: ConfigOpt = None,
    model: ModelOpt = None,
    source: SourceOpt = None,
    schema: SchemaOpt = None,
    option: OptionOpt = None,
    as_json: JsonOpt = False,
    limit: Annotated[int, typer.Option(help="rows of the table (all of them in --json)")] = 200,
) -> None:
    """Check the data of a node: a data-quality report; exit status 1 when it finds errors."""
    from hyperfed.adapters.checks import render_report
    from hyperfed.adapters.errors import AdapterError
    from hyperfed.adapters.node.config import ConfigError
    from hyperfed.adapters.registry import load_adapter_class

    node_config = _config(config, model, source)
    try:
        if node_config is not None:
            cls = load_adapter_class(node_config.node.model)
            source, options = node_config.resolved_source(), node_config.adapter_options()
        else:
            cls = load_adapter_class(str(model))
            options = _options(schema, option)
        report = cls.check(str(source), **options)
    except (ConfigError, AdapterError, ValueError) as exc:
        fail(str(exc))
    if as_json:
        print(report.to_json())
    else:
        render_report(report, out, limit=limit)
    raise typer.Exit(report.exit_code)


GENERIC_COMMANDS = frozenset({"serve", "count", "explain", "check"})


def _mount_model_commands() -> None:
    """`hyperfed node NAME` for the commands registered models bring (Adapter.node_commands);
    a broken plugin or a name that is taken is a warning, never the end of the CLI."""
    from hyperfed.adapters.errors import AdapterError
    from hyperfed.adapters.registry import adapter_classes

    try:
        classes = adapter_classes()
    except AdapterError as exc:
        err.print(f"[yellow]warning:[/] {exc}")
        return
    owners: dict[str, str] = {}
    for model, cls in classes.items():
        for name, command in cls.node_commands().items():
            if name in GENERIC_COMMANDS or name in owners:
                taken = owners.get(name, "hyperfed")
                err.print(f"[yellow]warning:[/] {model}: 'node {name}' is taken ({taken})")
                continue
            owners[name] = model
            app.command(name)(command)


_mount_model_commands()
