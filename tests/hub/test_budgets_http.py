"""Query budgets on the real hub over real HTTP (`create_app` on loopback, a real OMOP node
behind it): 3 queries a minute and at most 2 near-identical repeats an hour. The 4th query
in a minute is a 429 problem with `Retry-After` and `frees_at`; `GET /me/budget` shows what
was used; another researcher is not affected; near-identical repeats (another `as_of`,
another breakdown) are refused past the repeat limit; refusals are audit records and a
refused query never reaches the node (its `/count` calls are counted by a wrapper).

The hub's clock cannot be injected, so the windows are long enough that nothing frees up
while the test runs, and the expected `frees_at` is bounded by the test's own clock
around the first query (the hub and the test share the machine's clock)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hyperfed.hub.app import create_app
from hyperfed.hub.settings import HubSettings, NodeEntry
from tests.identity import bearer
from tests.servers import CountCalls, free_port, omop_node_app, serve

GI = {"code": {"system": "http://snomed.info/sct", "code": "74474003"}}
DISTINCT: list[dict[str, Any]] = [
    GI,
    {"age": {"min": 40}},
    {"concept": "hf:Female"},
    {"concept": "hf:LungCancer"},
]
LIMIT, WINDOW, REPEATS, REPEAT_WINDOW = 3, 60, 2, 3600
SLACK = dt.timedelta(seconds=1)  # the store's timestamps against the test's clock


def q(criteria: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"hql": "1", "as_of": "2020-01-01", "criteria": criteria, **extra}


@dataclass
class Fed:
    hub: str
    store: Any
    node: CountCalls

    def researcher(self, name: str) -> dict[str, str]:
        return bearer(self.hub, self.store, name, ["researcher"])


@pytest.fixture(scope="module")
def fed(eunomia_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fed]:
    base = tmp_path_factory.mktemp("budgets-http")
    node = CountCalls(omop_node_app(eunomia_path, base, "eunomia"))
    with serve(node) as node_url:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        settings = HubSettings(
            database=f"sqlite:///{base / 'hub.db'}",
            deadline=20,
            identity={"issuer": url},
            nodes=[NodeEntry(id="eunomia", url=node_url)],
            budgets={
                "quotas": [{"limit": LIMIT, "window": "1m"}],
                "repeat_limit": REPEATS,
                "repeat_window": "1h",
            },
        )
        app = create_app(settings)
        with serve(app, port):
            yield Fed(url, app.state.hub.store, node)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _budget(c: httpx.Client, headers: dict[str, str]) -> dict[str, Any]:
    r = c.get("/me/budget", headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["repeat_limit"] == REPEATS and body["repeat_window_s"] == REPEAT_WINDOW
    [quota] = body["quotas"]
    assert (quota["limit"], quota["window_s"]) == (LIMIT, WINDOW)
    return dict(quota)


def _refusal(r: httpx.Response, longest: int) -> tuple[int, dt.datetime, str]:
    """A budget refusal's Retry-After, frees_at and detail, checked for form."""
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    retry = int(r.headers["retry-after"])
    assert 0 < retry <= longest, retry
    body = r.json()
    assert body["status"] == 429 and body["retry_after"] == retry
    frees_at = dt.datetime.fromisoformat(body["frees_at"])
    return retry, frees_at, body["detail"]


def _refused_records(c: httpx.Client, admin: dict[str, str], actor: str) -> list[dict[str, Any]]:
    r = c.get("/audit/export", headers=admin)
    assert r.status_code == 200, r.text
    bodies = [json.loads(json.loads(line)["body"]) for line in r.text.splitlines() if line]
    return [b for b in bodies if b["kind"] == "budget.refused" and b["actor"] == actor]


def test_the_rate_quota_refuses_the_fourth_query_in_a_minute(fed: Fed) -> None:
    alice, carol = fed.researcher("alice"), fed.researcher("carol")
    admin = bearer(fed.hub, fed.store, "budget-admin", ["admin"])
    calls_before = fed.node.count()
    with httpx.Client(base_url=fed.hub, timeout=60) as c:
        fresh = _budget(c, alice)
        assert (fresh["used"], fresh["remaining"], fresh["resets_at"]) == (0, LIMIT, None)
        sent_first = _now()
        for i, criteria in enumerate(DISTINCT[:LIMIT]):
            r = c.post("/queries", json=q(criteria), headers=alice)
            assert r.status_code == 200, r.text
            if i == 0:
                answered_first = _now()
            quota = _budget(c, alice)
            assert (quota["used"], quota["remaining"]) == (i + 1, LIMIT - i - 1), quota
        resets_at = dt.datetime.fromisoformat(_budget(c, alice)["resets_at"])
        window = dt.timedelta(seconds=WINDOW)
        assert sent_first + window - SLACK <= resets_at <= answered_first + window + SLACK
        assert fed.node.count() - calls_before == LIMIT

        asked = _now()
        refused = c.post("/queries", json=q(DISTINCT[LIMIT]), headers=alice)
        retry, frees_at, detail = _refusal(refused, WINDOW)
        # the first query leaves the window a minute after it was counted
        assert sent_first + window - SLACK <= frees_at <= answered_first + window + SLACK
        assert abs((frees_at - asked).total_seconds() - retry) <= 2, (retry, frees_at, asked)
        assert "3 per minute" in detail and "used up" in detail, detail
        assert fed.node.count() - calls_before == LIMIT, "a refused query reached the node"

        # asynchronous: refused the same way, and no job is made
        r = c.post(
            "/queries", json=q(DISTINCT[LIMIT]), headers={**alice, "Prefer": "respond-async"}
        )
        _refusal(r, WINDOW)
        assert fed.node.count() - calls_before == LIMIT
        quota = _budget(c, alice)
        assert (quota["used"], quota["remaining"]) == (LIMIT, 0), "refusals are not counted"
        jobs = c.get("/me/queries", headers=alice).json()
        assert len(jobs) == LIMIT and all(j["status"] == "done" for j in jobs)

        # another researcher has a budget of their own
        r = c.post("/queries", json=q(DISTINCT[LIMIT]), headers=carol)
        assert r.status_code == 200, r.text
        assert (_budget(c, carol)["used"], _budget(c, carol)["remaining"]) == (1, LIMIT - 1)
        assert fed.node.count() - calls_before == LIMIT + 1

        records = _refused_records(c, admin, "alice")
        assert len(records) == 2, records
        assert all("3 per minute" in r["data"]["reason"] for r in records)
        assert all(r["data"]["allowed"] is False and r["data"]["query_key"] for r in records)
        assert _refused_records(c, admin, "carol") == []
        assert c.get("/audit/verify", headers=admin).json()["ok"] is True


def test_near_identical_repeats_are_refused_past_the_repeat_limit(fed: Fed) -> None:
    bob = fed.researcher("bob")
    admin = bearer(fed.hub, fed.store, "budget-admin-2", ["admin"])
    calls_before = fed.node.count()
    with httpx.Client(base_url=fed.hub, timeout=60) as c:
        sent_first = _now()
        r = c.post("/queries", json=q(GI), headers=bob)
        answered_first = _now()
        assert r.status_code == 200, r.text
        r = c.post("/queries", json=q(GI, as_of="2019-06-30"), headers=bob)
        assert r.status_code == 200, r.text
        assert fed.node.count() - calls_before == REPEATS

        for repeat in (
            q(GI, stratify={"by": ["sex"]}),  # another breakdown
            q(GI, as_of="2018-01-01"),  # another reference date
            q(GI),  # the very same question
        ):
            refused = c.post("/queries", json=repeat, headers=bob)
            _, frees_at, detail = _refusal(refused, REPEAT_WINDOW)
            assert "near-identical" in detail and f"asked {REPEATS} times" in detail, detail
            assert "quota" not in detail, detail  # 2 of 3 used: only the repeat limit
            hour = dt.timedelta(seconds=REPEAT_WINDOW)
            assert sent_first + hour - SLACK <= frees_at <= answered_first + hour + SLACK
        assert fed.node.count() - calls_before == REPEATS, "a refused repeat reached the node"
        quota = _budget(c, bob)
        assert (quota["used"], quota["remaining"]) == (REPEATS, LIMIT - REPEATS)

        # another question is not a repeat: it takes the last unit of the minute
        r = c.post("/queries", json=q({"age": {"min": 40}}), headers=bob)
        assert r.status_code == 200, r.text
        assert fed.node.count() - calls_before == REPEATS + 1

        records = _refused_records(c, admin, "bob")
        assert len(records) == 3, records
        assert all("near-identical" in r["data"]["reason"] for r in records)
        assert [r["data"]["repeats"] for r in records] == [REPEATS] * 3
