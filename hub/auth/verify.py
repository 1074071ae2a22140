"""Access-token verification: the hub's own issuer (keys from its `KeyRing`) and external
OpenID Connect providers configured by issuer URL (discovery, JWKS fetch, refetch on an
unknown key id for rotation, audience, expiry and clock-skew checks). `alg: none`, HMAC
algorithms, forged, expired, wrong-issuer and wrong-audience tokens raise `TokenRejected`
with a reason that the 401 carries."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from hyperfed.hub.auth.keys import KeyRing
from hyperfed.hub.auth.principal import Principal
from hyperfed.hub.errors import HubError

__all__ = [
    "ASYMMETRIC_ALGS",
    "ExternalProvider",
    "LocalIssuer",
    "ProviderConfig",
    "TokenRejected",
    "TokenVerifier",
]

ASYMMETRIC_ALGS = [
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "Ed25519",
]


class TokenRejected(HubError):
    """The bearer token is not acceptable; the message is the reason (no secrets in it)."""


def unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a compact JWT before verification (to choose the issuer only)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenRejected("the token is not a JWT")
    try:
        raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(raw)
    except (ValueError, json.JSONDecodeError) as exc:
        raise TokenRejected("the token is not a JWT") from exc
    if not isinstance(claims, dict):
        raise TokenRejected("the token is not a JWT")
    return claims


def _claim_path(claims: Mapping[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _decode(
    token: str,
    keys: KeySet,
    *,
    issuer: str,
    audience: str,
    leeway: int,
    algorithms: Sequence[str],
    now: Callable[[], float],
) -> dict[str, Any]:
    try:
        decoded = jwt.decode(token, keys, algorithms=list(algorithms))
    except UnsupportedAlgorithmError as exc:
        alg = _header(token).get("alg")
        raise TokenRejected(f"signing algorithm {alg!r} is not accepted") from exc
    except BadSignatureError as exc:
        raise TokenRejected("the token's signature is invalid") from exc
    except (JoseError, ValueError) as exc:
        raise TokenRejected(f"the token cannot be verified ({type(exc).__name__})") from exc
    registry = JWTClaimsRegistry(
        now=lambda: int(now()),
        leeway=leeway,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        sub={"essential": True},
    )
    try:
        registry.validate(decoded.claims)
    except ExpiredTokenError as exc:
        raise TokenRejected("the token has expired") from exc
    except MissingClaimError as exc:
        raise TokenRejected(f"the token lacks the claim {exc.claim!r}") from exc
    except InvalidClaimError as exc:
        claim = getattr(exc, "claim", "")
        if claim == "aud":
            raise TokenRejected(
                f"the token is not for this hub (audience must be {audience!r})"
            ) from exc
        if claim == "nbf" or claim == "iat":
            raise TokenRejected("the token is not valid yet") from exc
        raise TokenRejected(f"invalid claim {claim!r}") from exc
    except JoseError as exc:
        raise TokenRejected(f"invalid claims ({exc.description})") from exc
    return dict(decoded.claims)


def _header(token: str) -> dict[str, Any]:
    try:
        head = token.split(".")[0]
        value = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
        return value if isinstance(value, dict) else {}
    except (ValueError, json.JSONDecodeError):
        return {}


@dataclass(frozen=True)
class ProviderConfig:
    """An external OpenID Connect provider (LS Login, Keycloak ...), by issuer URL.

    Roles come from `roles_claim` (a dotted path, e.g. `realm_access.roles` for Keycloak,
    `eduperson_entitlement` for LS Login), mapped by `role_map` (provider value -> hub
    role); `default_roles` are given to every authenticated subject of this provider."""

    issuer: str
    audience: str
    roles_claim: str = "roles"
    role_map: Mapping[str, str] = field(default_factory=dict)
    default_roles: Sequence[str] = ("researcher",)
    leeway: int = 60
    algorithms: Sequence[str] = tuple(ASYMMETRIC_ALGS)
    jwks_min_refresh: float = 30.0  # seconds between two JWKS refetches on unknown key ids
    jwks_max_age: float = 600.0  # the JWKS is fetched again when it is older (dropped keys)


class ExternalProvider:
    def __init__(
        self,
        config: ProviderConfig,
        client: httpx.AsyncClient | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        """`client`: the HTTP client for discovery and JWKS; None makes one on first use
        (in the running event loop; `aclose()` closes it)."""
        self.config = config
        self._client = client
        self._own = client is None
        self.now = now
        self._keys: KeySet | None = None
        self._fetched = 0.0
        self._jwks_uri: str | None = None
        self._lock = asyncio.Lock()

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient()
        return self._client

    async def aclose(self) -> None:
        if self._own and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _discover(self) -> str:
        if self._jwks_uri is None:
            url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            try:
                r = await self.client.get(url, timeout=10)
                r.raise_for_status()
                doc = r.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise TokenRejected(
                    f"the issuer's discovery document cannot be read ({type(exc).__name__})"
                ) from exc
            if doc.get("issuer") != self.config.issuer:
                raise TokenRejected("the issuer's discovery document names another issuer")
            self._jwks_uri = str(doc["jwks_uri"])
        return self._jwks_uri

    async def keys(self, kid: str | None) -> KeySet:
        async with self._lock:
            known = self._keys is not None and (
                kid is None or any(k.kid == kid for k in self._keys.keys)
            )
            stale = self.now() - self._fetched >= self.config.jwks_min_refresh
            expired = self.now() - self._fetched >= self.config.jwks_max_age
            if self._keys is None or (not known and stale) or expired:
                uri = await self._discover()
                try:
                    r = await self.client.get(uri, timeout=10)
                    r.raise_for_status()
                    self._keys = KeySet.import_key_set(r.json())
                except (httpx.HTTPError, ValueError, JoseError) as exc:
                    raise TokenRejected(
                        f"the issuer's keys cannot be read ({type(exc).__name__})"
                    ) from exc
                self._fetched = self.now()
            return self._keys

    async def verify(self, token: str) -> Principal:
        kid = _header(token).get("kid")
        keys = await self.keys(kid if isinstance(kid, str) else None)
        if isinstance(kid, str) and not any(k.kid == kid for k in keys.keys):
            raise TokenRejected(f"the token's key {kid!r} is not among the issuer's keys")
        c = self.config
        claims = _decode(
            token,
            keys,
            issuer=c.issuer,
            audience=c.audience,
            leeway=c.leeway,
            algorithms=c.algorithms,
            now=self.now,
        )
        raw = _claim_path(claims, c.roles_claim) or []
        values = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list) else []
        roles = set(c.default_roles) | {c.role_map[v] for v in values if v in c.role_map}
        return Principal(
            id=f"{claims['sub']}@{c.issuer}",
            roles=frozenset(roles),
            name=str(claims.get("name") or claims.get("preferred_username") or ""),
            issuer=c.issuer,
            client_id=claims.get("azp") or claims.get("client_id"),
        )


class LocalIssuer:
    """Tokens of the hub's own issuer: verified against its key ring, roles from `roles`."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        keyring: KeyRing,
        leeway: int = 30,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.keyring = keyring
        self.leeway = leeway
        self.now = now

    async def verify(self, token: str) -> Principal:
        kid = _header(token).get("kid")
        keys = self.keyring.key_set(reload=kid not in self.keyring.kids())
        claims = _decode(
            token,
            keys,
            issuer=self.issuer,
            audience=self.audience,
            leeway=self.leeway,
            algorithms=["ES256"],
            now=self.now,
        )
        roles = claims.get("roles") or []
        return Principal(
            id=str(claims["sub"]),
            roles=frozenset(r for r in roles if isinstance(r, str)),
            name=str(claims.get("name") or ""),
            issuer=self.issuer,
            client_id=claims.get("client_id"),
        )


class TokenVerifier:
    """Chooses the issuer by the token's `iss` and verifies with it."""

    def __init__(
        self,
        local: LocalIssuer | None,
        external: Sequence[ExternalProvider] = (),
        nodes: Callable[[str], Awaitable[Principal]] | None = None,
    ) -> None:
        """`nodes` verifies a node's own assertion (issuer `node:<id>`, pull mode)."""
        self.local = local
        self.external = {p.config.issuer: p for p in external}
        self.nodes = nodes

    async def aclose(self) -> None:
        for p in self.external.values():
            await p.aclose()

    async def verify(self, token: str) -> Principal:
        iss = unverified_claims(token).get("iss")
        if self.local is not None and iss == self.local.issuer:
            return await self.local.verify(token)
        if self.nodes is not None and isinstance(iss, str) and iss.startswith("node:"):
            return await self.nodes(token)
        provider = self.external.get(iss) if isinstance(iss, str) else None
        if provider is None:
            raise TokenRejected(f"tokens of issuer {iss!r} are not accepted here")
        return await provider.verify(token)
