"""A hub-store process for the crash test: writes registrations, jobs and audit records in
a loop and prints one line per acknowledged (committed) write, until it is killed."""

from __future__ import annotations

import datetime as dt
import sys

from hyperfed.hub.db import HubStore


def result(job_id: str, status: str) -> dict[str, object]:
    return {
        "id": job_id,
        "status": status,
        "created": dt.datetime.now(dt.UTC).isoformat(),
        "query_key": "k" * 64,
        "query": {"hql": "1", "criteria": {"concept": "hf:Person"}},
        "total": {"status": "ok", "count": 20, "countAdjustedTo": [10]},
        "nodes": [{"node": "a", "status": "ok", "count": 20, "countAdjustedTo": [10]}],
    }


def main(url: str, prefix: str) -> None:
    store = HubStore(url)
    print("ready", flush=True)
    now = dt.datetime.now(dt.UTC)
    i = 0
    while True:
        node = f"{prefix}-n{i}"
        store.nodes.insert(
            {
                "id": node,
                "owner": "op",
                "model": "omop",
                "mode": "pull",
                "url": None,
                "public_key": "{}",
                "status": "pending",
                "registered": now,
                "updated": now,
            },
            audit=("registration", "op", {"node": node}),
        )
        print(f"node {node}", flush=True)
        job = f"{prefix}-j{i}"
        store.start(job, now, "k" * 64, "alice", result(job, "running"))
        print(f"start {job}", flush=True)
        if i % 3:
            store.finish(job, dt.datetime.now(dt.UTC), "alice", result(job, "done"))
            print(f"done {job}", flush=True)
        seq = store.append("login", "alice", {"i": i, "prefix": prefix})
        print(f"audit {seq}", flush=True)
        i += 1


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
