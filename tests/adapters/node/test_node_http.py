"""The node service over real HTTP on loopback, on the real Eunomia CDM."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import omop_node_app, serve

GI = {"code": {"system": "http://snomed.info/sct", "code": "74474003"}}


@pytest.fixture(scope="module")
def node_url(eunomia_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app = omop_node_app(eunomia_path, tmp_path_factory.mktemp("node"))
    with serve(app) as url:
        yield url


def test_capabilities_describe_model_policy_and_features(node_url: str) -> None:
    caps = httpx.get(f"{node_url}/capabilities").json()
    assert caps["node"] == "eunomia" and caps["model"] == "omop"
    assert caps["policy"]["threshold"] == 10 and caps["policy"]["rounding"] == 10
    assert caps["features"]["relative_windows"] is True
    assert "suppressed" in caps["policy_summary"]


def test_count_is_protected_and_says_how(node_url: str) -> None:
    r = httpx.post(
        f"{node_url}/count", json={"query": {"hql": "1", "criteria": GI, "as_of": "2020-01-01"}}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["count"] % 10 == 0 and abs(body["count"] - 479) <= 40
    assert body["countPrecision"] == "imprecise"
    assert 10 in body["countAdjustedTo"]
    assert "count;dur=" in r.headers["server-timing"]
    # deterministic: the same question gets the same answer
    again = httpx.post(
        f"{node_url}/count", json={"query": {"hql": "1", "criteria": GI, "as_of": "2020-01-01"}}
    ).json()
    assert again["count"] == body["count"]


def test_small_counts_never_leave_the_node(node_url: str) -> None:
    # persons born 1908 (the oldest year in Eunomia: a handful of persons)
    q = {"hql": "1", "as_of": "2020-01-01", "criteria": {"age": {"min": 111}}}
    body = httpx.post(f"{node_url}/count", json={"query": q}).json()
    assert body["status"] == "suppressed" and body["count"] is None
    assert body["countAdjustedTo"] == ["<10"]
    numbers = [int(x) for x in re.findall(r"\d+", json.dumps(body))]
    assert all(n >= 10 or n == 0 for n in numbers if n != 111), numbers


def test_unsupported_criteria_are_named(node_url: str) -> None:
    q = {"hql": "1", "criteria": {"all": [GI, {"concept": "hf:Lung"}]}}
    body = httpx.post(
        f"{node_url}/count",
        json={
            "query": q,
            "bindings": {
                "hf:Lung": {"kind": "unexpressible", "reason": "no OMOP binding for body parts"}
            },
        },
    ).json()
    assert body["status"] == "unsupported" and body["count"] is None
    assert body["unsupported"] == [
        {"path": "criteria.all[1]", "reason": "no OMOP binding for body parts"}
    ]


def test_bad_requests_are_problem_json_naming_the_path(node_url: str) -> None:
    r = httpx.post(
        f"{node_url}/count",
        json={"query": {"hql": "1", "criteria": {"all": [GI, {"age": {"min": -1}}]}}},
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["path"] == "query.criteria.all[1].age.min"
    r = httpx.post(
        f"{node_url}/count", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["title"] == "Malformed JSON"
