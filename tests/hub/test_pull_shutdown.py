"""A hub stopping with pull nodes waiting for tasks: their long polls end at once (204)
and the hub process ends within seconds, with no request cancelled mid-way."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from joserfc.jwk import OKPKey

from hyperfed.adapters.node.trust import node_assertion, public_jwk
from tests.servers import free_port


def test_sigterm_ends_the_long_polls_of_pull_nodes(tmp_path: Path) -> None:
    key = OKPKey.generate_key("Ed25519")
    (tmp_path / "n1.jwk").write_text(json.dumps(public_jwk(key)))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    (tmp_path / "hub.toml").write_text(
        f'[hub]\ndatabase = "sqlite:///hub.db"\n\n[identity]\nissuer = "{url}"\n\n'
        '[[nodes]]\nid = "n1"\nmode = "pull"\npublic_key_file = "n1.jwk"\n'
    )
    hub = subprocess.Popen(
        [sys.executable, "-m", "hyperfed.hub.cli", "hub", "serve", "--config",
         str(tmp_path / "hub.toml"), "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and hub.poll() is None, "the hub did not start"
            time.sleep(0.1)
        polls: list[int] = []

        def poll() -> None:
            while True:  # tasks (the catalogue refresher asks at start) are left unanswered
                token = node_assertion(key, "n1", "hyperfed-hub")
                r = httpx.get(
                    f"{url}/pull/n1/tasks",
                    params={"wait": 25},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=40,
                )
                if r.status_code != 200:
                    polls.append(r.status_code)
                    return

        pollers = [threading.Thread(target=poll) for _ in range(3)]
        for t in pollers:
            t.start()
        time.sleep(1.0)  # the polls are waiting in the hub
        assert polls == []
        stopped = time.monotonic()
        hub.send_signal(signal.SIGTERM)
        hub.wait(timeout=15)
        took = time.monotonic() - stopped
        for t in pollers:
            t.join(10)
        assert polls == [204, 204, 204]
        assert took < 10, f"the hub took {took:.1f} s to stop"
        _, err = hub.communicate(timeout=5)
        assert "Exception in ASGI application" not in err, err
        assert hub.returncode == 0, err
    finally:
        if hub.poll() is None:
            hub.kill()
            hub.wait()
