"""Signing in for tests: service accounts made in a hub's own store and their tokens from
the hub's real token endpoint (client-credentials grant)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from hyperfed.hub.auth.setup import create_service_account

__all__ = ["bearer", "hub_bearer"]


def bearer(hub_url: str, store: Any, client_id: str, roles: Sequence[str]) -> dict[str, str]:
    """`Authorization` headers of a new service account with `roles` (a `HubStore`)."""
    secret = create_service_account(store, client_id, list(roles))
    r = httpx.post(
        f"{hub_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def hub_bearer(
    hub_url: str, database: str, client_id: str = "test-researcher", roles: Sequence[str] = ()
) -> dict[str, str]:
    """The same for a hub running in another process, through its database URL."""
    from hyperfed.hub.db import HubStore

    store = HubStore(database, interrupt=False)
    try:
        return bearer(hub_url, store, client_id, roles or ["researcher"])
    finally:
        store.close()
