"""The hub and a node as real processes (`hyperfed hub serve`, `hyperfed node serve`), as
operators run them: SIGTERM ends each within a few seconds even with requests in flight,
and a heavy query never stalls the hub's other requests."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from tests.identity import hub_bearer
from tests.processes import kill, start, stop_time, wait_healthy
from tests.servers import free_port

SNOMED = "http://snomed.info/sct"
STOP_WITHIN = 6.0  # seconds: "a few"


def _hub_toml(base: Path, port: int, deadline: int, nodes: str) -> Path:
    """A hub config whose built-in issuer is the hub's own URL (its tokens are valid
    there), with its database in `base` (the test opens it to make accounts)."""
    config = base / "hub.toml"
    config.write_text(
        f'[hub]\ndatabase = "sqlite:///{base / "hub.db"}"\ndeadline = {deadline}\n\n'
        f'[identity]\nissuer = "http://127.0.0.1:{port}"\n\n' + nodes
    )
    return config


@pytest.fixture()
def silent_node() -> Iterator[str]:
    """A TCP listener that accepts connections and never answers (a hung node)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                accepted.append(conn)
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        for c in accepted:
            c.close()
        sock.close()


def _node_config(base: Path, eunomia_path: Path) -> Path:
    config = base / "node.toml"
    config.write_text(
        '[node]\nid = "eunomia"\nmodel = "omop"\n'
        f'source = "duckdb://{eunomia_path}"\nsecret_file = "node.secret"\n'
    )
    return config


def test_sigterm_stops_a_hub_with_a_query_in_flight(tmp_path: Path, silent_node: str) -> None:
    port = free_port()
    config = _hub_toml(
        tmp_path, port, 120, f'[[nodes]]\nid = "hung"\nurl = "{silent_node}"\nmodel = "omop"\n'
    )
    hub = start(tmp_path / "hub.log", "hub", "serve", "--config", str(config), "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(hub, url)
        researcher = hub_bearer(url, f"sqlite:///{tmp_path / 'hub.db'}")
        query = {"hql": "1", "criteria": {"concept": "hf:Female"}}
        answered: list[int] = []

        def ask() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the hub goes away meanwhile
                r = httpx.post(f"{url}/queries", json=query, headers=researcher, timeout=60)
                answered.append(r.status_code)

        asker = threading.Thread(target=ask, daemon=True)
        asker.start()
        time.sleep(1.0)  # the query now waits for the hung node
        assert hub.poll() is None
        assert answered == [], f"the query did not wait for the hung node: {answered}"
        took = stop_time(hub)
        assert took < STOP_WITHIN, took
        asker.join(timeout=5)
    finally:
        kill(hub)


def test_sigterm_stops_a_node_with_a_request_in_flight(tmp_path: Path, eunomia_path: Path) -> None:
    port = free_port()
    config = str(_node_config(tmp_path, eunomia_path))
    node = start(tmp_path / "node.log", "node", "serve", "--config", config, "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(node, url)
        # a client that announced a body and sends it slowly keeps a request in flight
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(
                b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 1000\r\n\r\n{"query": '
            )
            time.sleep(0.5)
            took = stop_time(node)
        assert took < STOP_WITHIN, took
    finally:
        kill(node)


def _snomed_codes(path: Path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute("SELECT concept_code FROM concept WHERE vocabulary_id = 'SNOMED'")
        return [str(r[0]) for r in rows.fetchall()]


def test_health_answers_promptly_during_a_5000_code_query(
    tmp_path: Path, eunomia_path: Path
) -> None:
    node_port, hub_port = free_port(), free_port()
    node = start(
        tmp_path / "node.log",
        "node",
        "serve",
        "--config",
        str(_node_config(tmp_path, eunomia_path)),
        "--port",
        str(node_port),
    )
    config = _hub_toml(
        tmp_path,
        hub_port,
        60,
        f'[[nodes]]\nid = "eunomia"\nurl = "http://127.0.0.1:{node_port}"\nmodel = "omop"\n',
    )
    hub = start(
        tmp_path / "hub.log", "hub", "serve", "--config", str(config), "--port", str(hub_port)
    )
    url = f"http://127.0.0.1:{hub_port}"
    try:
        wait_healthy(node, f"http://127.0.0.1:{node_port}")
        wait_healthy(hub, url)
        researcher = hub_bearer(url, f"sqlite:///{tmp_path / 'hub.db'}")
        real = _snomed_codes(eunomia_path)
        codes = real + [str(10**9 + i) for i in range(5000 - len(real))]
        query = {
            "hql": "1",
            "as_of": "2020-01-01",
            "criteria": {"any": [{"code": {"system": SNOMED, "code": c}} for c in codes]},
        }
        answer: dict[str, Any] = {}

        def ask() -> None:
            r = httpx.post(
                f"{url}/queries",
                content=json.dumps(query).encode(),
                headers={**researcher, "content-type": "application/json"},
                timeout=120,
            )
            answer["status"] = r.status_code
            answer["body"] = r.json()

        asker = threading.Thread(target=ask)
        asker.start()
        latencies = []
        while asker.is_alive():
            started = time.monotonic()
            r = httpx.get(f"{url}/health", timeout=10)
            latencies.append(time.monotonic() - started)
            assert r.status_code == 200
            time.sleep(0.02)
        asker.join()
        assert latencies, "the query ended before /health was asked"
        assert max(latencies) < 1.0, max(latencies)
        assert answer["status"] == 200, answer
        assert answer["body"]["nodes"][0]["status"] == "ok", answer["body"]["nodes"]
    finally:
        kill(hub)
        kill(node)


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_the_demo_runs_each_service_in_its_own_process_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    from hyperfed.hub.auth.cli import sign_in
    from hyperfed.hub.demo import SITES

    services_expected = len(SITES) + 1  # every node and the hub, one process each
    port = free_port()
    while any(_in_use(port + i) for i in range(1, services_expected)):
        port = free_port()
    home = tmp_path / "home"  # where the demo stores the researcher's token for the CLI
    demo = start(
        tmp_path / "demo.log",
        "demo",
        "--data-dir",
        str(tmp_path / "demo"),
        "--port",
        str(port),
        env={"HYPERFED_HOME": str(home)},
    )
    hub = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(demo, hub, timeout=240)
        for i, site in enumerate(SITES, start=1):
            if not site.pull:  # a pull node has no port: it only connects outward
                wait_healthy(demo, f"http://127.0.0.1:{port + i}", timeout=240)
        # every node is enrolled once the demo has stored the researcher's token
        deadline = time.monotonic() + 240
        while not (home / "tokens.json").exists():
            assert demo.poll() is None, f"the demo exited with status {demo.returncode}"
            assert time.monotonic() < deadline, "the demo did not finish enrolling its nodes"
            time.sleep(0.2)
        services = _children(demo.pid)
        assert len(services) == services_expected, services
        passwords = json.loads((tmp_path / "demo" / "credentials.json").read_text())
        token = sign_in(hub, username="researcher", password=passwords["researcher"])
        researcher = {"Authorization": f"Bearer {token['access_token']}"}
        example = Path(__file__).resolve().parents[2] / "deploy/examples/queries"
        query = json.loads((example / "gi-bleed-female-or-60.json").read_text())
        assert httpx.post(f"{hub}/queries", json=query, timeout=60).status_code == 401
        r = httpx.post(f"{hub}/queries", json=query, headers=researcher, timeout=60)
        assert r.status_code == 200 and len(r.json()["nodes"]) == len(SITES), r.text
        took = stop_time(demo)
        assert took < STOP_WITHIN + 2, took
        for pid in services:
            assert not Path(f"/proc/{pid}").exists() or "zombie" in _state(pid), pid
    finally:
        kill(demo)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except FileNotFoundError:
        return "zombie"


def _in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
