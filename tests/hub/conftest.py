"""Hub tests' fixtures: the hub store on both databases (SQLite file, throwaway PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hyperfed.hub.db import HubStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    pg_database: Callable[[str], str] = request.getfixturevalue("pg_database")
    return pg_database("hubstore")


@pytest.fixture
def store(store_url: str) -> Iterator[HubStore]:
    s = HubStore(store_url)
    yield s
    s.close()
