"""The demo's people and its nodes' enrolment, as a real federation does them.

`create_accounts(hub_toml)` makes three people in the hub's database — `researcher`,
`operator` and `admin`, each with that one role and a fresh random password every run —
and writes them to `credentials.json` (mode 0600) beside the config. `enroll(hub_url,
data_dir, passwords)` then registers every demo node through the registry API as the
operator (its public key, push with its URL or pull), asks it for its capabilities (the
handshake) and approves it as the admin, then refreshes the catalogue (so the demo
publishes every node's dataset at once); a node registered by an earlier run is kept
(re-registered if its URL, mode or key changed). `sign_in_researcher` stores the researcher's token
where `hyperfed query --hub URL` and `hyperfed token --hub URL` find it.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from hyperfed.adapters.node.trust import load_or_create_key, public_jwk
from hyperfed.hub.auth.cli import login, sign_in
from hyperfed.hub.auth.setup import create_user
from hyperfed.hub.db import HubStore
from hyperfed.hub.demo_sites import DemoSite
from hyperfed.hub.errors import HubError
from hyperfed.hub.settings import load_settings

__all__ = ["DEMO_PEOPLE", "DemoError", "create_accounts", "enroll", "sign_in_researcher"]

DEMO_PEOPLE: dict[str, tuple[str, ...]] = {
    "researcher": ("researcher",),
    "operator": ("operator",),
    "admin": ("admin",),
}
HANDSHAKE_SECONDS = 90.0
"""how long enrolment keeps asking a node that is not answering yet (a pull node that has
not connected, a node still loading its data)."""


class DemoError(HubError):
    """The demo could not set itself up (the message says which step)."""


def create_accounts(hub_toml: Path) -> dict[str, str]:
    """The demo's people, with new passwords (also in `credentials.json`, mode 0600)."""
    passwords = {name: secrets.token_urlsafe(9) for name in DEMO_PEOPLE}
    store = HubStore(load_settings(hub_toml).database, interrupt=False)
    try:
        for name, roles in DEMO_PEOPLE.items():
            create_user(store, name, roles, passwords[name], name=f"Demo {name}", actor="demo")
    finally:
        store.close()
    path = hub_toml.parent / "credentials.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(passwords, f, indent=2)
    return passwords


def _bearer(hub_url: str, user: str, password: str) -> dict[str, str]:
    token = sign_in(hub_url, username=user, password=password)["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _registration(site: DemoSite, data_dir: Path, url: str | None) -> dict[str, Any]:
    key = public_jwk(load_or_create_key(data_dir / f"{site.id}.key"))
    body: dict[str, Any] = {
        "id": site.id,
        "model": site.model,
        "title": site.title,
        "mode": "pull" if url is None else "push",
        "public_key": key,
    }
    if url is not None:
        body["url"] = url
    return body


def _check(r: httpx.Response, step: str) -> dict[str, Any]:
    if r.status_code >= 400:
        detail = r.json().get("detail", r.text) if r.content else r.status_code
        raise DemoError(f"{step}: HTTP {r.status_code}: {detail}")
    return r.json() if r.content else {}


def enroll(
    hub_url: str,
    data_dir: Path,
    passwords: dict[str, str],
    sites: Sequence[tuple[DemoSite, str | None]],
    say: Callable[[str], None] = lambda _: None,
    registered: Callable[[], None] = lambda: None,
) -> None:
    """Register each (site, its URL or None for pull mode) as the operator; then
    `registered()` (start the pull nodes now: they may sign in once registered); then
    handshake each and approve it as the admin."""
    operator = _bearer(hub_url, "operator", passwords["operator"])
    admin = _bearer(hub_url, "admin", passwords["admin"])
    with httpx.Client(base_url=hub_url, timeout=60) as client:
        pending = [s for s, url in sites if _register(client, operator, s, data_dir, url)]
        registered()
        for site in pending:
            _handshake(client, site.id, operator)
            _check(client.post(f"/registry/nodes/{site.id}/approve", headers=admin), "approve")
            say(f"enrolled {site.id} ({'pull' if site.pull else 'push'})")
        if sites:  # publish the enrolled nodes' datasets now, as an admin would
            r = client.post("/catalog/_refresh", headers=admin, timeout=300)
            failed = sorted(n for n, x in r.json().get("nodes", {}).items() if not x.get("ok"))
            say(
                "catalogue refreshed" + (f" (not published: {', '.join(failed)})" if failed else "")
            )


def _register(
    client: httpx.Client,
    operator: dict[str, str],
    site: DemoSite,
    data_dir: Path,
    url: str | None,
) -> bool:
    """Register the site (or keep an earlier run's registration); whether it still needs
    its handshake and approval."""
    body = _registration(site, data_dir, url)
    r = client.post("/registry/nodes", json=body, headers=operator)
    if r.status_code == 409:
        row = _check(client.get(f"/registry/nodes/{site.id}", headers=operator), site.id)
        same = row.get("url") == body.get("url") and row.get("mode") == body["mode"]
        same = same and row.get("public_key", {}).get("x") == body["public_key"]["x"]
        if same:
            return bool(row["status"] != "approved")
        _check(client.delete(f"/registry/nodes/{site.id}", headers=operator), "remove")
        r = client.post("/registry/nodes", json=body, headers=operator)
    _check(r, f"registering {site.id}")
    return True


def _handshake(client: httpx.Client, node_id: str, operator: dict[str, str]) -> None:
    ends = time.monotonic() + HANDSHAKE_SECONDS
    while True:
        r = client.post(f"/registry/nodes/{node_id}/handshake", headers=operator)
        if r.status_code != 502 or time.monotonic() > ends:
            _check(r, f"the handshake with {node_id}")
            return
        time.sleep(0.5)


def sign_in_researcher(hub_url: str, passwords: dict[str, str]) -> Path:
    """Store the researcher's token for the CLI (`$HYPERFED_HOME/tokens.json`)."""
    return login(hub_url, username="researcher", password=passwords["researcher"])
