"""A second, independent OpenID Connect issuer for the tests (RS256, its own code: only
joserfc in common with the hub): discovery, a JWKS with key rotation, and tokens minted
with whatever claims a test needs (an external provider such as Keycloak or LS Login)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import RSAKey


class ExternalIssuer:
    def __init__(self) -> None:
        self.url = ""  # set once served
        self.keys: list[RSAKey] = [self._new_key("ext-1")]
        self.discovery_calls = 0
        self.jwks_calls = 0

    @staticmethod
    def _new_key(kid: str) -> RSAKey:
        return RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256", "use": "sig"})

    def rotate(self, drop_old: bool = False) -> None:
        new = self._new_key(f"ext-{len(self.keys) + 1}")
        self.keys = [new] if drop_old else [new, *self.keys]

    def claims(self, **over: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {
            "iss": self.url,
            "sub": "u-123",
            "aud": "hyperfed-hub",
            "iat": now,
            "exp": now + 300,
            "preferred_username": "erin",
            "realm_access": {"roles": ["hf-researcher"]},
        }
        base.update(over)
        return {k: v for k, v in base.items() if v is not None}

    def mint(self, key: RSAKey | None = None, **over: Any) -> str:
        key = key or self.keys[0]
        return jwt.encode({"alg": "RS256", "kid": key.kid}, self.claims(**over), key)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, Any]:
            self.discovery_calls += 1
            return {
                "issuer": self.url,
                "jwks_uri": f"{self.url}/certs",
                "token_endpoint": f"{self.url}/token",
            }

        @app.get("/certs")
        def certs() -> dict[str, Any]:
            self.jwks_calls += 1
            return {"keys": [k.as_dict(private=False) for k in self.keys]}

        return app
