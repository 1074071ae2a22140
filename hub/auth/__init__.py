"""Identity and access for the hub: a built-in OAuth2/OIDC issuer (authlib), verification
of tokens of external OIDC providers, roles and the route rule table, FastAPI dependencies,
and the `hyperfed login` / `hyperfed token` CLI (hyperfed.hub.auth.cli).

    principal  Principal, ANONYMOUS, ROLES
    keys       KeyRing: ES256 signing keys with rotation, the JWKS
    issuer     BuiltinIssuer (authlib AuthorizationServer), issuer_router(...)
    verify     TokenVerifier, LocalIssuer, ExternalProvider(ProviderConfig)
    rules      HUB_RULES, routes_without_rules(app), owns(principal, owner)
    deps       Auth (current_principal, require, guard), install_auth_problems
    setup      IdentitySettings, build_identity(...), create_user, create_service_account
    cli        `hyperfed login`, `hyperfed token`, bearer_for(hub) for `hyperfed query`

Errors::

    TokenRejected          a bearer token is not acceptable (the reason; verify)
    AuthProblem            problem+json with headers (deps)
    ├── Unauthorized       401 + WWW-Authenticate (no, bad, expired, forged token)
    ├── Forbidden          403 (signed in, but not allowed)
    └── TooManyQueries     429 + Retry-After (a query budget is used up)
    LoginError             the CLI could not sign in or find a token (cli)
"""

from hyperfed.hub.auth.deps import (
    Auth,
    AuthProblem,
    Forbidden,
    TooManyQueries,
    Unauthorized,
    install_auth_problems,
)
from hyperfed.hub.auth.principal import ANONYMOUS, ROLES, Principal
from hyperfed.hub.auth.rules import HUB_RULES, owns, routes_without_rules
from hyperfed.hub.auth.setup import Identity, IdentitySettings, ProviderSettings, build_identity
from hyperfed.hub.auth.verify import TokenRejected, TokenVerifier

__all__ = [
    "ANONYMOUS",
    "HUB_RULES",
    "ROLES",
    "Auth",
    "AuthProblem",
    "Forbidden",
    "Identity",
    "IdentitySettings",
    "Principal",
    "ProviderSettings",
    "TokenRejected",
    "TokenVerifier",
    "TooManyQueries",
    "Unauthorized",
    "build_identity",
    "install_auth_problems",
    "owns",
    "routes_without_rules",
]
