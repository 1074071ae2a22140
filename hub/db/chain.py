"""The audit trail's hash chain (pure): canonical JSON, link hashes, verification.

Record n is the canonical JSON of {seq, at, kind, actor, job_id, data}; its hash is
SHA-256(prev_hash || "\\n" || body), where prev_hash is record n-1's hash (64 zeros for
the first). Changing, removing or reordering any record, or cutting the tail behind the
stored head, breaks the chain from that record on; `verify_chain` names the first one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GENESIS",
    "ChainReport",
    "Link",
    "canonical_json",
    "link_hash",
    "make_body",
    "verify_chain",
    "verify_jsonl",
]

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """One spelling of a JSON value: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link_hash(prev_hash: str, body: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def make_body(
    seq: int, at: dt.datetime, kind: str, actor: str | None, job_id: str | None, data: Any
) -> str:
    return canonical_json(
        {
            "seq": seq,
            "at": at.astimezone(dt.UTC).isoformat(),
            "kind": kind,
            "actor": actor,
            "job_id": job_id,
            "data": data,
        }
    )


@dataclass(frozen=True)
class Link:
    """One stored record as read back: its columns and what was hashed."""

    seq: int
    at: dt.datetime
    kind: str
    actor: str | None
    job_id: str | None
    body: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    records: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "broken_seq": self.broken_seq,
            "reason": self.reason,
        }


def _column_mismatch(link: Link, body: Mapping[str, Any]) -> str:
    expected = {
        "seq": link.seq,
        "at": link.at.astimezone(dt.UTC).isoformat(),
        "kind": link.kind,
        "actor": link.actor,
        "job_id": link.job_id,
    }
    for key, value in expected.items():
        if body.get(key) != value:
            return f"column {key!r} ({value!r}) differs from the hashed record ({body.get(key)!r})"
    return ""


def verify_chain(links: Iterable[Link], head: tuple[int, str] | None) -> ChainReport:
    """Check every link in seq order and the stored head; the first break is reported."""
    prev_hash, prev_seq, count = GENESIS, 0, 0

    def broken(seq: int, reason: str) -> ChainReport:
        return ChainReport(False, count, prev_seq, prev_hash, seq, reason)

    for link in links:
        if link.seq != prev_seq + 1:
            return broken(prev_seq + 1, f"record {prev_seq + 1} is missing (next is {link.seq})")
        if link.prev_hash != prev_hash:
            return broken(link.seq, "its link to the previous record does not match")
        if link_hash(link.prev_hash, link.body) != link.hash:
            return broken(link.seq, "its content does not match its hash")
        try:
            body = json.loads(link.body)
        except json.JSONDecodeError:
            return broken(link.seq, "its body is not JSON")
        mismatch = _column_mismatch(link, body)
        if mismatch:
            return broken(link.seq, mismatch)
        prev_hash, prev_seq, count = link.hash, link.seq, count + 1
    head_seq, head_hash = head or (0, GENESIS)
    if (head_seq, head_hash) != (prev_seq, prev_hash):
        if head_seq > prev_seq:
            return broken(prev_seq + 1, f"records {prev_seq + 1}..{head_seq} are missing")
        return broken(head_seq + 1 if head_seq < prev_seq else prev_seq, "the head does not match")
    return ChainReport(True, count, prev_seq, prev_hash)


def verify_jsonl(lines: Iterable[str], head_hash: str | None = None) -> ChainReport:
    """Verify an export (`HubStore.export`) offline. With `head_hash` (a head noted down
    earlier, e.g. from `hyperfed audit verify`), that record must be in the export: a
    later, longer export still verifies; a cut tail or a rewritten chain does not."""

    def links() -> Iterable[Link]:
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                body = json.loads(row["body"])
                yield Link(
                    int(body["seq"]),
                    dt.datetime.fromisoformat(body["at"]),
                    body["kind"],
                    body["actor"],
                    body["job_id"],
                    row["body"],
                    row["prev_hash"],
                    row["hash"],
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"line {n}: not an audit export record ({exc})") from exc

    collected = list(links())
    last = collected[-1] if collected else None
    report = verify_chain(collected, (last.seq, last.hash) if last else None)
    if not report.ok or head_hash is None or any(x.hash == head_hash for x in collected):
        return report
    return ChainReport(
        False,
        report.records,
        report.head_seq,
        report.head_hash,
        report.head_seq + 1,
        f"the noted head {head_hash[:16]}... is not in this export: "
        "its tail was cut or the chain was rewritten",
    )
