"""initial schema (and the upgrade of a hub database made before migrations existed)

Revision ID: 0001
Revises:
Create Date: 2026-12-01 23:36:45.643439

A database of the earlier `JobStore` (tables `jobs` and `audit`, no alembic_version) is
upgraded in place: its jobs are kept, and its audit rows become the first records of the
hash chain, in time order, marked `"imported": true` (they were not tamper-evident before).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from alembic import op

import hyperfed.hub.db.models
from hyperfed.hub.db.chain import GENESIS, link_hash, make_body


def _legacy_begin() -> tuple[bool, bool]:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    tables = set(inspector.get_table_names())
    jobs, audit = "jobs" in tables, "audit" in tables and "audit_records" not in tables
    for table, flag in (("jobs", jobs), ("audit", audit)):
        if flag:
            for index in inspector.get_indexes(table):
                op.drop_index(str(index["name"]), table_name=table)
            op.rename_table(table, f"{table}_legacy")
    return jobs, audit


def _when(value: Any) -> dt.datetime:
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def _legacy_finish(jobs: bool, audit: bool) -> None:
    bind = op.get_bind()
    if jobs:
        op.execute(
            "INSERT INTO jobs (id, created, finished, status, query_key, researcher, result) "
            "SELECT id, created, finished, status, query_key, researcher, result "
            "FROM jobs_legacy WHERE result IS NOT NULL"
        )
        op.drop_table("jobs_legacy")
    if not audit:
        return
    rows = bind.execute(
        sa.text(
            "SELECT job_id, at, researcher, query_key, query, outcome "
            "FROM audit_legacy ORDER BY at, job_id"
        )
    ).all()
    records = sa.table(
        "audit_records",
        sa.column("seq"),
        sa.column("at", hyperfed.hub.db.models.UtcDateTime()),
        sa.column("kind"),
        sa.column("actor"),
        sa.column("job_id"),
        sa.column("body"),
        sa.column("prev_hash"),
        sa.column("hash"),
    )
    prev, seq = GENESIS, 0
    for job_id, at, researcher, key, query, outcome in rows:
        seq += 1
        when = _when(at)
        out = json.loads(outcome) if isinstance(outcome, str) else dict(outcome or {})
        data = {
            "query_key": key,
            "query": json.loads(query),
            "imported": True,
            "total": out.get("total"),
            "nodes": out.get("nodes", []),
        }
        body = make_body(seq, when, "query", researcher, job_id, data)
        digest = link_hash(prev, body)
        bind.execute(
            sa.insert(records).values(
                seq=seq,
                at=when,
                kind="query",
                actor=researcher,
                job_id=job_id,
                body=body,
                prev_hash=prev,
                hash=digest,
            )
        )
        prev = digest
    if seq:
        head = sa.table("audit_head", sa.column("id"), sa.column("seq"), sa.column("hash"))
        bind.execute(sa.insert(head).values(id=1, seq=seq, hash=prev))
    op.drop_table("audit_legacy")


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    legacy = _legacy_begin()
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "audit_records",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", hyperfed.hub.db.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=True),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("hash"),
    )
    with op.batch_alter_table("audit_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_records_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_records_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_records_job_id"), ["job_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_records_kind"), ["kind"], unique=False)

    op.create_table(
        "auth_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=256), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2048), nullable=False),
        sa.Column("scope", sa.String(length=512), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=True),
        sa.Column("code_challenge_method", sa.String(length=16), nullable=True),
        sa.Column("expires", hyperfed.hub.db.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code_hash"),
    )
    op.create_table(
        "budget_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("principal", sa.String(length=256), nullable=False),
        sa.Column("at", hyperfed.hub.db.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("query_key", sa.String(length=64), nullable=False),
        sa.Column("near_key", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("budget_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_budget_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_budget_events_near_key"), ["near_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_budget_events_principal"), ["principal"], unique=False)

    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=128), nullable=True),
        sa.Column("subject", sa.String(length=256), nullable=True),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("grant_types", sa.JSON(), nullable=False),
        sa.Column("created", hyperfed.hub.db.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id"),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created", hyperfed.hub.db.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished", hyperfed.hub.db.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("query_key", sa.String(length=64), nullable=False),
        sa.Column("researcher", sa.String(length=256), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_query_key"), ["query_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_researcher"), ["researcher"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_status"), ["status"], unique=False)

    op.create_table(
        "nodes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=256), nullable=False),
        sa.Column("title", sa.String(length=256), nullable=False),
        sa.Column("model", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("capabilities", sa.JSON(), nullable=True),
        sa.Column("registered", hyperfed.hub.db.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated", hyperfed.hub.db.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", hyperfed.hub.db.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=256), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_nodes_owner"), ["owner"], unique=False)
        batch_op.create_index(batch_op.f("ix_nodes_status"), ["status"], unique=False)

    op.create_table(
        "principals",
        sa.Column("subject", sa.String(length=256), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created", hyperfed.hub.db.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject"),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=256), nullable=False),
        sa.Column("scope", sa.String(length=512), nullable=False),
        sa.Column("expires", hyperfed.hub.db.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refresh_tokens_subject"), ["subject"], unique=False)

    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("jwk", sa.Text(), nullable=False),
        sa.Column("created", hyperfed.hub.db.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("retired", hyperfed.hub.db.models.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid"),
    )
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signing_keys_created"), ["created"], unique=False)

    _legacy_finish(*legacy)


def downgrade() -> None:
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signing_keys_created"))

    op.drop_table("signing_keys")
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_subject"))

    op.drop_table("refresh_tokens")
    op.drop_table("principals")
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nodes_status"))
        batch_op.drop_index(batch_op.f("ix_nodes_owner"))

    op.drop_table("nodes")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_status"))
        batch_op.drop_index(batch_op.f("ix_jobs_researcher"))
        batch_op.drop_index(batch_op.f("ix_jobs_query_key"))

    op.drop_table("jobs")
    op.drop_table("clients")
    with op.batch_alter_table("budget_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_budget_events_principal"))
        batch_op.drop_index(batch_op.f("ix_budget_events_near_key"))
        batch_op.drop_index(batch_op.f("ix_budget_events_at"))

    op.drop_table("budget_events")
    op.drop_table("auth_codes")
    with op.batch_alter_table("audit_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_records_kind"))
        batch_op.drop_index(batch_op.f("ix_audit_records_job_id"))
        batch_op.drop_index(batch_op.f("ix_audit_records_at"))
        batch_op.drop_index(batch_op.f("ix_audit_records_actor"))

    op.drop_table("audit_records")
    op.drop_table("audit_head")
