"""`hyperfed demo`: a hub and a node per demo site (`hyperfed.hub.demo_sites.SITES`: OMOP,
FHIR, SDTM and DICOM data) on loopback, on embedded data, with sign-in on.

Data and the generated configuration files (useful as examples) go to `data_dir`; data
is generated once and reused. Each node describes its dataset for the FAIR catalogue
(`hyperfed.hub.demo_datasets`: licence, DOI, keywords ...), so the demo hub publishes a
valid DCAT-AP / HealthDCAT-AP catalogue (stored in `data_dir/catalog`) at its root.

The federation is set up as a real one is (`hyperfed.hub.demo_enroll`): the hub has its
task key (`hub.key`; every node holds `hub.pub.jwk` and checks the hub's signature on
every task), three people (researcher, operator, admin, with new passwords each run),
and no nodes in its config file: the operator registers each node through the registry
API, the hub asks it what it is, the admin approves it. One site (`trial-sdtm`) is behind
a firewall and pulls its tasks. The researcher's token is stored for the CLI.

`run_demo` runs each node in a process of its own and the hub in another (`hyperfed node
serve`, `hyperfed hub serve`), as a real federation does: a slow node never stalls the
hub. SIGTERM or Ctrl-C stops them all within a few seconds. (`build_apps` gives the same
apps in this process, for tests.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from rich.console import Console

from hyperfed.adapters.disclosure import Policy
from hyperfed.adapters.node import create_node_app, load_node_config, open_node
from hyperfed.adapters.node.guard import require_hub_signature
from hyperfed.adapters.node.pull import PullLoop
from hyperfed.adapters.node.trust import TaskVerifier, load_or_create_key, public_jwk
from hyperfed.hub.app import create_app
from hyperfed.hub.demo_datasets import datasets_toml, node_catalogue_toml
from hyperfed.hub.demo_enroll import create_accounts, enroll, sign_in_researcher
from hyperfed.hub.demo_sites import SITES, DemoSite
from hyperfed.hub.settings import load_settings

__all__ = [
    "DemoApps",
    "DemoSite",
    "Federation",
    "build_apps",
    "prepare_demo",
    "run_demo",
    "serve_all",
    "start_processes",
    "stop_processes",
]

STARTUP_SECONDS = 120.0
"""how long the demo waits for its services to answer /health."""

BUDGETS_TOML = """[budgets]                 # per researcher (MII uses 3 a minute, 50 a week)
repeat_limit = 100
repeat_window = "1d"
quotas = [{ limit = 60, window = "1m" }, { limit = 2000, window = "1w" }]
"""


def _node_url(host: str, port: int, i: int, site: DemoSite) -> str | None:
    return None if site.pull else f"http://{host}:{port + i}"


def prepare_demo(data_dir: Path, host: str, port: int) -> Path:
    """Write the demo's data, keys and configuration; return the hub config path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    hub_key = public_jwk(load_or_create_key(data_dir / "hub.key"))
    (data_dir / "hub.pub.jwk").write_text(json.dumps(hub_key, indent=2) + "\n")
    hub_url = f"http://{host}:{port}"
    policy = Policy()
    for site in SITES:
        source, options = site.write(site, data_dir)
        adapter = "".join(f"{k} = {json.dumps(v)}\n" for k, v in options.items())
        (data_dir / f"{site.id}.toml").write_text(
            f'[node]\nid = "{site.id}"\ntitle = "{site.title}"\nmodel = "{site.model}"\n'
            f'source = "{source}"\nsecret_file = "{site.id}.secret"\n'
            + node_catalogue_toml(site.id)
            + (f"\n[adapter]\n{adapter}" if adapter else "")
            + f"\n[policy]\nthreshold = {policy.threshold}\nrounding = {policy.rounding}\n"
            f"epsilon = {policy.epsilon}\n\n"
            f'[hub]\nurl = "{hub_url}"\npublic_key_file = "hub.pub.jwk"\n'
            f'key_file = "{site.id}.key"\nmode = "{"pull" if site.pull else "push"}"\n\n'
            + datasets_toml(site.id, f"{site.id}-{site.model}", site.title)
        )
    hub_toml = data_dir / "hub.toml"
    hub_toml.write_text(
        '[hub]\ndatabase = "sqlite:///hub.db"\ndeadline = 30.0\n\n'
        "[floor]\nthreshold = 10\nrounding = 10\n\n"
        '[signing]\nkey_file = "hub.key"\n\n'
        + BUDGETS_TOML
        + f'\n[catalog]\nbase_url = "{hub_url}"\nstore = "catalog"\n'
        'title = "Hyperfed demo federation catalogue"\n'
        'publisher = "Hyperfed demo"\ncontact_email = "catalogue@demo.hyperfed.example"\n\n'
        "# no [[nodes]]: the demo's nodes are registered through the registry API\n"
    )
    return hub_toml


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # one handler for all servers, below
        yield


async def serve_all(configs: list[uvicorn.Config]) -> None:
    """Serve several apps in one event loop until SIGINT/SIGTERM."""
    servers = [_Server(c) for c in configs]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for s in servers:
            s.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop)
    await asyncio.gather(*(s.serve() for s in servers))


@dataclass
class DemoApps:
    """The demo in one process (for tests): the hub app, the push nodes' apps (each
    checking the hub's signature) with their ports, the pull nodes' loops (to run), and
    what `enroll` needs once they are served."""

    hub: FastAPI
    port: int
    nodes: list[tuple[Any, int]]
    loops: list[PullLoop]
    passwords: dict[str, str]
    sites: list[tuple[DemoSite, str | None]]


def build_apps(data_dir: Path, host: str, port: int) -> DemoApps:
    """The demo's apps: the hub on `port`, push node i on `port + i`, pull nodes' loops."""
    hub_toml = prepare_demo(data_dir, host, port)
    passwords = create_accounts(hub_toml)
    hub_key = load_or_create_key(data_dir / "hub.key")
    nodes: list[tuple[Any, int]] = []
    loops: list[PullLoop] = []
    for i, site in enumerate(SITES, start=1):
        service = open_node(load_node_config(data_dir / f"{site.id}.toml"))
        verifier = TaskVerifier(public_jwk(hub_key), site.id)
        if site.pull:
            key = load_or_create_key(data_dir / f"{site.id}.key")
            loops.append(PullLoop(service, f"http://{host}:{port}", key, verifier=verifier))
        else:
            nodes.append((require_hub_signature(create_node_app(service), verifier), port + i))
    sites = [(site, _node_url(host, port, i, site)) for i, site in enumerate(SITES, start=1)]
    return DemoApps(create_app(load_settings(hub_toml)), port, nodes, loops, passwords, sites)


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "hyperfed.hub.cli", *args]


@dataclass
class Federation:
    """The demo's running services (nodes and hub, a process each) and its people."""

    hub_url: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)


def start_processes(
    data_dir: Path, host: str, port: int, console: Console | None = None
) -> Federation:
    """The demo's services, each in a process of its own (push nodes, the hub, then the
    pull nodes), its people, and every node enrolled; returns once the federation
    answers. Prepares the data first (`prepare_demo`)."""
    hub_toml = prepare_demo(data_dir, host, port)
    fed = Federation(f"http://{host}:{port}", passwords=create_accounts(hub_toml))
    sites = [(site, _node_url(host, port, i, site)) for i, site in enumerate(SITES, start=1)]
    urls: list[str] = []

    def node(i: int, site: DemoSite) -> subprocess.Popen[bytes]:
        config = str(data_dir / f"{site.id}.toml")
        return subprocess.Popen(
            _command("node", "serve", "--config", config, "--host", host, "--port", str(port + i))
        )

    try:
        for i, site in enumerate(SITES, start=1):
            if not site.pull:
                fed.procs.append(node(i, site))
                urls.append(f"http://{host}:{port + i}")
        fed.procs.append(
            subprocess.Popen(
                _command(
                    "hub", "serve", "--config", str(hub_toml), "--host", host, "--port", str(port)
                )
            )
        )
        urls.append(fed.hub_url)
        _wait_healthy(fed.procs, urls)

        def start_pull_nodes() -> None:
            for i, site in enumerate(SITES, start=1):
                if site.pull:
                    fed.procs.append(node(i, site))

        say = (lambda m: console.print(m, highlight=False)) if console else (lambda _: None)
        enroll(fed.hub_url, data_dir, fed.passwords, sites, say, start_pull_nodes)
    except BaseException:
        stop_processes(fed.procs)
        raise
    return fed


def _wait_healthy(procs: list[subprocess.Popen[bytes]], urls: list[str]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    for proc, url in zip(procs, urls, strict=True):
        while True:
            if proc.poll() is not None:
                raise SystemExit(
                    f"the demo service for {url} stopped (exit status {proc.returncode})"
                )
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"the demo service for {url} did not start in {STARTUP_SECONDS:g} s"
                )
            time.sleep(0.1)


def stop_processes(procs: list[subprocess.Popen[bytes]], grace: float = 8.0) -> None:
    """SIGTERM every process, then SIGKILL those still running after `grace` seconds."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    ends = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, ends - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_demo(host: str, port: int, data_dir: Path, console: Console) -> None:
    console.print(f"preparing demo data in {data_dir} ...")
    prepare_demo(data_dir, host, port)  # before the handlers below: Ctrl-C stops it at once
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    fed = Federation(f"http://{host}:{port}")
    try:
        fed = start_processes(data_dir, host, port, console)
        stored = sign_in_researcher(fed.hub_url, fed.passwords)
        hub = fed.hub_url
        console.print(f"\n[bold green]hub[/]   {hub}   (API docs: /docs)")
        for i, site in enumerate(SITES, start=1):
            where = "pulls its tasks" if site.pull else f"http://{host}:{port + i}"
            console.print(f"node  {where:24} {site.id}: {site.title}", highlight=False)
        console.print("\n[bold]people[/] (new passwords each run; also in credentials.json):")
        for name, password in fed.passwords.items():
            console.print(f"  {name:11} {password}", highlight=False)
        console.print(
            f"the researcher is signed in for the CLI (token in {stored})\n\n"
            f"try:  hyperfed query --hub {hub} "
            "deploy/examples/queries/gi-bleed-female-or-60.json\n"
            f'      curl -H "Authorization: Bearer $(hyperfed token --hub {hub})" {hub}/me/budget\n'
            f"      hyperfed login --hub {hub}   (as operator or admin: the sign-in page)\n"
            "stop with Ctrl-C",
            highlight=False,
        )
        while not stop.wait(0.5):
            gone = [p for p in fed.procs if p.poll() is not None]
            if gone:
                console.print(f"[red]a demo service stopped (exit status {gone[0].returncode})[/]")
                break
    finally:
        stop_processes(fed.procs)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
