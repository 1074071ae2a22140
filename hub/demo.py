"""`hyperfed demo`: a hub and a node per demo site (`hyperfed.hub.demo_sites.SITES`: OMOP,
FHIR, SDTM and DICOM data) on loopback, on embedded data.

Data and the generated configuration files (useful as examples) go to `data_dir`; data
is generated once and reused. Each node describes its dataset for the FAIR catalogue
(`hyperfed.hub.demo_datasets`: licence, DOI, keywords ...), so the demo hub publishes a
valid DCAT-AP / HealthDCAT-AP catalogue (stored in `data_dir/catalog`) at its root.

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
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI
from rich.console import Console

from hyperfed.adapters.disclosure import Policy
from hyperfed.adapters.node import create_node_app, load_node_config, open_node
from hyperfed.hub.app import create_app
from hyperfed.hub.demo_datasets import datasets_toml, node_catalogue_toml
from hyperfed.hub.demo_sites import SITES, DemoSite
from hyperfed.hub.settings import load_settings

__all__ = [
    "DemoSite",
    "build_apps",
    "prepare_demo",
    "run_demo",
    "serve_all",
    "start_processes",
    "stop_processes",
]

STARTUP_SECONDS = 120.0
"""how long the demo waits for its services to answer /health."""


def prepare_demo(data_dir: Path, host: str, port: int) -> Path:
    """Write the demo's data and configuration; return the hub config path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    policy = Policy()
    nodes_toml = []
    for i, site in enumerate(SITES, start=1):
        source, options = site.write(site, data_dir)
        adapter = "".join(f"{k} = {json.dumps(v)}\n" for k, v in options.items())
        (data_dir / f"{site.id}.toml").write_text(
            f'[node]\nid = "{site.id}"\ntitle = "{site.title}"\nmodel = "{site.model}"\n'
            f'source = "{source}"\nsecret_file = "{site.id}.secret"\n'
            + node_catalogue_toml(site.id)
            + (f"\n[adapter]\n{adapter}" if adapter else "")
            + f"\n[policy]\nthreshold = {policy.threshold}\nrounding = {policy.rounding}\n"
            f"epsilon = {policy.epsilon}\n\n"
            + datasets_toml(site.id, f"{site.id}-{site.model}", site.title)
        )
        nodes_toml.append(
            f'[[nodes]]\nid = "{site.id}"\nurl = "http://{host}:{port + i}"\n'
            f'model = "{site.model}"\ntitle = "{site.title}"\n'
        )
    hub_toml = data_dir / "hub.toml"
    hub_toml.write_text(
        '[hub]\ndatabase = "sqlite:///hub.db"\ndeadline = 30.0\n\n'
        "[floor]\nthreshold = 10\nrounding = 10\n\n"
        f'[catalog]\nbase_url = "http://{host}:{port}"\nstore = "catalog"\n'
        'title = "Hyperfed demo federation catalogue"\n'
        'publisher = "Hyperfed demo"\ncontact_email = "catalogue@demo.hyperfed.example"\n\n'
        + "\n".join(nodes_toml)
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


def build_apps(data_dir: Path, host: str, port: int) -> list[tuple[FastAPI, int]]:
    """The demo's apps and their ports: the hub on `port`, node i on `port + i`."""
    hub_toml = prepare_demo(data_dir, host, port)
    apps = [(create_app(load_settings(hub_toml)), port)]
    for i, site in enumerate(SITES, start=1):
        service = open_node(load_node_config(data_dir / f"{site.id}.toml"))
        apps.append((create_node_app(service), port + i))
    return apps


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "hyperfed.hub.cli", *args]


def start_processes(data_dir: Path, host: str, port: int) -> list[subprocess.Popen[bytes]]:
    """The demo's services, each in a process of its own (nodes first, then the hub);
    returns once every one answers /health. Prepares the data first (`prepare_demo`)."""
    hub_toml = prepare_demo(data_dir, host, port)
    procs: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for i, site in enumerate(SITES, start=1):
            config = str(data_dir / f"{site.id}.toml")
            procs.append(
                subprocess.Popen(
                    _command(
                        "node", "serve", "--config", config, "--host", host, "--port", str(port + i)
                    )
                )
            )
            urls.append(f"http://{host}:{port + i}")
        procs.append(
            subprocess.Popen(
                _command(
                    "hub", "serve", "--config", str(hub_toml), "--host", host, "--port", str(port)
                )
            )
        )
        urls.append(f"http://{host}:{port}")
        _wait_healthy(procs, urls)
    except BaseException:
        stop_processes(procs)
        raise
    return procs


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
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs = start_processes(data_dir, host, port)
        console.print(f"[bold green]hub[/]   http://{host}:{port}   (API docs: /docs)")
        for i, site in enumerate(SITES, start=1):
            console.print(f"node  http://{host}:{port + i}   {site.id}: {site.title}")
        console.print(
            "\ntry:  hyperfed query --hub "
            f"http://{host}:{port} deploy/examples/queries/gi-bleed-female-or-60.json\n"
            "stop with Ctrl-C"
        )
        while not stop.wait(0.5):
            gone = [p for p in procs if p.poll() is not None]
            if gone:
                console.print(f"[red]a demo service stopped (exit status {gone[0].returncode})[/]")
                break
    finally:
        stop_processes(procs)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
