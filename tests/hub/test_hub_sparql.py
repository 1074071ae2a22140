"""The hub's SPARQL endpoints (`/sparql` over catalogue and ontology, `/ontology/sparql`)
through the hub's pool of guarded workers, with the catalogue's limits, and their errors
as problem+json by status: too large 400, refused 400, timed out 503 with Retry-After."""

from __future__ import annotations

import httpx
import pytest

from hyperfed.catalog import CatalogSettings
from hyperfed.hub.app import create_app
from hyperfed.hub.settings import HubSettings
from tests.servers import free_port, serve

CROSS = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


@pytest.mark.parametrize("path", ["/ontology/sparql", "/sparql"])
def test_limits_and_errors_by_status(path: str) -> None:
    port = free_port()
    catalog = CatalogSettings(
        base_url=f"http://127.0.0.1:{port}", sparql_timeout=0.5, sparql_max_results=5
    )
    with serve(create_app(HubSettings(catalog=catalog)), port) as url:
        ok = httpx.get(url + path, params={"query": "ASK { ?s ?p ?o }"}, timeout=60)
        assert ok.status_code == 200 and ok.json()["boolean"] is True
        big = httpx.get(url + path, params={"query": "SELECT * { ?s ?p ?o }"}, timeout=60)
        assert big.status_code == 400 and "LIMIT" in big.json()["detail"]
        assert big.headers["content-type"].startswith("application/problem+json")
        update = httpx.post(
            url + path,
            content=b"INSERT DATA { <urn:a> <urn:b> <urn:c> }",
            headers={"content-type": "application/sparql-query"},
            timeout=60,
        )
        assert update.status_code == 400
        slow = httpx.get(url + path, params={"query": CROSS}, timeout=60)
        assert slow.status_code == 503 and slow.headers["retry-after"] == "5"
        assert "0.5 s" in slow.json()["detail"]
        again = httpx.get(url + path, params={"query": "ASK { ?s ?p ?o }"}, timeout=60)
        assert again.status_code == 200  # the stopped worker was replaced
