"""The hub's side of 'nodes trust only their hub': it signs every task it sends.

`TaskSigner(key, issuer).sign(node, operation, body, ttl)` is the `Hyperfed-Task` JWT the
node verifies (`hyperfed.adapters.node.trust.TaskVerifier`); `headers(...)` is the hook
`HttpTransport(sign=...)` calls for pushed calls; pulled tasks carry the same token. The
key is an Ed25519 JWK file made once (`load_or_create_key`); nodes get its public half
(`public_jwk`) in their configuration.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from joserfc import jwt
from joserfc.jwk import OKPKey

from hyperfed.adapters.node.trust import ALG, TASK_HEADER, body_digest

__all__ = ["TaskSigner"]


class TaskSigner:
    def __init__(
        self,
        key: OKPKey,
        issuer: str,
        default_ttl: float = 30.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.key = key
        self.issuer = issuer
        self.default_ttl = default_ttl
        self.now = now
        self._kid = key.thumbprint()

    def sign(self, node_id: str, operation: str, body: bytes, ttl: float | None = None) -> str:
        t = self.now()
        claims = {
            "iss": self.issuer,
            "node": node_id,
            "op": operation,
            "nonce": secrets.token_urlsafe(18),
            "iat": int(t),
            "exp": int(t + (ttl or self.default_ttl)) + 1,
            "sha256": body_digest(body),
        }
        return jwt.encode({"alg": ALG, "kid": self._kid}, claims, self.key, algorithms=[ALG])

    def headers(
        self, node_id: str, operation: str, body: bytes | None, ttl: float | None
    ) -> dict[str, str]:
        return {TASK_HEADER: self.sign(node_id, operation, body or b"", ttl)}
