"""`hyperfed catalog ...`: the FAIR catalogue from the command line.

hyperfed catalog validate node.toml [--shapes DCAT-AP-3.0.1-folder] [--no-facts]
    read the node's [[datasets]], compute and protect its facts as the node would, build
    what the hub would publish and check it with the DCAT-AP / HealthDCAT-AP shapes;
    prints every violation (focus, path, message); exit 1 when there is one, 2 for a
    config error (naming the file, entry and field)
hyperfed catalog refresh [NODE] --hub URL
    ask the hub to fetch and publish the node's (or every node's) catalogue now
hyperfed catalog datacite NODE DATASET --hub URL [--out FILE]
    a dataset's DataCite metadata (JSON), to mint a DOI with one's DataCite account

`refresh` is an admin operation: it sends the token `hyperfed query` would
(`hyperfed.hub.auth.cli.bearer_for`: HYPERFED_TOKEN, the stored `hyperfed login`, or client
credentials HYPERFED_CLIENT_ID + HYPERFED_CLIENT_SECRET) and says so on a 401 or 403.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from hyperfed.hub.cli_common import err, fail, out

__all__ = ["app"]

app = typer.Typer(help="The FAIR catalogue: validate, refresh, DataCite.", no_args_is_help=True)

HubOption = Annotated[str, typer.Option(help="hub base URL")]


def _headers(hub: str) -> dict[str, str]:
    """The admin's `Authorization` header for `hub` (none when there is no token)."""
    import httpx

    from hyperfed.hub.auth.cli import LoginError, bearer_for

    try:
        token = bearer_for(hub)
    except LoginError as exc:
        fail(str(exc), 1)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the hub at {hub} to sign in: {type(exc).__name__}", 1)
    return {"Authorization": f"Bearer {token}"} if token else {}


def _call(method: str, url: str, timeout: float, hub: str | None = None) -> Any:
    """`method url`; signed in to `hub` (an admin operation) when given."""
    import httpx

    headers = _headers(hub) if hub else {}
    try:
        r = httpx.request(method, url, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the hub at {url}: {type(exc).__name__}")
    try:
        body = r.json()
    except ValueError:
        body = {"detail": r.text[:500]}
    if r.status_code >= 400:
        err.print(f"[bold red]{body.get('title', r.status_code)}[/]: {body.get('detail', '')}")
        for e in body.get("errors", []):
            err.print(
                f"  {e.get('focus')} {e.get('path')}: {e.get('message')}",
                highlight=False,
                soft_wrap=True,
            )
        if hub and r.status_code == 401:
            err.print(
                f"sign in first as an admin: hyperfed login --hub {hub} (or set HYPERFED_TOKEN,"
                " or HYPERFED_CLIENT_ID and HYPERFED_CLIENT_SECRET)",
                highlight=False,
                soft_wrap=True,
            )
        elif hub and r.status_code == 403:
            err.print(
                "this needs the admin role: sign in as an admin", highlight=False, soft_wrap=True
            )
        raise typer.Exit(1)
    return body


@app.command("validate")
def validate(
    config: Annotated[Path, typer.Argument(help="node TOML file")],
    shapes: Annotated[
        Path | None, typer.Option(help="the official DCAT-AP 3.0.1 release folder")
    ] = None,
    facts: Annotated[
        bool, typer.Option(help="open the source and compute the protected facts")
    ] = True,
    base_url: Annotated[str, typer.Option(help="the hub's public base URL")] = (
        "https://hub.example.org"
    ),
) -> None:
    """Check a node's dataset descriptions (and protected facts) as the hub will."""
    from hyperfed.adapters.errors import AdapterError
    from hyperfed.adapters.node import load_node_config, open_node
    from hyperfed.adapters.node.catalog import CataloguePublisher
    from hyperfed.catalog import Catalog, CatalogError, CatalogSettings, DescriptionInvalid

    try:
        node = load_node_config(config)
    except AdapterError as exc:
        fail(str(exc))
    if facts:
        try:
            service = open_node(node)
        except AdapterError as exc:
            fail(f"{config}: cannot open the source: {exc}")
        try:
            publication = service.catalogue.publish()
        finally:
            service.adapter.close()
    else:
        publication = CataloguePublisher(node, None, b"").publish()
    catalog = Catalog(CatalogSettings(base_url=base_url, dcat_ap_shapes=shapes))
    try:
        prepared = catalog.prepare(publication.node.id, publication)
        warnings = catalog.check(prepared)
    except DescriptionInvalid as exc:
        err.print(f"[bold red]invalid[/]: {exc}", highlight=False, soft_wrap=True)
        for p in exc.problems:
            err.print(f"  {p.focus} {p.path}: {p.message}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except CatalogError as exc:
        fail(str(exc))
    finally:
        catalog.close()
    n = len(publication.datasets)
    out.print(
        f"{config}: {n} dataset(s) valid ({', '.join(catalog.validator.sources)}); "
        f"{len(warnings)} warning(s)",
        highlight=False,
        soft_wrap=True,
    )
    for w in warnings:
        out.print(f"  warning: {w.focus} {w.path}: {w.message}", highlight=False, soft_wrap=True)
    for note in prepared.notes:
        out.print(f"  note: {note}", highlight=False, soft_wrap=True)


@app.command("refresh")
def refresh(
    node: Annotated[str | None, typer.Argument(help="one node (default: every node)")] = None,
    hub: HubOption = "http://127.0.0.1:8100",
    timeout: Annotated[float, typer.Option(help="seconds to wait for the hub")] = 600.0,
) -> None:
    """Fetch and publish a node's catalogue (or every node's) now."""
    url = hub.rstrip("/") + "/catalog/_refresh" + (f"/{node}" if node else "")
    body = _call("POST", url, timeout, hub=hub.rstrip("/"))
    reports = body.get("nodes", {node: {"ok": True, **body}} if node else {})
    failed = False
    for name, report in sorted(reports.items()):
        if report.get("ok", True):
            published = report.get("datasets", {}).get("published", 0)
            out.print(f"{name}: {published} dataset(s) published", highlight=False, soft_wrap=True)
        else:
            failed = True
            err.print(f"{name}: failed ({report.get('status')}): {report.get('detail')}")
    if failed:
        raise typer.Exit(1)


@app.command("datacite")
def datacite(
    node: Annotated[str, typer.Argument(help="node id")],
    dataset: Annotated[str, typer.Argument(help="dataset id")],
    hub: HubOption = "http://127.0.0.1:8100",
    out_file: Annotated[Path | None, typer.Option("--out", help="write the JSON here")] = None,
) -> None:
    """A dataset's DataCite metadata (JSON:API), ready to POST to DataCite's /dois."""
    body = _call("GET", f"{hub.rstrip('/')}/catalog/{node}/dataset/{dataset}/datacite", 60.0)
    text = json.dumps(body, indent=2, ensure_ascii=False)
    if out_file is None:
        print(text)
    else:
        out_file.write_text(text + "\n", encoding="utf-8")
        out.print(f"wrote {out_file}")
