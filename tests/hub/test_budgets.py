"""Budgets: quotas of rate and total (MII's 3 per minute and 50 per week), near-identical
repeats, when a used-up quota frees up; the pure rules and the store on both databases."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from hyperfed.adapters.hql.model import Query
from hyperfed.hub.budgets import BudgetPolicy, Budgets, Quota, decide, near_key, parse_window
from hyperfed.hub.db import HubStore

T0 = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)
GI = {"code": {"system": "http://snomed.info/sct", "code": "74474003"}}


def q(**extra: object) -> Query:
    return Query.model_validate({"hql": "1", "criteria": GI, **extra})


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_windows() -> None:
    assert [parse_window(w) for w in ("30s", "1m", "1min", "2h", "7d", "1w", 90)] == [
        30, 60, 60, 7200, 604800, 604800, 90]  # fmt: skip
    for bad in ("soon", "0m", "-1d", 0):
        with pytest.raises(ValueError):
            parse_window(bad)
    assert Quota(limit=50, window="1w").name == "50 per week"


def test_near_identical_means_same_criteria_whatever_the_date_or_breakdown() -> None:
    base = near_key(q())
    assert near_key(q(as_of="2020-01-01")) == base
    assert near_key(q(as_of="2021-06-30", stratify={"by": ["sex"]})) == base
    assert near_key(q(criteria={"all": [GI, GI]})) == base  # canonical spellings agree
    assert near_key(q(criteria={"all": [GI, {"age": {"min": 60}}]})) != base


def test_the_rate_quota_says_when_it_frees_up() -> None:
    policy = BudgetPolicy.mii()
    events = [(at(s), "k", "n") for s in (0, 10, 20)]
    d = decide(policy, events, at(30), "other")
    assert not d.allowed and d.frees_at == at(60) and d.retry_after == 30
    assert "3 per minute" in d.reason
    assert decide(policy, events, at(60), "other").allowed  # the first has left the window
    assert decide(policy, events[:2], at(30), "other").allowed


def test_the_weekly_total() -> None:
    policy = BudgetPolicy.mii()
    events = [(at(h * 3600), f"k{h}", f"n{h}") for h in range(50)]  # one an hour
    d = decide(policy, events, at(50 * 3600), "new")
    assert not d.allowed and d.frees_at == at(604800) and "50 per week" in d.reason
    week = next(u for u in d.usage if u.limit == 50)
    assert (week.used, week.remaining) == (50, 0)


def test_near_identical_repeats_are_counted_and_limited() -> None:
    policy = BudgetPolicy(repeat_limit=3, repeat_window="1d")
    events = [(at(h * 3600), f"k{h}", "same") for h in range(3)]
    d = decide(policy, events, at(4 * 3600), "same")
    assert not d.allowed and d.repeats == 3 and "asked 3 times" in d.reason
    assert d.frees_at == at(86400)
    assert decide(policy, events, at(4 * 3600), "different").allowed


def test_budgets_in_the_store(store: HubStore) -> None:
    budgets = Budgets(store.budgets, BudgetPolicy.mii())
    for i in range(3):
        assert budgets.charge("alice", q(as_of=f"2020-01-0{i + 1}"), f"k{i}", at(i)).allowed
    refused = budgets.charge("alice", q(), "k9", at(5))
    assert not refused.allowed and refused.retry_after == 55 and refused.repeats == 3
    assert budgets.charge("bob", q(), "k0", at(5)).allowed, "budgets are per researcher"
    status = budgets.status("alice", at(5))
    minute = next(x for x in status["quotas"] if x["limit"] == 3)
    assert minute["used"] == 3 and minute["resets_at"] == at(60).isoformat()
    assert budgets.charge("alice", q(criteria={"age": {"min": 1}}), "k10", at(61)).allowed


def test_two_queries_cannot_take_the_last_unit(store_url: str) -> None:
    stores = [HubStore(store_url) for _ in range(2)]
    allowed: list[bool] = []
    lock = threading.Lock()

    def work(s: HubStore, i: int) -> None:
        d = Budgets(s.budgets, BudgetPolicy(quotas=[Quota(limit=3, window=60)]))
        ok = d.charge("carol", q(), f"k{i}", at(i / 100)).allowed
        with lock:
            allowed.append(ok)

    threads = [threading.Thread(target=work, args=(stores[i % 2], i)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(allowed) == [False] * 5 + [True] * 3
    for s in stores:
        s.close()


def test_a_refusal_is_a_429_with_retry_after(store: HubStore) -> None:
    import httpx
    from fastapi import FastAPI

    from hyperfed.adapters.problems import install_problem_handlers
    from hyperfed.hub.auth import TooManyQueries, install_auth_problems
    from tests.servers import serve

    budgets = Budgets(store.budgets, BudgetPolicy(quotas=[Quota(limit=1, window="1h")]))
    app = FastAPI()
    install_problem_handlers(app, "hub")
    install_auth_problems(app)

    @app.post("/queries")
    async def post() -> dict[str, str]:
        d = budgets.charge("dave", q(), "k", T0)
        if not d.allowed:
            raise TooManyQueries(d.reason, d.retry_after, frees_at=d.frees_at.isoformat())  # type: ignore[union-attr]
        return {"ok": "yes"}

    with serve(app) as url:
        assert httpx.post(f"{url}/queries").status_code == 200
        r = httpx.post(f"{url}/queries")
    assert r.status_code == 429 and r.headers["retry-after"] == "3600"
    body = r.json()
    assert body["frees_at"] == at(3600).isoformat() and "1 per hour" in body["detail"]
    assert r.headers["content-type"].startswith("application/problem+json")
