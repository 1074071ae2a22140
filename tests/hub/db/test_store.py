"""HubStore on SQLite and PostgreSQL: migrations, jobs, the audit chain."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from hyperfed.hub.db import HubStore, verify_jsonl
from hyperfed.hub.db.engine import current_revision, head_revision
from hyperfed.hub.db.models import Base
from hyperfed.hub.db.store import INTERRUPTED
from tests.hub.db.crash_writer import result

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def test_a_new_database_is_migrated_to_the_newest_revision_matching_the_models(
    store: HubStore,
) -> None:
    assert current_revision(store.engine) == head_revision() is not None
    with store.engine.connect() as con:
        diff = compare_metadata(MigrationContext.configure(con), Base.metadata)
    assert diff == [], f"the migrations and the models differ: {diff}"
    HubStore(store.url).close()  # opening again is a no-op upgrade


def test_jobs_and_their_audit_record(store: HubStore) -> None:
    store.start("j1", NOW, "k" * 64, "alice", result("j1", "running"))
    assert store.get("j1")["status"] == "running"
    store.finish("j1", NOW + dt.timedelta(seconds=1), "alice", result("j1", "done"))
    store.finish("j2", NOW, "bob", result("j2", "done"))  # synchronous: job + audit at once
    assert store.get("j1")["status"] == "done" and store.get("j2")["status"] == "done"
    assert store.get("nope") is None
    log = store.audit_log()
    assert [r["job_id"] for r in log] == ["j2", "j1"]
    assert log[1]["researcher"] == "alice" and log[1]["at"] == NOW + dt.timedelta(seconds=1)
    assert log[0]["outcome"]["nodes"] == [
        {"node": "a", "status": "ok", "count": 20, "countAdjustedTo": [10]}
    ]
    assert store.job_owner("j1") == (True, "alice") and store.job_owner("x") == (False, None)
    assert [j["id"] for j in store.history("alice")] == ["j1"]


def test_the_audit_keeps_released_numbers_only(store: HubStore) -> None:
    done = result("j", "done")
    done["nodes"] = [
        {
            "node": "a",
            "status": "suppressed",
            "count": None,
            "notes": ["x"],
            "strata": [{"count": 3}],
            "countAdjustedTo": ["<10"],
        }
    ]
    store.finish("j", NOW, "alice", done)
    data = store.records(kind="query")[0]["data"]
    assert data["nodes"] == [
        {"node": "a", "status": "suppressed", "count": None, "countAdjustedTo": ["<10"]}
    ]


def test_jobs_left_running_are_marked_interrupted_with_a_reason(store_url: str) -> None:
    first = HubStore(store_url)
    first.start("j1", NOW, "k" * 64, "alice", result("j1", "running"))
    first.close()
    second = HubStore(store_url)
    job = second.get("j1")
    assert job is not None and job["status"] == "interrupted" and job["error"] == INTERRUPTED
    assert second.records(kind="query.interrupted")[0]["job_id"] == "j1"
    assert second.verify().ok
    second.close()


def test_fail_is_stored_and_audited(store: HubStore) -> None:
    store.start("j1", NOW, "k" * 64, "alice", result("j1", "running"))
    store.fail("j1", {**result("j1", "failed"), "error": "ValueError"})
    assert store.get("j1")["status"] == "failed"
    failed = store.records(kind="query.failed")[0]
    assert failed["data"]["error"] == "ValueError" and failed["actor"] == "alice"


def _fill(store: HubStore, n: int = 5) -> None:
    for i in range(n):
        store.append("login", f"user{i}", {"i": i})


@pytest.mark.parametrize(
    ("sql", "seq", "fragment"),
    [
        (
            "UPDATE audit_records SET body = replace(body, '\"i\":2', '\"i\":9') WHERE seq = 3",
            3,
            "content",
        ),
        ("UPDATE audit_records SET actor = 'mallory' WHERE seq = 2", 2, "actor"),
        ("DELETE FROM audit_records WHERE seq = 4", 4, "missing"),
        ("DELETE FROM audit_records WHERE seq = 5", 5, "missing"),
        ("UPDATE audit_head SET seq = 3", 4, "head"),
    ],
)
def test_verify_names_the_first_broken_record(
    store: HubStore, sql: str, seq: int, fragment: str
) -> None:
    _fill(store)
    report = store.verify()
    assert report.ok and report.records == 5 and report.head_seq == 5
    with store.engine.begin() as con:
        con.exec_driver_sql(sql)
    report = store.verify()
    assert not report.ok and report.broken_seq == seq and fragment in report.reason, report


def test_a_rewritten_chain_does_not_match_its_old_head(store: HubStore) -> None:
    """An attacker who rewrites a record and re-hashes everything after it still changes
    the head hash that was noted down (and exported) earlier."""
    _fill(store)
    noted = store.verify().head_hash
    buf = io.StringIO()
    assert store.export(buf) == 5
    lines = buf.getvalue().splitlines()
    assert verify_jsonl(lines, noted).ok
    row = json.loads(lines[2])
    row["body"] = row["body"].replace('"i":2', '"i":7')
    tampered = [*lines[:2], json.dumps(row), *lines[3:]]
    report = verify_jsonl(tampered)
    assert not report.ok and report.broken_seq == 3
    assert not verify_jsonl(lines[:4], noted).ok  # a cut tail
    # a later export still holds the head noted earlier; a rewritten chain does not
    store.append("login", "zoe", {"i": 9})
    later = io.StringIO()
    store.export(later)
    assert verify_jsonl(later.getvalue().splitlines(), noted).ok
    rewritten = _rehash([*lines[:2], json.dumps(row), *lines[3:]])
    assert verify_jsonl(rewritten).ok  # consistent in itself ...
    report = verify_jsonl(rewritten, noted)  # ... but the noted head is gone
    assert not report.ok and "not in this export" in report.reason


def _rehash(lines: list[str]) -> list[str]:
    """What an attacker who can write the export does: re-link every record after an edit."""
    from hyperfed.hub.db.chain import GENESIS, link_hash

    prev, out = GENESIS, []
    for line in lines:
        row = json.loads(line)
        row["prev_hash"], row["hash"] = prev, link_hash(prev, row["body"])
        prev = row["hash"]
        out.append(json.dumps(row))
    return out


def test_concurrent_appends_keep_one_chain(store_url: str) -> None:
    stores = [HubStore(store_url) for _ in range(2)]  # two engines: like two hub processes

    errors: list[Exception] = []

    def work(s: HubStore, who: str) -> None:
        try:
            for i in range(15):
                s.append("login", who, {"i": i})
        except Exception as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(s, f"w{k}{j}"))
        for k, s in enumerate(stores)
        for j in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = stores[0].verify()
    assert report.ok and report.records == 60, report
    for s in stores:
        s.close()


def test_a_database_of_the_earlier_job_store_is_upgraded(store_url: str) -> None:
    from hyperfed.hub.db.engine import normalize_url
    from tests.hub.db.legacy_jobstore import JobStore

    old = JobStore(normalize_url(store_url))  # the store of earlier releases, as it is
    old.finish("j1", NOW, "alice", result("j1", "done"))
    old.finish("j2", NOW + dt.timedelta(minutes=1), "bob", result("j2", "done"))
    old.start("j3", NOW, "k" * 64, "carol", result("j3", "running"))
    old.close()
    new = HubStore(store_url)
    assert new.get("j1")["status"] == "done" and new.get("j3")["status"] == "interrupted"
    records = new.audit_log()
    assert [r["job_id"] for r in records] == ["j2", "j1"]
    assert records[1]["researcher"] == "alice" and records[1]["at"] == NOW
    assert new.records(kind="query")[0]["data"]["imported"] is True
    report = new.verify()
    assert report.ok and report.records == 3, report  # two imported, one interruption
    new.append("login", "alice", {})
    assert new.verify().ok
    with new.engine.connect() as con:
        diff = compare_metadata(MigrationContext.configure(con), Base.metadata)
    assert diff == []
    new.close()
