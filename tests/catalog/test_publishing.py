"""Publishing: validation (422 with every violation, nothing stored), the last valid
version stays published, change tracking, persistence across restarts, refresh over real
HTTP from a node, the FDP index ping."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from hyperfed.catalog import (
    Catalog,
    ContactPoint,
    DatasetDescription,
    DatasetEntry,
    DescriptionInvalid,
    NodeInfo,
    NodePublication,
    Refresher,
    ShaclViolations,
    ping_fdp_index,
)
from hyperfed.catalog.formats import turtle_body
from hyperfed.catalog.publish import docs_from_cache
from tests.catalog.conftest import make_app, settings_for
from tests.catalog.samples import federation
from tests.servers import free_port, serve


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, days: int = 1) -> None:
        self.now += dt.timedelta(days=days)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def catalog(tmp_path: Path, clock: Clock) -> Iterator[Catalog]:
    c = Catalog(settings_for(8999, tmp_path / "store"), clock=clock)
    yield c
    c.close()


def site_a() -> NodePublication:
    return federation()[0]


def broken(pub: NodePublication) -> NodePublication:
    """The same node, but a dataset without health category or contact point."""
    bad = DatasetDescription(id="bad", title="No category", description="Missing things.")
    node = pub.node.model_copy(update={"contact": None})
    return NodePublication(node=node, datasets=[*pub.datasets, DatasetEntry(description=bad)])


def test_violations_are_listed_and_nothing_is_stored(catalog: Catalog) -> None:
    pub = site_a()
    catalog.publish_blocking("site-a", pub)
    before = catalog.store.triples("urn:hyperfed:catalog:node:site-a")
    page_before = catalog.page(None, __import__("hyperfed.catalog").catalog.PageRequest()).lines
    with pytest.raises(ShaclViolations) as caught:
        catalog.publish_blocking("site-a", broken(pub))
    problems = caught.value.problems
    bad = "http://127.0.0.1:8999/catalog/site-a/dataset/bad"
    paths = {(p.focus, p.path) for p in problems}
    assert (bad, "http://healthdataportal.eu/ns/health#healthCategory") in paths
    assert (bad, "http://www.w3.org/ns/dcat#contactPoint") in paths
    assert all(p.message and p.severity == "Violation" for p in problems)
    assert catalog.store.triples("urn:hyperfed:catalog:node:site-a") == before
    from hyperfed.catalog import PageRequest

    assert catalog.page(None, PageRequest()).lines == page_before
    with pytest.raises(Exception, match="no dataset"):
        catalog.record("site-a", "bad")


def test_refresh_endpoint_answers_422_and_keeps_the_last_version(tmp_path: Path) -> None:
    port = free_port()
    catalog = Catalog(settings_for(port, tmp_path / "store"))
    current = {"pub": site_a()}

    async def fetch(node: str) -> NodePublication:
        return current["pub"]

    refresher = Refresher(catalog, fetch, ["site-a"])
    try:
        with serve(make_app(catalog, refresher), port) as url:
            ok = httpx.post(f"{url}/catalog/_refresh/site-a")
            assert ok.status_code == 200, ok.text
            assert ok.json()["datasets"] == {"published": 5, "private": 1}
            good = httpx.get(f"{url}/catalog/site-a/dataset/cohort-0").content
            current["pub"] = broken(site_a())
            r = httpx.post(f"{url}/catalog/_refresh/site-a")
            assert r.status_code == 422
            body = r.json()
            assert body["type"] == "about:blank"
            assert {"focus", "path", "message"} <= set(body["errors"][0])
            assert any(e["focus"].endswith("/dataset/bad") for e in body["errors"])
            assert httpx.get(f"{url}/catalog/site-a/dataset/bad").status_code == 404
            assert httpx.get(f"{url}/catalog/site-a/dataset/cohort-0").content == good
            status = httpx.get(f"{url}/catalog/_status").json()["nodes"]
            assert status[0]["ok"] is False and status[0]["problems"]
            assert httpx.post(f"{url}/catalog/_refresh/nobody").status_code == 422
    finally:
        catalog.close()


def test_unreadable_publications_name_the_entry(tmp_path: Path) -> None:
    port = free_port()
    catalog = Catalog(settings_for(port, None))

    async def fetch(node: str) -> dict[str, Any]:
        return {"node": {"id": "n", "title": "N"}, "datasets": [{"description": {"id": "x"}}]}

    try:
        with serve(make_app(catalog, Refresher(catalog, fetch, ["n"])), port) as url:
            r = httpx.post(f"{url}/catalog/_refresh/n")
            assert r.status_code == 422
            focus = {e["focus"] for e in r.json()["errors"]}
            assert "datasets.0.description.fields.title" in focus
            v = httpx.post(f"{url}/catalog/_validate", content=b'{"node": {"id": "n"}}')
            assert v.status_code == 422 and v.json()["errors"][0]["focus"] == "node.title"
            good = site_a().model_dump_json()
            assert httpx.post(f"{url}/catalog/_validate", content=good).json()["valid"] is True
            assert httpx.get(f"{url}/catalog/site-a").status_code == 404  # stored nothing
    finally:
        catalog.close()


def test_unchanged_refresh_keeps_dates_and_bytes(catalog: Catalog, clock: Clock) -> None:
    catalog.publish_blocking("site-a", site_a())
    first = {r.id: (r.modified, r.lines) for r in catalog.records("site-a")}
    clock.tick(3)
    catalog.publish_blocking("site-a", site_a())
    again = {r.id: (r.modified, r.lines) for r in catalog.records("site-a")}
    assert again == first
    changed = site_a()
    entry = changed.datasets[1]
    new = entry.description.model_copy(update={"title": "Site A cohort 1, revised"})
    changed.datasets[1] = entry.model_copy(update={"description": new})
    catalog.publish_blocking("site-a", changed)
    after = {r.id: r.modified for r in catalog.records("site-a")}
    assert after["cohort-1"] == clock.now
    assert after["cohort-0"] == first["cohort-0"][0]
    assert catalog.record("site-a", "cohort-0").issued == dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
    assert catalog._nodes["site-a"].modified == clock.now


def test_the_catalogue_survives_a_restart(tmp_path: Path, clock: Clock) -> None:
    settings = settings_for(8999, tmp_path / "store")
    first = Catalog(settings, clock=clock)
    for pub in federation():
        first.publish_blocking(pub.node.id, pub)
    docs = {r.iri: r.lines for r in first.records()}
    root = first._root_head
    private = set(first._nodes["site-b"].private)
    first.close()
    del first
    second = Catalog(settings, clock=clock)
    try:
        assert {r.iri: r.lines for r in second.records()} == docs
        assert second._root_head == root
        assert set(second._nodes["site-b"].private) == private
        assert second.started == clock.now
    finally:
        second.close()


def test_removing_a_node(catalog: Catalog) -> None:
    for pub in federation():
        catalog.publish_blocking(pub.node.id, pub)
    catalog.remove_blocking("site-b")
    assert {r.node for r in catalog.records()} == {"site-a", "imaging-c"}
    assert "site-b" not in catalog.store.nodes()
    assert b"/catalog/site-b" not in b"".join(catalog._root_head)


def test_a_node_may_publish_only_itself(catalog: Catalog) -> None:
    with pytest.raises(DescriptionInvalid, match="published a catalogue for node"):
        catalog.publish_blocking("site-b", site_a())


def test_operator_rdf_under_the_hub_base_is_refused(catalog: Catalog) -> None:
    from hyperfed.catalog import DatasetRdf

    rdf = (
        "@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .\n"
        "<https://x.example/d> a dcat:Dataset ; dct:title 't' ; dct:description 'd' ;\n"
        "  dct:relation <http://127.0.0.1:8999/catalog/site-a/dataset/cohort-0> .\n"
        "<http://127.0.0.1:8999/catalog/site-a/dataset/cohort-0> dct:title 'hijacked' ."
    )
    pub = NodePublication(
        node=NodeInfo(id="evil", title="Evil", contact=ContactPoint(name="x", email="x@x.eu")),
        datasets=[DatasetEntry(description=DatasetRdf(id="d", rdf=rdf))],
    )
    with pytest.raises(DescriptionInvalid, match="under the hub's base URL"):
        catalog.publish_blocking("evil", pub)


@pytest.mark.parametrize(
    ("rdf", "message"),
    [
        ("<https://x.example/a> <http://purl.org/dc/terms/title> 't' .", "exactly one"),
        (
            "@prefix dcat: <http://www.w3.org/ns/dcat#> .\n"
            "<https://x.example/a> a dcat:Dataset . <https://x.example/b> a dcat:Dataset .",
            "exactly one",
        ),
        ("<https://x.example/a> a <oops", "cannot be parsed"),
    ],
)
def test_operator_rdf_errors(catalog: Catalog, rdf: str, message: str) -> None:
    from hyperfed.catalog import DatasetRdf

    pub = NodePublication(
        node=NodeInfo(id="n", title="N"),
        datasets=[DatasetEntry(description=DatasetRdf(id="d", rdf=rdf))],
    )
    with pytest.raises(DescriptionInvalid, match=message) as caught:
        catalog.publish_blocking("n", pub)
    assert caught.value.problems[0].focus == "datasets[d].rdf"


def test_operator_rdf_is_brought_under_hub_iris(catalog: Catalog) -> None:
    pub = federation()[1]
    report = catalog.publish_blocking("site-b", pub)
    assert any("numberOfUniqueIndividuals" in n for n in report.notes)
    record = catalog.record("site-b", "registry")
    text = b"\n".join(record.lines).decode()
    assert "_:" not in text  # blank nodes skolemised
    assert "http://127.0.0.1:8999/catalog/site-b/dataset/registry#b1" in text
    assert "http://127.0.0.1:8999/catalog/site-b/dataset/registry/distribution/csv" in text
    assert '"https://data.site-b.example/dataset/registry-2020"' in text  # original kept
    assert record.issued == dt.datetime(2021, 3, 1, tzinfo=dt.UTC)


def node_app(pub: NodePublication, calls: list[str]) -> FastAPI:
    app = FastAPI()

    @app.get("/catalog")
    async def publication() -> Any:
        calls.append("catalog")
        return pub.model_dump(mode="json")

    return app


def test_refresh_fetches_from_a_node_over_http(tmp_path: Path) -> None:
    calls: list[str] = []
    pubs = {p.node.id: p for p in federation()}
    with (
        serve(node_app(pubs["site-a"], calls)) as a_url,
        serve(node_app(pubs["imaging-c"], calls)) as c_url,
    ):
        urls = {"site-a": a_url, "imaging-c": c_url, "down": "http://127.0.0.1:9"}

        async def fetch(node: str) -> dict[str, Any]:
            async with httpx.AsyncClient() as client:
                r = await client.get(f"{urls[node]}/catalog", timeout=5)
                r.raise_for_status()
                data: dict[str, Any] = r.json()
                return data

        catalog = Catalog(settings_for(8999, None))
        try:
            refresher = Refresher(catalog, fetch, sorted(urls))
            results = asyncio.run(refresher.refresh_all())
            assert results["site-a"]["ok"] and results["imaging-c"]["ok"]
            assert results["down"] == {
                "ok": False,
                "status": 503,
                "detail": results["down"]["detail"],
            }
            assert "cannot fetch" in results["down"]["detail"]
            assert {r.node for r in catalog.records()} == {"site-a", "imaging-c"}
            assert calls == ["catalog", "catalog"]
            assert catalog.status["down"].ok is False
        finally:
            catalog.close()


def test_scheduled_refresh_runs_until_stopped(tmp_path: Path) -> None:
    pub = site_a()
    calls: list[str] = []

    async def fetch(node: str) -> NodePublication:
        calls.append(node)
        return pub

    async def scenario(catalog: Catalog) -> None:
        refresher = Refresher(catalog, fetch, ["site-a"])
        refresher.start()
        while len(calls) < 2:
            await asyncio.sleep(0.05)
        await refresher.stop()

    catalog = Catalog(settings_for(8999, None, refresh_interval=0.2))
    try:
        asyncio.run(asyncio.wait_for(scenario(catalog), timeout=60))
        assert len(calls) >= 2 and catalog.records("site-a")
    finally:
        catalog.close()


def test_fdp_index_ping(tmp_path: Path) -> None:
    received: list[dict[str, Any]] = []
    index = FastAPI()

    @index.post("/")
    async def ping(request: Request) -> dict[str, str]:
        received.append(await request.json())
        return {"status": "ok"}

    with serve(index) as index_url:

        async def go() -> bool:
            async with httpx.AsyncClient() as client:
                return await ping_fdp_index(client, index_url + "/", "https://hub.example/")

        assert asyncio.run(go()) is True
    assert received == [{"clientUrl": "https://hub.example/"}]


def test_fdp_ping_is_off_by_default_and_on_when_configured(tmp_path: Path) -> None:
    received: list[dict[str, Any]] = []
    index = FastAPI()

    @index.post("/")
    async def ping(request: Request) -> dict[str, str]:
        received.append(await request.json())
        return {"status": "ok"}

    async def fetch(node: str) -> NodePublication:
        return site_a()

    with serve(index) as index_url:
        for configured in (None, index_url + "/"):
            catalog = Catalog(
                settings_for(8999, None, refresh_interval=0, fdp_index_url=configured)
            )

            async def once(c: Catalog = catalog) -> None:
                async with httpx.AsyncClient() as client:
                    await Refresher(c, fetch, ["site-a"], client=client).run()

            try:
                asyncio.run(once())
            finally:
                catalog.close()
    assert received == [{"clientUrl": "http://127.0.0.1:8999/"}]


def test_restart_without_the_record_index_recomputes_the_same(tmp_path: Path) -> None:
    """A store without the record index (or with an index of another version) is read the
    slow way, from the graph, to the same documents."""
    settings = settings_for(8999, tmp_path / "store")
    first = Catalog(settings)
    for pub in federation():
        first.publish_blocking(pub.node.id, pub)
    docs = {r.iri: r.lines for r in first.records()}
    private = {k: r.lines for k, r in first._nodes["site-b"].private.items()}
    for node in ("site-a", "site-b", "imaging-c"):
        graph = f"urn:hyperfed:catalog:node:{node}"
        for is_private in (False, True):
            text = first.store.text(graph, private=is_private)
            if text is not None:
                triples = first._stored(node, private=is_private)
                first.store.replace(graph, triples, private=is_private, keep_text=True)
                assert first.store.index(graph, private=is_private) is None
    first.close()
    del first
    second = Catalog(settings)
    try:
        assert {r.iri: r.lines for r in second.records()} == docs
        assert {k: r.lines for k, r in second._nodes["site-b"].private.items()} == private
    finally:
        second.close()


def test_each_record_s_turtle_is_stored_with_its_graph(tmp_path: Path) -> None:
    """A restart serves pages as concatenations at once: the Turtle of every record is in
    the store (with the prefixes it was made with), byte for byte what serialising the
    record gives; made with other prefixes, it is not used."""
    settings = settings_for(8999, tmp_path / "store")
    first = Catalog(settings)
    pub = site_a()
    first.publish_blocking("site-a", pub)
    first.close()
    del first
    second = Catalog(settings)
    try:
        graph = "urn:hyperfed:catalog:node:site-a"
        text, index = second.store.text(graph), second.store.index(graph)
        assert text is not None and index is not None
        docs = docs_from_cache("site-a", (text, index), None, second._turtle_key)
        assert docs is not None and len(docs.records) == 5  # cohort-5 is private
        for record in docs.records.values():
            assert record.turtle == turtle_body(record.lines, second.prefixes)
        other = docs_from_cache("site-a", (text, index), None, "other-prefixes")
        assert other is not None and all(r.turtle is None for r in other.records.values())
    finally:
        second.close()


def test_an_unchanged_refresh_is_not_validated_or_written(catalog: Catalog) -> None:
    pub = site_a()
    catalog.publish_blocking("site-a", pub)
    digest = catalog._nodes["site-a"].digest
    again = catalog.publish_blocking("site-a", site_a())
    assert "unchanged since the last refresh" in again.notes
    assert catalog._nodes["site-a"].digest == digest
