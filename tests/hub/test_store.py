"""The hub's job store on its own: one transaction per finished job (job and audit record
together), failures and interruptions marked, only protected numbers stored."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from hyperfed.hub.store import JobStore

NOW = dt.datetime(2024, 6, 30, 12, tzinfo=dt.UTC)


def result(job_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": job_id,
        "status": "done",
        "created": NOW.isoformat(),
        "query_key": "k" * 64,
        "query": {"hql": "1", "criteria": {"concept": "hf:Person"}},
        "total": {"count": 120, "status": "ok"},
        "nodes": [
            {"node": "a", "status": "ok", "count": 120, "notes": ["n"], "elapsed_ms": 5.0},
            {"node": "b", "status": "suppressed", "count": None},
        ],
        **extra,
    }


def test_a_synchronous_job_is_one_write_of_job_and_audit(tmp_path: Path) -> None:
    store = JobStore(f"sqlite:///{tmp_path / 'hub.db'}")
    store.finish("j1", NOW, "alice", result("j1"))
    assert store.get("j1") == result("j1")
    (record,) = store.audit_log()
    assert record["job_id"] == "j1" and record["researcher"] == "alice"
    assert record["outcome"] == {
        "total": {"count": 120, "status": "ok"},
        "nodes": [
            {"node": "a", "status": "ok", "count": 120},
            {"node": "b", "status": "suppressed", "count": None},
        ],
    }
    store.close()


def test_async_jobs_go_from_running_to_done_or_failed(tmp_path: Path) -> None:
    store = JobStore(f"sqlite:///{tmp_path / 'hub.db'}")
    store.start("j2", NOW, "k" * 64, None, result("j2", status="running"))
    assert store.get("j2")["status"] == "running"  # type: ignore[index]
    store.finish("j2", NOW, None, result("j2"))
    assert store.get("j2")["status"] == "done"  # type: ignore[index]
    store.start("j3", NOW, "k" * 64, None, result("j3", status="running"))
    store.fail("j3", result("j3", status="failed", error="RuntimeError"))
    assert store.get("j3")["status"] == "failed"  # type: ignore[index]
    assert [r["job_id"] for r in store.audit_log()] == ["j2"]  # failed jobs have no outcome
    assert store.get("nope") is None
    store.close()


def test_jobs_left_running_by_a_stopped_hub_are_marked_interrupted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    first = JobStore(url)
    first.start("j4", NOW, "k" * 64, None, result("j4", status="running"))
    first.close()
    second = JobStore(url)  # a restart
    assert second.get("j4")["status"] == "interrupted"  # type: ignore[index]
    second.close()
