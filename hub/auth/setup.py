"""Assembling identity for a hub from settings: the key ring, the built-in issuer, external
providers, the token verifier and the `Auth` dependencies; and the accounts a federation
starts with (the CLI's public client, people, service accounts)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hyperfed.hub.auth.deps import Auth
from hyperfed.hub.auth.issuer import CLI_CLIENT_ID, BuiltinIssuer, IssuerConfig, issuer_router
from hyperfed.hub.auth.keys import KeyRing
from hyperfed.hub.auth.principal import ROLES, Principal
from hyperfed.hub.auth.rules import HUB_RULES, Rules
from hyperfed.hub.auth.verify import ExternalProvider, LocalIssuer, ProviderConfig, TokenVerifier
from hyperfed.hub.db.store import HubStore

__all__ = [
    "Identity",
    "IdentitySettings",
    "ProviderSettings",
    "build_identity",
    "create_service_account",
    "create_user",
    "ensure_cli_client",
]


class ProviderSettings(BaseModel):
    """`[[identity.providers]]`: an external OIDC provider trusted by issuer URL."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: Annotated[str, Field(pattern=r"^https?://")]
    audience: str
    roles_claim: str = "roles"
    role_map: dict[str, str] = {}
    default_roles: list[str] = ["researcher"]
    leeway: Annotated[int, Field(ge=0, le=600)] = 60
    jwks_min_refresh: Annotated[float, Field(ge=0)] = 30.0
    jwks_max_age: Annotated[float, Field(gt=0)] = 600.0


class IdentitySettings(BaseModel):
    """`[identity]` of hub.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    issuer: Annotated[str, Field(pattern=r"^https?://")] = "http://127.0.0.1:8100"
    audience: str = "hyperfed-hub"
    access_ttl: Annotated[int, Field(ge=30, le=86400)] = 900
    refresh_ttl: Annotated[int, Field(ge=60)] = 30 * 24 * 3600
    key_rotation_days: Annotated[float | None, Field(gt=0)] = 90.0
    leeway: Annotated[int, Field(ge=0, le=600)] = 30
    providers: list[ProviderSettings] = []

    @field_validator("issuer")
    @classmethod
    def _https_unless_loopback(cls, v: str) -> str:
        """OAuth 2 needs TLS: the hub's public URL is https://, except on this machine."""
        host = urlsplit(v).hostname or ""
        if v.startswith("http://") and host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(
                f"{v!r}: the hub's public URL must be https:// (plain http only on "
                "127.0.0.1/localhost); behind a TLS proxy, give its https:// URL"
            )
        return v


@dataclass
class Identity:
    settings: IdentitySettings
    keyring: KeyRing
    issuer: BuiltinIssuer
    verifier: TokenVerifier
    auth: Auth

    async def aclose(self) -> None:
        await self.verifier.aclose()

    def router(self, title: str = "Hyperfed hub") -> APIRouter:
        return issuer_router(self.issuer, title)


def build_identity(
    store: HubStore,
    settings: IdentitySettings,
    http: httpx.AsyncClient | None = None,
    *,
    rules: Rules = HUB_RULES,
    nodes: Callable[[str], Awaitable[Principal]] | None = None,
) -> Identity:
    rotation = settings.key_rotation_days
    keyring = KeyRing(
        store.identity,
        keep_retired=dt.timedelta(seconds=settings.access_ttl * 2),
        rotate_after=None if rotation is None else dt.timedelta(days=rotation),
    )
    config = IssuerConfig(
        settings.issuer, settings.audience, settings.access_ttl, settings.refresh_ttl
    )
    issuer = BuiltinIssuer(store, keyring, config)
    external = [
        ExternalProvider(
            ProviderConfig(
                issuer=p.issuer,
                audience=p.audience,
                roles_claim=p.roles_claim,
                role_map=p.role_map,
                default_roles=p.default_roles,
                leeway=p.leeway,
                jwks_min_refresh=p.jwks_min_refresh,
                jwks_max_age=p.jwks_max_age,
            ),
            http,
        )
        for p in settings.providers
    ]
    local = LocalIssuer(settings.issuer, settings.audience, keyring, settings.leeway)
    verifier = TokenVerifier(local, external, nodes)
    auth = Auth(verifier.verify if settings.enabled else None, rules)
    return Identity(settings, keyring, issuer, verifier, auth)


def _roles(roles: Sequence[str]) -> list[str]:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValueError(f"unknown role(s) {unknown}; roles are {', '.join(ROLES)}")
    return sorted(set(roles))


def ensure_cli_client(store: HubStore) -> None:
    """The public client of `hyperfed login` (PKCE, loopback redirect on any port)."""
    store.identity.put_client(
        CLI_CLIENT_ID,
        secret=None,
        subject=None,
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=["http://127.0.0.1/callback", "http://localhost/callback"],
    )


def create_user(
    store: HubStore,
    subject: str,
    roles: Sequence[str],
    password: str,
    *,
    name: str = "",
    actor: str | None = None,
) -> None:
    store.identity.put_principal(subject, _roles(roles), name=name, password=password, actor=actor)


def create_service_account(
    store: HubStore, client_id: str, roles: Sequence[str], *, actor: str | None = None
) -> str:
    """A principal and a confidential client for the client-credentials grant (a script,
    a node's operator tooling); returns the client secret (shown once, stored hashed)."""
    store.identity.put_principal(client_id, _roles(roles), name=client_id, actor=actor)
    secret = secrets.token_urlsafe(32)
    store.identity.put_client(
        client_id, secret=secret, subject=client_id, grant_types=["client_credentials"]
    )
    return secret
