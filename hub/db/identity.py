"""The built-in issuer's state (`HubStore.identity`): principals (people and service
accounts) with roles and password hashes, OAuth2 clients, authorization codes, refresh
tokens and signing keys. Secrets are stored hashed only (passwords: scrypt; generated
client secrets, codes and refresh tokens: SHA-256, they are random). Role changes are
audited in the same transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, update

from hyperfed.hub.db.access import Access
from hyperfed.hub.db.models import AuthCode, Client, Principal, RefreshToken, SigningKey

__all__ = ["IdentityStore", "check_password", "hash_password", "hash_secret"]

principals = cast(Table, Principal.__table__)
clients = cast(Table, Client.__table__)
codes = cast(Table, AuthCode.__table__)
refresh = cast(Table, RefreshToken.__table__)
keys = cast(Table, SigningKey.__table__)

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt, digest = stored.split("$")
    found = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT)
    return hmac.compare_digest(found.hex(), digest)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class IdentityStore:
    def __init__(self, db: Access, append_in: Callable[..., int]) -> None:
        self.engine, self.reader, self._lock, self._rlock = db
        self._append_in = append_in

    # -- principals ------------------------------------------------------------------------

    def put_principal(
        self,
        subject: str,
        roles: Sequence[str],
        *,
        name: str = "",
        password: str | None = None,
        actor: str | None = None,
    ) -> None:
        """Create or update a principal; a change of roles is audited ('permission')."""
        with self._lock, self.engine.begin() as con:
            row = con.execute(
                select(principals.c.roles).where(principals.c.subject == subject)
            ).first()
            values: dict[str, Any] = {"roles": sorted(set(roles)), "name": name}
            if password is not None:
                values["password_hash"] = hash_password(password)
            if row is None:
                con.execute(insert(principals).values(subject=subject, created=_now(), **values))
                before: list[str] = []
            else:
                con.execute(
                    update(principals).where(principals.c.subject == subject).values(**values)
                )
                before = list(row[0])
            if before != values["roles"]:
                self._append_in(
                    con,
                    "permission",
                    actor,
                    {"subject": subject, "roles": values["roles"], "before": before},
                )

    def principal(self, subject: str) -> dict[str, Any] | None:
        with self._rlock, self.reader.connect() as con:
            row = con.execute(select(principals).where(principals.c.subject == subject)).first()
        return None if row is None else dict(row._mapping)

    def check_login(self, subject: str, password: str) -> dict[str, Any] | None:
        found = self.principal(subject)
        if found is None or found["disabled"]:
            check_password(password, hash_password("x"))  # same time either way
            return None
        return found if check_password(password, found["password_hash"]) else None

    # -- clients ---------------------------------------------------------------------------

    def put_client(
        self,
        client_id: str,
        *,
        secret: str | None,
        subject: str | None,
        grant_types: Sequence[str],
        redirect_uris: Sequence[str] = (),
    ) -> None:
        values = {
            "secret_hash": None if secret is None else hash_secret(secret),
            "subject": subject,
            "grant_types": list(grant_types),
            "redirect_uris": list(redirect_uris),
        }
        with self._lock, self.engine.begin() as con:
            if con.execute(
                select(clients.c.client_id).where(clients.c.client_id == client_id)
            ).first():
                con.execute(
                    update(clients).where(clients.c.client_id == client_id).values(**values)
                )
            else:
                con.execute(insert(clients).values(client_id=client_id, created=_now(), **values))

    def client(self, client_id: str) -> dict[str, Any] | None:
        with self._rlock, self.reader.connect() as con:
            row = con.execute(select(clients).where(clients.c.client_id == client_id)).first()
        return None if row is None else dict(row._mapping)

    # -- authorization codes and refresh tokens --------------------------------------------

    def save_code(self, code: str, values: dict[str, Any]) -> None:
        with self._lock, self.engine.begin() as con:
            con.execute(insert(codes).values(code_hash=hash_secret(code), **values))

    def take_code(self, code: str, client_id: str) -> dict[str, Any] | None:
        """The code's grant if it is valid for this client; a code works once."""
        with self._lock, self.engine.begin() as con:
            row = con.execute(
                select(codes).where(codes.c.code_hash == hash_secret(code)).with_for_update()
            ).first()
            if row is None or row.client_id != client_id:
                return None
            return dict(row._mapping) if row.expires > _now() else None

    def delete_code(self, code_hash: str) -> None:
        with self._lock, self.engine.begin() as con:
            con.execute(delete(codes).where(codes.c.code_hash == code_hash))

    def save_refresh(self, token: str, values: dict[str, Any]) -> None:
        with self._lock, self.engine.begin() as con:
            con.execute(insert(refresh).values(token_hash=hash_secret(token), **values))

    def refresh_token(self, token: str) -> dict[str, Any] | None:
        with self._rlock, self.reader.connect() as con:
            row = con.execute(
                select(refresh).where(refresh.c.token_hash == hash_secret(token))
            ).first()
        if row is None or row.revoked or row.expires <= _now():
            return None
        return dict(row._mapping)

    def revoke_refresh(self, token_hash: str) -> None:
        with self._lock, self.engine.begin() as con:
            con.execute(
                update(refresh).where(refresh.c.token_hash == token_hash).values(revoked=True)
            )

    # -- signing keys ----------------------------------------------------------------------

    def signing_keys(self) -> list[dict[str, Any]]:
        """All keys, newest first (retired ones stay published until they are dropped)."""
        with self._rlock, self.reader.connect() as con:
            rows = con.execute(select(keys).order_by(keys.c.created.desc(), keys.c.kid)).all()
        return [dict(r._mapping) for r in rows]

    def add_signing_key(self, kid: str, jwk: str, created: dt.datetime) -> None:
        with self._lock, self.engine.begin() as con:
            con.execute(update(keys).where(keys.c.retired.is_(None)).values(retired=created))
            con.execute(insert(keys).values(kid=kid, jwk=jwk, created=created, retired=None))

    def drop_signing_keys(self, retired_before: dt.datetime) -> int:
        with self._lock, self.engine.begin() as con:
            return int(con.execute(delete(keys).where(keys.c.retired < retired_before)).rowcount)
