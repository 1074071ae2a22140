"""The refresher asks a node again soon when its catalogue could not be fetched (a node still
loading its data when the hub starts), instead of waiting for the next scheduled refresh."""

from __future__ import annotations

import asyncio
import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest

from hyperfed.catalog import refresh as refresh_module


class _Report:
    def as_dict(self) -> dict[str, Any]:
        return {"datasets": 1}


class _Catalog:
    """The little of a Catalog the schedule uses (publishing itself is tested elsewhere)."""

    def __init__(self) -> None:
        self.settings = SimpleNamespace(
            refresh_concurrency=2,
            refresh_interval=3600.0,
            fdp_index_url=None,
            fdp_ping_interval=86400.0,
        )
        self.status: dict[str, Any] = {}
        self.published: list[str] = []

    def clock(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    async def publish(self, node: str, publication: Any) -> _Report:
        self.published.append(node)
        return _Report()


def test_an_unreachable_node_is_retried_with_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(refresh_module, "RETRY_FIRST", 0.01)
    catalog = _Catalog()
    calls = {"slow": 0, "ready": 0}

    async def fetch(node: str) -> Any:
        calls[node] += 1
        if node == "slow" and calls[node] < 3:
            raise ConnectionError("not listening yet")
        return refresh_module.NodePublication.model_construct()

    async def main() -> None:
        refresher = refresh_module.Refresher(catalog, fetch, ["slow", "ready"])  # type: ignore[arg-type]
        task = refresher.start()
        for _ in range(200):
            if "slow" in catalog.published:
                break
            await asyncio.sleep(0.01)
        await refresher.stop()
        assert task.done()

    asyncio.run(main())
    assert catalog.published.count("ready") == 1  # the healthy node is not asked again
    assert catalog.published.count("slow") == 1 and calls["slow"] == 3
