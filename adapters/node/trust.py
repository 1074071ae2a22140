"""A node trusts only its hub: signed tasks, node keys and node assertions (Ed25519 JWS).

The hub signs every task it sends with its own key (`hyperfed.hub.signing.TaskSigner`):
a JWT in the `Hyperfed-Task` header (or in a pulled task) whose claims name the node, the
operation, a nonce, the deadline (`exp`) and the SHA-256 of the exact request body (the
query, its bindings and `deadline_ms`). `TaskVerifier.verify(token, body)` is what the node
calls before it counts: a forged, expired, replayed (nonce seen), misaddressed or altered
task raises `TaskRefused` with the reason.

A node has a key of its own (`load_or_create_key`), registered with the hub by its public
half. It signs `node_assertion`s (short-lived JWTs, issuer `node:<id>`) to authenticate to
the hub in pull mode, and `sign_result`s over what it posts back.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from hyperfed.adapters.errors import AdapterError

__all__ = [
    "ALG",
    "TASK_HEADER",
    "NonceCache",
    "TaskRefused",
    "TaskVerifier",
    "VerifiedTask",
    "body_digest",
    "load_or_create_key",
    "node_assertion",
    "public_jwk",
    "read_public_key",
    "sign_result",
    "verify_result",
]

ALG = "Ed25519"
TASK_HEADER = "Hyperfed-Task"


class TaskRefused(AdapterError):
    """A task (or a result) is not from whom it claims, or not for now; names the reason."""


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def load_or_create_key(path: Path) -> OKPKey:
    """The Ed25519 private key in `path` (a JWK), created (mode 0600) when absent."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = OKPKey.generate_key("Ed25519")
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(key.as_dict(private=True), f)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # another process may have made one meanwhile: keep that
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    try:
        key = OKPKey.import_key(json.loads(path.read_text()))
    except (ValueError, JoseError) as exc:
        raise TaskRefused(f"{path}: not an Ed25519 JWK ({type(exc).__name__})") from exc
    if key.as_dict().get("crv") != "Ed25519" or not key.is_private:
        raise TaskRefused(f"{path}: needs a private Ed25519 JWK")
    return key


def public_jwk(key: OKPKey) -> dict[str, Any]:
    return {**key.as_dict(private=False), "kid": key.thumbprint()}


def read_public_key(value: str | dict[str, Any]) -> OKPKey:
    """A public Ed25519 JWK (JSON text or dict); `ValueError` naming what is wrong."""
    try:
        data = json.loads(value) if isinstance(value, str) else value
        key = OKPKey.import_key(data)
    except (ValueError, TypeError, KeyError, JoseError) as exc:  # KeyError: an EC curve
        raise ValueError(f"not an Ed25519 public JWK ({type(exc).__name__})") from exc
    if key.as_dict().get("crv") != "Ed25519":
        raise ValueError("the key must be an Ed25519 (OKP) JWK")
    return OKPKey.import_key(key.as_dict(private=False))


class NonceCache:
    """Nonces seen, each kept until its task expires (then a replay fails on `exp`)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, nonce: str, until: float, now: float) -> bool:
        """False if the nonce was seen before (a replay)."""
        with self._lock:
            if len(self._seen) >= self.max_entries:
                self._seen = {n: t for n, t in self._seen.items() if t > now}
                if len(self._seen) >= self.max_entries:
                    raise TaskRefused("too many tasks in flight")
            if nonce in self._seen and self._seen[nonce] > now:
                return False
            self._seen[nonce] = until
            return True


@dataclass(frozen=True)
class VerifiedTask:
    node: str
    operation: str
    nonce: str
    expires: float


def _claims(token: str, key: OKPKey) -> dict[str, Any]:
    try:
        return dict(jwt.decode(token, key, algorithms=[ALG]).claims)
    except JoseError as exc:
        raise TaskRefused(f"the signature does not verify ({type(exc).__name__})") from exc
    except ValueError as exc:
        raise TaskRefused("not a signed task") from exc


class TaskVerifier:
    def __init__(
        self,
        hub_key: OKPKey | str | dict[str, Any],
        node_id: str,
        *,
        leeway: float = 5.0,
        now: Callable[[], float] = time.time,
        nonces: NonceCache | None = None,
    ) -> None:
        self.hub_key = hub_key if isinstance(hub_key, OKPKey) else read_public_key(hub_key)
        self.node_id = node_id
        self.leeway = leeway
        self.now = now
        self.nonces = nonces or NonceCache()

    def verify(self, token: str | None, body: bytes, operation: str = "count") -> VerifiedTask:
        if not token:
            raise TaskRefused(
                f"unsigned task: this node takes work only from its hub ({TASK_HEADER})"
            )
        c = _claims(token, self.hub_key)
        now = self.now()
        if c.get("node") != self.node_id:
            raise TaskRefused(f"the task is for node {c.get('node')!r}, not {self.node_id!r}")
        if c.get("op") != operation:
            raise TaskRefused(f"the task is signed for {c.get('op')!r}, not {operation!r}")
        exp, iat, nonce = c.get("exp"), c.get("iat"), c.get("nonce")
        if not isinstance(exp, int | float) or not isinstance(iat, int | float):
            raise TaskRefused("the task has no validity period")
        if now > exp + self.leeway:
            raise TaskRefused("the task has expired")
        if iat > now + self.leeway:
            raise TaskRefused("the task is dated in the future")
        if c.get("sha256") != body_digest(body):
            raise TaskRefused("the request body is not the one the hub signed")
        if not isinstance(nonce, str) or len(nonce) < 16:
            raise TaskRefused("the task has no nonce")
        if not self.nonces.add(nonce, float(exp) + self.leeway, now):
            raise TaskRefused("the task was already received (a replay)")
        return VerifiedTask(self.node_id, operation, nonce, float(exp))


def node_assertion(
    key: OKPKey, node_id: str, audience: str, ttl: int = 60, now: Callable[[], float] = time.time
) -> str:
    """A short-lived JWT by which a node proves it holds its registered key."""
    t = int(now())
    claims = {
        "iss": f"node:{node_id}",
        "sub": f"node:{node_id}",
        "aud": audience,
        "iat": t,
        "exp": t + ttl,
        "jti": secrets.token_urlsafe(16),
    }
    return jwt.encode({"alg": ALG, "kid": key.thumbprint()}, claims, key, algorithms=[ALG])


def sign_result(key: OKPKey, node_id: str, task_id: str, status: int, content: bytes) -> str:
    """A detached signature over a pulled task's answer (sent beside the raw body)."""
    payload = json.dumps(
        {"node": node_id, "task": task_id, "status": status, "sha256": body_digest(content)},
        sort_keys=True,
    ).encode()
    return jws.serialize_compact({"alg": ALG}, payload, key, algorithms=[ALG])


def verify_result(signature: str, key: OKPKey, node_id: str, task_id: str, content: bytes) -> int:
    """The status the node signed for this task and body; `TaskRefused` otherwise."""
    try:
        obj = jws.deserialize_compact(signature, key, algorithms=[ALG])
        payload = json.loads(obj.payload)
    except (JoseError, ValueError) as exc:
        raise TaskRefused(f"the result's signature does not verify ({type(exc).__name__})") from exc
    if payload.get("node") != node_id or payload.get("task") != task_id:
        raise TaskRefused("the result is signed for another node or task")
    if payload.get("sha256") != body_digest(content):
        raise TaskRefused("the result body is not the one the node signed")
    status = payload.get("status")
    if not isinstance(status, int):
        raise TaskRefused("the result has no status")
    return status
