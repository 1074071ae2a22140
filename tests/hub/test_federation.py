"""The hub end to end over real HTTP on loopback: real node services on the real Eunomia
CDM, plus nodes that are down, slow or broken (small stand-in apps: a broken node cannot
be had any other way)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from hyperfed.adapters.disclosure import Policy
from hyperfed.hub.app import create_app
from hyperfed.hub.settings import load_settings
from tests.identity import bearer
from tests.servers import free_port, omop_node_app, serve

GI = {"code": {"system": "http://snomed.info/sct", "code": "74474003"}}
EXAMPLE = {
    "hql": "1",
    "as_of": "2020-01-01",
    "criteria": {
        "all": [
            GI,
            {"any": [{"concept": "hf:Female"}, {"age": {"min": 60}}]},
            {
                "not": {
                    "code": {
                        "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                        "code": "1191",
                    }
                }
            },
        ]
    },
}
DEADLINE = 1.0
REAL_DEADLINE = 30.0
REAL = ("eunomia", "lax", "noiseless")


def _slow_app() -> FastAPI:
    app = FastAPI()

    @app.post("/count")
    async def count() -> dict[str, Any]:
        await asyncio.sleep(DEADLINE * 3)
        return {}

    return app


def _garbage_app() -> FastAPI:
    app = FastAPI()

    @app.post("/count")
    async def count() -> PlainTextResponse:
        return PlainTextResponse("<html>proxy error</html>")

    return app


def _liar_app() -> FastAPI:
    """A node that sends a small count with a status that would skip re-protection."""
    app = FastAPI()

    @app.post("/count")
    async def count() -> dict[str, Any]:
        return {
            "node": "liar",
            "status": "error",
            "count": 3,
            "countAdjustedTo": [],
            "countPrecision": "exact",
            "strata": [
                {
                    "count": 2,
                    "status": "ok",
                    "countAdjustedTo": [],
                    "countPrecision": "exact",
                    "sex": "male",
                }
            ],
        }

    return app


def _impostor_app() -> FastAPI:
    """A node that answers in another node's name."""
    app = FastAPI()

    @app.post("/count")
    async def count() -> dict[str, Any]:
        return {
            "node": "eunomia",
            "status": "ok",
            "count": 500,
            "countAdjustedTo": [],
            "countPrecision": "imprecise",
        }

    return app


@pytest.fixture(scope="module")
def federation(
    eunomia_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("federation")
    lax = Policy(threshold=1, rounding=1, epsilon=0.5)
    noiseless = Policy(threshold=10, rounding=10, epsilon=None)
    with (
        serve(omop_node_app(eunomia_path, base, "eunomia", Policy())) as eu,
        serve(omop_node_app(eunomia_path, base, "lax", lax)) as lax_url,
        serve(omop_node_app(eunomia_path, base, "noiseless", noiseless)) as noiseless_url,
        serve(_slow_app()) as slow,
        serve(_garbage_app()) as garbage,
        serve(_liar_app()) as liar,
        serve(_impostor_app()) as impostor,
    ):
        down = f"http://127.0.0.1:{free_port()}"
        (base / "hub.toml").write_text(
            f'[hub]\ndatabase = "sqlite:///hub.db"\ndeadline = {DEADLINE}\n\n'
            "[floor]\nthreshold = 10\nrounding = 10\n\n"
            + "".join(
                f'[[nodes]]\nid = "{i}"\nurl = "{u}"\nmodel = "omop"\n'
                # real nodes get time even on a loaded machine; stand-ins the hub's 1 s
                + (f"deadline = {REAL_DEADLINE}\n\n" if i in REAL else "\n")
                for i, u in [
                    ("eunomia", eu),
                    ("lax", lax_url),
                    ("noiseless", noiseless_url),
                    ("slow", slow),
                    ("garbage", garbage),
                    ("liar", liar),
                    ("impostor", impostor),
                    ("down", down),
                ]
            )
        )
        settings = load_settings(base / "hub.toml")
        app = create_app(settings)
        with serve(app) as hub:
            store = app.state.hub.store
            yield {
                "hub": hub,
                "base": base,
                "settings": settings,
                "store": store,
                "researcher": bearer(hub, store, "r1", ["researcher"]),
                "other": bearer(hub, store, "r2", ["researcher"]),
                "admin": bearer(hub, store, "a1", ["admin"]),
            }


def _post(fed: dict[str, Any], doc: Any, **kw: Any) -> httpx.Response:
    """POST /queries as researcher r1."""
    headers = {**fed["researcher"], **kw.pop("headers", {})}
    return httpx.post(f"{fed['hub']}/queries", json=doc, timeout=30, headers=headers, **kw)


def test_one_query_gets_a_status_per_node_and_a_protected_total(federation: dict) -> None:
    started = time.monotonic()
    r = _post(federation, EXAMPLE)
    elapsed = time.monotonic() - started
    assert r.status_code == 200, r.text
    body = r.json()
    nodes = {n["node"]: n for n in body["nodes"]}
    assert nodes["eunomia"]["status"] == "ok" and nodes["eunomia"]["count"] % 10 == 0
    assert nodes["lax"]["status"] == "ok" and nodes["lax"]["count"] % 10 == 0
    # the floor (noise on by default) refuses a node that releases counts without noise
    assert nodes["noiseless"]["status"] == "error" and nodes["noiseless"]["count"] is None
    assert "without noise" in nodes["noiseless"]["error"]
    assert nodes["slow"]["status"] == "timeout"
    assert nodes["garbage"]["status"] == "error" and "invalid" in nodes["garbage"]["error"]
    assert nodes["down"]["status"] == "error" and "unreachable" in nodes["down"]["error"]
    assert nodes["liar"]["status"] == "error" and nodes["liar"]["count"] is None
    assert nodes["liar"]["strata"] is None and "3" not in str(nodes["liar"]["countAdjustedTo"])
    # a node answering in another's name is refused, and the refusal is in the audit trail
    assert nodes["impostor"]["status"] == "error" and nodes["impostor"]["count"] is None
    assert "identified itself as 'eunomia'" in nodes["impostor"]["error"]
    store = federation["store"]
    refused = [r["data"] for r in store.records(kind="node.refused")]
    assert {"node": "impostor", "reason": "answered as node 'eunomia'"} in refused
    answered = max(nodes[n]["elapsed_ms"] for n in REAL) / 1000
    assert elapsed < max(DEADLINE, answered) + 1.5, "a slow node must not hold the others up"
    total = body["total"]
    expected = round((nodes["eunomia"]["count"] + nodes["lax"]["count"]) / 10) * 10
    assert total["count"] == expected and total["status"] == "ok"
    assert total["lower_bound"] is True and total["nodes_counted"] == 2
    assert body["query"]["as_of"] == "2020-01-01" and len(body["query_key"]) == 64


def test_the_floor_protects_counts_of_a_lax_node(federation: dict) -> None:
    small = {"hql": "1", "as_of": "2020-01-01", "criteria": {"age": {"min": 111}}}
    body = _post(federation, small).json()
    for n in body["nodes"]:
        assert n["count"] is None, n
    assert body["total"]["count"] is None and body["total"]["status"] == "suppressed"


def test_stratified_totals(federation: dict) -> None:
    doc = {"hql": "1", "as_of": "2020-01-01", "criteria": GI, "stratify": {"by": ["sex"]}}
    body = _post(federation, doc).json()
    sexes = {s["sex"]: s for s in body["strata"]}
    assert set(sexes) == {"female", "male", "other", "unknown"}
    assert sexes["female"]["count"] > 0 and sexes["other"]["count"] is None


def test_async_job_can_be_polled(federation: dict) -> None:
    hub = federation["hub"]
    r = _post(federation, EXAMPLE, headers={"Prefer": "respond-async"})
    assert r.status_code == 202 and r.headers["location"].startswith("/queries/")
    job = r.json()
    assert job["status"] == "running"
    deadline = time.monotonic() + 20
    while True:
        polled = httpx.get(hub + r.headers["location"], headers=federation["researcher"]).json()
        if polled["status"] == "done" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert polled["status"] == "done" and polled["id"] == job["id"]
    sync = _post(federation, EXAMPLE).json()
    assert polled["total"] == sync["total"]
    # a job is its researcher's: another researcher gets a 404, an admin sees it
    location = hub + r.headers["location"]
    assert httpx.get(location, headers=federation["other"]).status_code == 404
    assert httpx.get(location, headers=federation["admin"]).json()["id"] == job["id"]
    assert httpx.get(location).status_code == 401
    mine = httpx.get(f"{hub}/me/queries", headers=federation["researcher"]).json()
    assert job["id"] in {j["id"] for j in mine}
    theirs = httpx.get(f"{hub}/me/queries", headers=federation["other"]).json()
    assert job["id"] not in {j["id"] for j in theirs}


def test_jobs_survive_a_hub_restart(federation: dict) -> None:
    body = _post(federation, EXAMPLE).json()
    with serve(create_app(federation["settings"])) as second_hub:
        # the restarted hub keeps its signing keys: the token issued before still works
        again = httpx.get(
            f"{second_hub}/queries/{body['id']}", headers=federation["researcher"]
        ).json()
    assert again["total"] == body["total"] and again["status"] == "done"
    nope = httpx.get(f"{federation['hub']}/queries/nope", headers=federation["researcher"])
    assert nope.status_code == 404


@pytest.mark.parametrize(
    ("doc", "path", "fragment"),
    [
        (
            {"hql": "1", "criteria": {"concept": "hf:LungCancr"}},
            "criteria.concept",
            "hf:LungCancer",
        ),
        (
            {
                "hql": "1",
                "criteria": {"all": [GI, {"code": {"system": "http://nowhere", "code": "1"}}]},
            },
            "criteria.all[1].code.system",
            "unknown code system",
        ),
        (
            {
                "hql": "1",
                "criteria": {
                    "code": {"system": "http://loinc.org", "code": "718-7"},
                    "value": {"max": 13, "unit": "furlongs"},
                },
            },
            "criteria.value.unit",
            "unsupported unit",
        ),
        (
            {"hql": "1", "criteria": {"any": [GI, {"age": {"min": 200}}]}},
            "criteria.any[1].age.min",
            "less than or equal",
        ),
        (
            {"hql": "1", "criteria": {"concept": "hf:Female", "during": {"from": "2020-01-01"}}},
            "criteria",
            "describes a person",
        ),
    ],
)
def test_bad_queries_get_problem_json_naming_path_and_value(
    federation: dict, doc: dict, path: str, fragment: str
) -> None:
    r = _post(federation, doc)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problems = r.json()["errors"]
    assert any(
        p["path"] == path and (fragment in p["message"] or fragment in str(p.get("suggestions")))
        for p in problems
    ), problems


def test_malformed_json_is_a_400(federation: dict) -> None:
    r = httpx.post(
        f"{federation['hub']}/queries",
        content=b'{"hql": "1", ',
        headers={"content-type": "application/json", **federation["researcher"]},
    )
    assert r.status_code == 400 and r.json()["title"] == "Malformed JSON"


def test_schema_concepts_ontology_and_nodes(federation: dict) -> None:
    hub = federation["hub"]
    schema = httpx.get(f"{hub}/schema/query").json()
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert "criteria" in schema["properties"]
    found = httpx.get(f"{hub}/concepts", params={"q": "lung"}).json()
    assert any("ung" in c["label"] for c in found)
    female = httpx.get(f"{hub}/concepts/hf:Female").json()
    assert female["bindings"]["omop"]["kind"] == "sex"
    sparql = httpx.get(
        f"{hub}/ontology/sparql", params={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"}
    ).json()
    assert int(sparql["results"]["bindings"][0]["n"]["value"]) > 100
    nodes = {n["id"]: n for n in httpx.get(f"{hub}/nodes").json()}
    assert nodes["eunomia"]["reachable"] is True
    assert nodes["eunomia"]["capabilities"]["model"] == "omop"
    assert nodes["down"]["reachable"] is False


def test_audit_records_protected_numbers_only(federation: dict) -> None:
    _post(federation, EXAMPLE)
    hub = federation["hub"]
    assert httpx.get(f"{hub}/audit", headers=federation["researcher"]).status_code == 403
    records = httpx.get(f"{hub}/audit", headers=federation["admin"]).json()
    assert records and all(len(r["query_key"]) == 64 for r in records)
    assert {r["researcher"] for r in records} <= {"r1"}
    assert httpx.get(f"{hub}/audit/verify", headers=federation["admin"]).json()["ok"] is True
    for r in records:
        for n in r["outcome"]["nodes"]:
            assert n["count"] is None or n["count"] >= 10
