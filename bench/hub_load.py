"""Hub under load: throughput and latency at concurrency 1, 8 and 32, against the nodes
asked directly.

The demo federation as it really runs: the hub and its nodes (`hyperfed.hub.demo.SITES`),
each a process of its own on this machine, every node enrolled through the registry
(`hyperfed.hub.demo.start_processes`). Clients in this process send the same feasibility
query (`deploy/examples/queries/gi-bleed-female-or-60.json`) from C concurrent workers, as
many researchers (service accounts made for this run, `RESEARCHERS` of them, taking turns):
the demo's budgets (60 queries a minute, 100 repeats a day per researcher) would refuse
one researcher's load with 429 after a minute.

- **hub**: `POST /queries` to the hub (sign-in check, validation, resolution, fan-out to
  every node, re-protection, totals, the job and audit write);
- **baseline** (measured in the same run, just before): the `POST /count` requests the hub
  would send to its push nodes, signed with the hub's task key as the hub signs them, sent
  by the client straight to the nodes, all at once per query — the work on the nodes
  without the hub (a pull node only fetches its tasks from the hub: it has no baseline).

It prints queries per second, p50 and p99 of both, and the hub's ratio to the baseline.
The goal: concurrency no longer multiplies the hub's latency beyond what the nodes
themselves take (a ratio that stays near 1 as C grows). Today's figures before the
hardening (issue 6), from the same set-up: 22 q/s; p50 30 / 366 / 1,645 ms and p99
185 / 529 / 3,901 ms at C = 1 / 8 / 32.

    python -m bench.hub_load [--requests 200] [--data-dir .hyperfed/bench/hub_load]

The demo data are generated on the first run (about a minute) and reused.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from hyperfed.adapters.node.trust import load_or_create_key
from hyperfed.adapters.protocol import CountRequest
from hyperfed.hub.demo import SITES, start_processes, stop_processes
from hyperfed.hub.prepare import prepare
from hyperfed.hub.settings import load_settings
from hyperfed.hub.signing import TaskSigner
from hyperfed.ontology import Ontology
from tests.identity import hub_bearer
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
QUERY = json.loads((ROOT / "deploy/examples/queries/gi-bleed-female-or-60.json").read_text())
LEVELS = (1, 8, 32)
ANSWERED = ("ok", "suppressed", "unsupported")
RESEARCHERS = 64
"""a node's real answer (small counts are suppressed; an imaging node has no diagnoses)."""
BEFORE = {1: (30, 185), 8: (366, 529), 32: (1645, 3901)}  # issue 6: p50, p99 in ms


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


FAILURES: list[str] = []


async def _load(
    one: Callable[[], Awaitable[None]], concurrency: int, total: int
) -> tuple[float, list[float]]:
    """Run `one` `total` times from `concurrency` workers; (queries/s, latencies in ms).
    A failed query is timed like the others and recorded in FAILURES."""
    latencies: list[float] = []
    left = total

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            started = time.perf_counter()
            try:
                await one()
            except (RuntimeError, httpx.HTTPError) as exc:
                FAILURES.append(f"{type(exc).__name__}: {str(exc)[:200]}")
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    return total / (time.perf_counter() - started), latencies


async def _measure(
    hub: str,
    researchers: list[dict[str, str]],
    node_bodies: list[tuple[str, str, bytes]],
    signer: TaskSigner,
    deadline: float,
    total: int,
) -> None:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    headers = {"content-type": "application/json"}
    turns = itertools.cycle(researchers)
    query = json.dumps(QUERY).encode()
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:

        async def via_hub() -> None:
            r = await client.post(
                f"{hub}/queries", content=query, headers={**headers, **next(turns)}
            )
            if r.status_code != 200:
                raise RuntimeError(f"hub answered {r.status_code}: {r.text[:300]}")
            bad = [(n["node"], n["status"], n["error"]) for n in r.json()["nodes"]]
            bad = [b for b in bad if b[1] not in ANSWERED]
            if bad:
                raise RuntimeError(f"hub: nodes not ok: {bad}")

        async def direct() -> None:
            replies = await asyncio.gather(
                *[
                    client.post(
                        f"{u}/count",
                        content=b,
                        headers={**headers, **signer.headers(node, "count", b, deadline)},
                    )
                    for node, u, b in node_bodies
                ]
            )
            for r in replies:
                if r.status_code != 200 or r.json()["status"] not in ANSWERED:
                    raise RuntimeError(f"node answered {r.status_code}: {r.text[:300]}")

        for warm in (via_hub, direct):  # connections, caches, first compiles
            for _ in range(5):
                await warm()
        print(
            f"{'C':>3} | {'hub q/s':>8} {'p50 ms':>8} {'p99 ms':>8} | {'direct q/s':>10} "
            f"{'p50 ms':>8} {'p99 ms':>8} | {'p50 x':>6} {'p99 x':>6} | before: p50 p99 ms"
        )
        for c in LEVELS:
            n = max(total, 4 * c)
            base_qps, base = await _load(direct, c, n)
            hub_qps, lat = await _load(via_hub, c, n)
            b50, b99 = _pct(base, 0.5), _pct(base, 0.99)
            h50, h99 = _pct(lat, 0.5), _pct(lat, 0.99)
            print(
                f"{c:>3} | {hub_qps:>8.1f} {h50:>8.1f} {h99:>8.1f} | {base_qps:>10.1f} "
                f"{b50:>8.1f} {b99:>8.1f} | {h50 / b50:>6.2f} {h99 / b99:>6.2f} | "
                f"{BEFORE[c][0]:>5} {BEFORE[c][1]:>5}"
            )
        print(f"(mean hub latency at C={LEVELS[-1]}: {statistics.mean(lat):.1f} ms, {n} queries)")
        print(f"failed queries: {len(FAILURES)}")
        for f in sorted(set(FAILURES))[:10]:
            print(f"  {f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="queries per level and side")
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".hyperfed/bench/hub_load")
    args = parser.parse_args()
    port = free_port()
    while any(_busy(port + i) for i in range(1, len(SITES) + 1)):
        port = free_port()
    print(f"starting the hub and {len(SITES)} nodes, each in its own process ...")
    fed = start_processes(args.data_dir, "127.0.0.1", port)
    try:
        settings = load_settings(args.data_dir / "hub.toml")
        run = secrets.token_hex(4)
        researchers = [
            hub_bearer(fed.hub_url, settings.database, f"bench-{run}-{i}", ["researcher"])
            for i in range(RESEARCHERS)
        ]
        assert settings.signing.key_file is not None, "the demo hub signs its tasks"
        signer = TaskSigner(load_or_create_key(settings.signing.key_file), settings.identity.issuer)
        push = [(i, site) for i, site in enumerate(SITES, start=1) if not site.pull]
        prepared = prepare(QUERY, Ontology.load(), {s.model for _, s in push}, dt.date.today())
        bodies = [
            (
                site.id,
                f"http://127.0.0.1:{port + i}",
                CountRequest(
                    query=prepared.query,
                    bindings=prepared.bindings[site.model],
                    deadline_ms=int(settings.deadline * 1000),
                )
                .model_dump_json(by_alias=True, exclude_none=True)
                .encode(),
            )
            for i, site in push
        ]
        asyncio.run(
            _measure(fed.hub_url, researchers, bodies, signer, settings.deadline, args.requests)
        )
    finally:
        stop_processes(fed.procs)


def _busy(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


if __name__ == "__main__":
    main()
