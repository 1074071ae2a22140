"""The hub's built-in OAuth2 / OpenID Connect issuer, on authlib's authorization server.

    GET  /.well-known/openid-configuration   discovery (and oauth-authorization-server)
    GET  /oauth/jwks                         the public signing keys (rotation: KeyRing)
    POST /oauth/token                        client_credentials (nodes, scripts),
                                             authorization_code + PKCE, refresh_token
    GET  /oauth/authorize                    a minimal login page for people
    POST /oauth/authorize                    checks the password, redirects with a code

Access tokens are ES256 JWTs (`typ: at+jwt`, RFC 9068) with `sub`, `roles`, `aud`; a request
with scope `openid` also gets an ID token. Public clients (the CLI) must use PKCE (S256);
loopback redirect URIs may use any port (RFC 8252). Logins and issued client tokens are
audited. `issuer_router(issuer)` is the APIRouter; `BuiltinIssuer` holds the server.
"""

from __future__ import annotations

import datetime as dt
import hmac
import html
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Request
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6749.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7636 import CodeChallenge
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from joserfc import jwt

from hyperfed.hub.auth.keys import ALG, KeyRing
from hyperfed.hub.db.identity import IdentityStore, hash_secret
from hyperfed.hub.db.store import HubStore

__all__ = ["CLI_CLIENT_ID", "BuiltinIssuer", "IssuerConfig", "issuer_router"]

CLI_CLIENT_ID = "hyperfed-cli"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class IssuerConfig:
    issuer: str  # the hub's public base URL, e.g. https://hub.example.org
    audience: str = "hyperfed-hub"
    access_ttl: int = 900  # seconds
    refresh_ttl: int = 30 * 24 * 3600
    code_ttl: int = 120


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _Client(ClientMixin):
    def __init__(self, row: Mapping[str, Any]) -> None:
        self.row = row

    @property
    def public(self) -> bool:
        return self.row["secret_hash"] is None

    def get_client_id(self) -> str:
        return str(self.row["client_id"])

    def get_default_redirect_uri(self) -> str | None:
        uris = self.row["redirect_uris"]
        return uris[0] if uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = {"openid", "profile", "offline_access"}
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        if redirect_uri in self.row["redirect_uris"]:
            return True
        got = urlsplit(redirect_uri)
        for uri in self.row["redirect_uris"]:
            want = urlsplit(uri)  # RFC 8252 7.3: a loopback redirect may use any port
            if (
                want.hostname in LOOPBACK
                and (got.scheme, got.hostname, got.path) == (want.scheme, want.hostname, want.path)
                and not got.query
            ):
                return True
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        stored = self.row["secret_hash"]
        return stored is not None and hmac.compare_digest(stored, hash_secret(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.row["grant_types"]

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.row["grant_types"]


@dataclass
class _User:
    subject: str

    def get_user_id(self) -> str:
        return self.subject


@dataclass
class _Code:
    row: dict[str, Any]

    @property
    def code_challenge(self) -> str | None:
        return self.row["code_challenge"]

    @property
    def code_challenge_method(self) -> str | None:
        return self.row["code_challenge_method"]

    def get_redirect_uri(self) -> str:
        return str(self.row["redirect_uri"])

    def get_scope(self) -> str:
        return str(self.row["scope"])


@dataclass
class _Refresh:
    row: dict[str, Any]

    def check_client(self, client: _Client) -> bool:
        return bool(self.row["client_id"] == client.get_client_id())

    def get_scope(self) -> str:
        return str(self.row["scope"])

    def is_expired(self) -> bool:
        return bool(self.row["expires"] <= _now())

    def is_revoked(self) -> bool:
        return bool(self.row["revoked"])


class _Request(OAuth2Request):
    def __init__(
        self,
        method: str,
        uri: str,
        headers: Mapping[str, str],
        args: dict[str, str],
        form: dict[str, str],
    ) -> None:
        super().__init__(method, uri, headers=headers)  # case-insensitive (Starlette)
        self._args = args
        self._form = form
        self.payload = BasicOAuth2Payload({**args, **form})

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ]

    def save_authorization_code(self, code: str, request: _Request) -> None:
        server: BuiltinIssuer = self.server
        data = request.payload.data
        server.identity.save_code(
            code,
            {
                "client_id": request.client.get_client_id(),
                "subject": request.user.subject,
                "redirect_uri": data.get("redirect_uri") or "",
                "scope": request.client.get_allowed_scope(data.get("scope")),
                "code_challenge": data.get("code_challenge"),
                "code_challenge_method": data.get("code_challenge_method"),
                "expires": _now() + dt.timedelta(seconds=server.config.code_ttl),
            },
        )

    def query_authorization_code(self, code: str, client: _Client) -> _Code | None:
        server: BuiltinIssuer = self.server
        row = server.identity.take_code(code, client.get_client_id())
        return None if row is None else _Code(row)

    def delete_authorization_code(self, authorization_code: _Code) -> None:
        server: BuiltinIssuer = self.server
        server.identity.delete_code(authorization_code.row["code_hash"])

    def authenticate_user(self, authorization_code: _Code) -> _User:
        return _User(authorization_code.row["subject"])


class _ClientGrant(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]


class _RefreshGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> _Refresh | None:
        server: BuiltinIssuer = self.server
        row = server.identity.refresh_token(refresh_token)
        return None if row is None else _Refresh(row)

    def authenticate_user(self, credential: _Refresh) -> _User:
        return _User(credential.row["subject"])

    def revoke_old_credential(self, refresh_token: _Refresh) -> None:
        server: BuiltinIssuer = self.server
        server.identity.revoke_refresh(refresh_token.row["token_hash"])


class BuiltinIssuer(AuthorizationServer):
    def __init__(self, store: HubStore, keyring: KeyRing, config: IssuerConfig) -> None:
        super().__init__(scopes_supported=["openid", "profile", "offline_access"])
        self.store = store
        self.identity: IdentityStore = store.identity
        self.keyring = keyring
        self.config = config
        self.register_grant(_CodeGrant, [CodeChallenge(required=True)])
        self.register_grant(_ClientGrant)
        self.register_grant(_RefreshGrant)
        self.register_token_generator("default", self._generate)

    # -- what authlib asks of a framework integration --------------------------------------

    def query_client(self, client_id: str) -> _Client | None:
        row = self.identity.client(client_id)
        return None if row is None else _Client(row)

    def save_token(self, token: dict[str, Any], request: _Request) -> None:
        subject = self._subject(request.client, request.user)
        if "refresh_token" in token:
            self.identity.save_refresh(
                token["refresh_token"],
                {
                    "client_id": request.client.get_client_id(),
                    "subject": subject,
                    "scope": token.get("scope", ""),
                    "expires": _now() + dt.timedelta(seconds=self.config.refresh_ttl),
                },
            )
        grant = request.payload.data.get("grant_type")
        if grant != "refresh_token":
            kind = "login" if grant == "authorization_code" else "token"
            self.store.append(
                kind, subject, {"client_id": request.client.get_client_id(), "grant": grant}
            )

    def create_oauth2_request(self, request: _Request) -> _Request:
        return request

    def create_json_request(self, request: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        headers = dict(headers or [])
        if status in (301, 302, 303, 307) and "Location" in headers:
            return RedirectResponse(headers.pop("Location"), status_code=302, headers=headers)
        return JSONResponse(body, status_code=status, headers=headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    # -- tokens ----------------------------------------------------------------------------

    def _subject(self, client: _Client, user: _User | None) -> str:
        if user is not None:
            return user.subject
        return str(client.row["subject"] or client.get_client_id())

    def _generate(
        self,
        grant_type: str,
        client: _Client,
        user: _User | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        subject = self._subject(client, user)
        found = self.identity.principal(subject)
        if found is None or found["disabled"]:
            raise _Denied(f"{subject!r} may not sign in")
        scope = client.get_allowed_scope(scope)
        ttl = self.config.access_ttl
        now = int(time.time())
        claims = {
            "iss": self.config.issuer,
            "sub": subject,
            "aud": self.config.audience,
            "iat": now,
            "exp": now + ttl,
            "jti": secrets.token_urlsafe(16),
            "client_id": client.get_client_id(),
            "roles": list(found["roles"]),
            "name": found["name"],
            "scope": scope,
        }
        token = {
            "token_type": "Bearer",
            "access_token": self.sign(claims, "at+jwt"),
            "expires_in": ttl,
            "scope": scope,
        }
        if include_refresh_token and grant_type != "client_credentials":
            token["refresh_token"] = secrets.token_urlsafe(32)
        if user is not None and "openid" in scope.split():
            token["id_token"] = self.sign(
                {
                    "iss": self.config.issuer,
                    "sub": subject,
                    "aud": client.get_client_id(),
                    "iat": now,
                    "exp": now + ttl,
                    "name": found["name"],
                },
                "JWT",
            )
        return token

    def sign(self, claims: dict[str, Any], typ: str) -> str:
        key = self.keyring.signing_key()
        return jwt.encode({"alg": ALG, "kid": key.kid, "typ": typ}, claims, key, algorithms=[ALG])

    def discovery(self) -> dict[str, Any]:
        base = self.config.issuer.rstrip("/")
        return {
            "issuer": self.config.issuer,
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "jwks_uri": f"{base}/oauth/jwks",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "scopes_supported": self.scopes_supported,
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [ALG],
            "claims_supported": ["sub", "name", "roles"],
        }


class _Denied(OAuth2Error):
    error = "access_denied"

    def __init__(self, description: str) -> None:
        super().__init__(description=description, status_code=400)


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Sign in to {title}</title><meta name="viewport" content="width=device-width">
<style>body{{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto}}
input{{display:block;width:100%;margin:.3rem 0 1rem;padding:.4rem}}
.err{{color:#b00}}</style></head><body><h1>Sign in</h1>
<p>to <b>{title}</b> for <code>{client}</code></p>{error}
<form method="post" action="{action}">
<label>User name<input name="username" autocomplete="username" required autofocus></label>
<label>Password<input name="password" type="password" autocomplete="current-password" required>
</label><button type="submit">Sign in</button></form></body></html>"""

_NO_STORE = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}


def _page(title: str, client: str, action: str, error: str = "", status: int = 200) -> HTMLResponse:
    body = _PAGE.format(
        title=html.escape(title),
        client=html.escape(client),
        action=html.escape(action),
        error=f'<p class="err">{html.escape(error)}</p>' if error else "",
    )
    return HTMLResponse(body, status_code=status, headers=_NO_STORE)


async def _oauth_request(request: Request, base: str) -> _Request:
    """The request as authlib takes it, at the hub's public URL (`base`, the issuer): behind
    a TLS-terminating proxy the hub itself is reached over plain HTTP, and the URL the
    client used is the public one."""
    form: dict[str, str] = {}
    if request.method == "POST":
        form = {k: str(v) for k, v in (await request.form()).items()}
    args = dict(request.query_params)
    query = f"?{request.url.query}" if request.url.query else ""
    uri = base.rstrip("/") + request.url.path + query
    return _Request(request.method, uri, request.headers, args, form)


def issuer_router(issuer: BuiltinIssuer, title: str = "Hyperfed hub") -> APIRouter:
    router = APIRouter(tags=["identity"])

    @router.get("/.well-known/openid-configuration")
    @router.get("/.well-known/oauth-authorization-server")
    async def discovery() -> dict[str, Any]:
        return issuer.discovery()

    @router.get("/oauth/jwks")
    async def jwks() -> JSONResponse:
        keys = await run_in_threadpool(issuer.keyring.jwks, True)
        return JSONResponse(keys, headers={"Cache-Control": "max-age=300"})

    @router.post("/oauth/token")
    async def token(request: Request) -> Response:
        oreq = await _oauth_request(request, issuer.config.issuer)
        response: Response = await run_in_threadpool(issuer.create_token_response, oreq)
        response.headers["Cache-Control"] = "no-store"
        return response

    @router.get("/oauth/authorize")
    async def authorize_page(request: Request) -> Response:
        oreq = await _oauth_request(request, issuer.config.issuer)
        try:
            await run_in_threadpool(issuer.get_consent_grant, oreq)
        except OAuth2Error as exc:
            return HTMLResponse(
                f"<!doctype html><p>This sign-in link is not valid: "
                f"{html.escape(exc.description or exc.error)}</p>",
                status_code=400,
                headers=_NO_STORE,
            )
        action = "/oauth/authorize?" + urlencode(oreq.args)
        return _page(title, oreq.args.get("client_id", ""), action)

    @router.post("/oauth/authorize")
    async def authorize(request: Request) -> Response:
        oreq = await _oauth_request(request, issuer.config.issuer)
        username = oreq.form.pop("username", "")
        password = oreq.form.pop("password", "")
        oreq.payload = BasicOAuth2Payload(oreq.args)
        action = "/oauth/authorize?" + urlencode(oreq.args)
        try:
            grant = await run_in_threadpool(issuer.get_consent_grant, oreq)
        except OAuth2Error as exc:
            return HTMLResponse(f"<p>{html.escape(exc.description or exc.error)}</p>", 400)
        found = await run_in_threadpool(issuer.identity.check_login, username, password)
        if found is None:
            await run_in_threadpool(
                issuer.store.append,
                "login.failed",
                username[:256] or None,
                {"client_id": oreq.args.get("client_id")},
            )
            client = oreq.args.get("client_id", "")
            return _page(title, client, action, "Wrong user name or password.", 401)
        response: Response = await run_in_threadpool(
            issuer.create_authorization_response, oreq, _User(found["subject"]), grant
        )
        return response

    return router
