"""The built-in issuer's signing keys (ES256) with rotation: the newest key signs, retired
keys stay in the JWKS until every token they signed has expired, then they are dropped."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
from typing import Any

from joserfc.jwk import ECKey, KeySet

from hyperfed.hub.db.identity import IdentityStore

__all__ = ["ALG", "KeyRing"]

ALG = "ES256"


class KeyRing:
    def __init__(
        self,
        store: IdentityStore,
        *,
        keep_retired: dt.timedelta,
        rotate_after: dt.timedelta | None = None,
    ) -> None:
        self.store = store
        self.keep_retired = keep_retired
        self.rotate_after = rotate_after
        self._lock = threading.Lock()
        self._rows: list[dict[str, Any]] = []
        self._public: dict[str, Any] = {"keys": []}
        self._keyset: KeySet | None = None
        self._signing: ECKey | None = None

    def _load(self) -> list[dict[str, Any]]:
        self._rows = self.store.signing_keys()
        self._public = {"keys": [_public(r["jwk"]) for r in self._rows]}
        self._keyset = KeySet.import_key_set(self._public) if self._rows else None  # type: ignore[arg-type]
        current = next((r for r in self._rows if r["retired"] is None), None)
        self._signing = None if current is None else ECKey.import_key(json.loads(current["jwk"]))
        return self._rows

    def rotate(self, now: dt.datetime | None = None) -> str:
        """A new signing key; the current one is retired (still published)."""
        now = now or dt.datetime.now(dt.UTC)
        kid = f"{now:%Y%m%d%H%M%S}-{secrets.token_hex(4)}"
        key = ECKey.generate_key("P-256", parameters={"kid": kid, "alg": ALG, "use": "sig"})
        with self._lock:
            self.store.add_signing_key(kid, json.dumps(key.as_dict(private=True)), now)
            self.store.drop_signing_keys(now - self.keep_retired)
            self._load()
        return kid

    def signing_key(self, now: dt.datetime | None = None) -> ECKey:
        now = now or dt.datetime.now(dt.UTC)
        rows = self._rows or self._load()
        current = next((r for r in rows if r["retired"] is None), None)
        if current is None or (
            self.rotate_after is not None and now - current["created"] > self.rotate_after
        ):
            self.rotate(now)
        assert self._signing is not None
        return self._signing

    def jwks(self, reload: bool = False) -> dict[str, Any]:
        """The public keys (current and retired-but-kept), as a JWK Set document."""
        if reload or not self._rows:
            self._load()
        if not self._rows:
            self.signing_key()
        return self._public

    def key_set(self, reload: bool = False) -> KeySet:
        self.jwks(reload)
        assert self._keyset is not None
        return self._keyset

    def kids(self) -> set[str]:
        return {k["kid"] for k in self.jwks()["keys"]}


def _public(jwk: str) -> dict[str, Any]:
    key = ECKey.import_key(json.loads(jwk))
    return dict(key.as_dict(private=False))
