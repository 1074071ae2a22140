"""The hub's durable state as SQLAlchemy 2 models (one `Base.metadata`; Alembic migrates it).

jobs             query jobs (the protected result JSON only)
audit_records    the append-only, hash-chained audit trail; audit_head: its last link
nodes            the node registry (owner, mode, key, approval, health)
principals       people and service accounts of the built-in issuer (roles, password hash)
clients          OAuth2 clients of the built-in issuer (secret hash, redirect URIs, grants)
auth_codes       authorization codes (PKCE challenge), refresh_tokens (hashed)
signing_keys     the issuer's signing keys (JWKS, rotation)
budget_events    one row per counted query of a principal (quotas, near-identical repeats)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Integer, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "AuditHead",
    "AuditRecord",
    "AuthCode",
    "Base",
    "BudgetEvent",
    "Client",
    "Job",
    "NodeRow",
    "Principal",
    "RefreshToken",
    "SigningKey",
    "UtcDateTime",
]


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC datetime on every database (SQLite stores no zone: UTC is assumed)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give a time zone")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    finished: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16), index=True)
    query_key: Mapped[str] = mapped_column(String(64), index=True)
    researcher: Mapped[str | None] = mapped_column(String(256), index=True)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)


class AuditRecord(Base):
    __tablename__ = "audit_records"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    actor: Mapped[str | None] = mapped_column(String(256), index=True)
    job_id: Mapped[str | None] = mapped_column(String(36), index=True)
    body: Mapped[str] = mapped_column(Text)  # the canonical JSON that was hashed
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class NodeRow(Base):
    __tablename__ = "nodes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(256), index=True)
    title: Mapped[str] = mapped_column(String(256), default="")
    model: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(8))  # push | pull
    url: Mapped[str | None] = mapped_column(String(2048))
    public_key: Mapped[str] = mapped_column(Text)  # the node's public JWK (JSON)
    key_version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), index=True)
    capabilities: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    registered: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(256))


class Principal(Base):
    __tablename__ = "principals"

    subject: Mapped[str] = mapped_column(String(256), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    roles: Mapped[list[str]] = mapped_column(JSON)
    password_hash: Mapped[str | None] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Client(Base):
    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret_hash: Mapped[str | None] = mapped_column(String(128))  # None: a public client
    subject: Mapped[str | None] = mapped_column(String(256))  # who it acts as (credentials)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    grant_types: Mapped[list[str]] = mapped_column(JSON)
    created: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class AuthCode(Base):
    __tablename__ = "auth_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(256))
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    scope: Mapped[str] = mapped_column(String(512), default="")
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(16))
    expires: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(256), index=True)
    scope: Mapped[str] = mapped_column(String(512), default="")
    expires: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class SigningKey(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    jwk: Mapped[str] = mapped_column(Text)  # the private JWK (JSON)
    created: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    retired: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class BudgetEvent(Base):
    __tablename__ = "budget_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    principal: Mapped[str] = mapped_column(String(256), index=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    query_key: Mapped[str] = mapped_column(String(64))
    near_key: Mapped[str] = mapped_column(String(64), index=True)
