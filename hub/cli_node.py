"""`hyperfed node ...`: run and check a node beside your data, for any data model.

    hyperfed node serve --config node.toml     (push: serves HTTP; [hub] mode = "pull": polls)
    hyperfed node key --config node.toml       (this node's public JWK, to register it)
    hyperfed node count --exact --model omop --source duckdb:///path.duckdb QUERY.json --json
    hyperfed node explain --model omop --source postgresql://... QUERY.json
    hyperfed node check --model MODEL --source PATH [--json]   (exit status 1 on errors)

Every command takes either `--config node.toml` or `--model` + `--source` (+ `--schema`, and
`--option KEY=VALUE` for the model's other options). The model is found in the adapter
registry; models may add commands of their own (`Adapter.node_commands`). `serve` and `key`
need `--config` (the `[hub]` section says how the node and its hub trust each other).
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
    host: Annotated[
        str, typer.Option(help="address to serve on (push mode; ignored in pull mode)")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port (push mode; ignored in pull mode)")] = 8101,
) -> None:
    """Serve this node's count API (protected counts only), or pull tasks from the hub.

    With hub.public_key_file set, only tasks signed by the hub are taken; with
    hub.mode = "pull" the node opens no port and fetches its tasks from hub.url instead,
    until SIGTERM or Ctrl-C."""
    from hyperfed.adapters.errors import AdapterError
    from hyperfed.adapters.node import ConfigError, create_node_app, open_node
    from hyperfed.adapters.node.trust import TaskVerifier

    node_config = _config(config, None, None)
    hub = node_config.hub
    try:
        hub_key = node_config.hub_public_key()
        own_key = node_config.node_key() if hub.mode == "pull" else None
        service = open_node(node_config)
    except (ConfigError, AdapterError, ValueError) as exc:
        fail(str(exc))
    verifier = TaskVerifier(hub_key, service.node_id) if hub_key is not None else None
    trust = (
        f"taking only tasks signed by the hub key in {hub.public_key_file}"
        if verifier is not None
        else "taking unsigned tasks (no [hub] public_key_file)"
    )
    if hub.mode == "pull":
        from hyperfed.adapters.node.pull import PullLoop
        from hyperfed.hub.serving import run_pull_loop

        assert hub.url is not None  # the config requires it in pull mode
        err.print(
            f"node {service.node_id}: pull mode, fetching tasks from {hub.url} "
            f"(audience {hub.audience!r}, key {node_config.node_key_path().name}); {trust}",
            highlight=False,
            markup=False,
        )
        run_pull_loop(
            PullLoop(service, hub.url, own_key, audience=hub.audience, verifier=verifier)
        )  # ends the process within seconds of SIGTERM
        return
    from hyperfed.hub.serving import serve_app

    app: Any = create_node_app(service)
    if verifier is not None:
        from hyperfed.adapters.node.guard import require_hub_signature

        app = require_hub_signature(app, verifier)
    hub_name = f"hub {hub.url}" if hub.url else "its hub"
    err.print(
        f"node {service.node_id}: push mode, serving http://{host}:{port} for {hub_name}; {trust}",
        highlight=False,
        markup=False,
    )
    serve_app(app, host, port)  # stops within seconds of SIGTERM


@app.command("key")
def node_key(config: Annotated[Path, typer.Option(help="node TOML file")]) -> None:
    """Print this node's public key (a JWK), to register the node at its hub.

    The key file (hub.key_file, default <node id>.key) is created (mode 0600) when absent."""
    from hyperfed.adapters.node import ConfigError
    from hyperfed.adapters.node.trust import public_jwk

    node_config = _config(config, None, None)
    path = node_config.node_key_path()
    existed = path.exists()
    try:
        key = node_config.node_key()
    except ConfigError as exc:
        fail(str(exc))
    if not existed:
        err.print(
            f"created this node's key {path} (mode 0600): keep it private",
            highlight=False,
            markup=False,
        )
    print(json.dumps(public_jwk(key), indent=2))


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


GENERIC_COMMANDS = frozenset({"serve", "count", "explain", "check", "key"})


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
