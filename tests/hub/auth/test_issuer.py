"""The hub's built-in issuer over real HTTP: discovery, JWKS and rotation, client
credentials, the browser login (authorization code + PKCE) with its login page, refresh
tokens; logins and failed logins are audited."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.hub.auth.conftest import Env

REDIRECT = "http://127.0.0.1:53682/callback"


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def _authorize(env: Env, challenge: str | None, password: str = "alice-password") -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": "hyperfed-cli",
        "redirect_uri": REDIRECT,
        "state": "st4te",
        "scope": "openid",
    }
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    page = httpx.get(f"{env.hub}/oauth/authorize", params=params)
    if page.status_code != 200:
        return page
    assert 'name="password"' in page.text and "hyperfed-cli" in page.text
    action = re.search(r'action="([^"]+)"', page.text)
    assert action is not None
    url = env.hub + action.group(1).replace("&amp;", "&")
    return httpx.post(url, data={"username": "alice", "password": password})


def test_discovery_and_jwks(env: Env) -> None:
    doc = httpx.get(f"{env.hub}/.well-known/openid-configuration").json()
    assert doc["issuer"] == env.hub and doc["token_endpoint"] == f"{env.hub}/oauth/token"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    keys = httpx.get(doc["jwks_uri"]).json()["keys"]
    assert keys and all("d" not in k and k["kty"] == "EC" for k in keys)


def test_client_credentials(env: Env) -> None:
    token = env.token("svc-operator")
    me = httpx.get(f"{env.hub}/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["id"] == "svc-operator" and me["roles"] == ["operator"]
    bad = httpx.post(
        f"{env.hub}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("svc-operator", "wrong"),
    )
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    assert any(r["actor"] == "svc-operator" for r in env.store.records(kind="token"))


def test_browser_login_with_pkce_and_refresh(env: Env) -> None:
    verifier, challenge = _pkce()
    wrong = _authorize(env, challenge, password="guess")
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
    assert env.store.records(kind="login.failed")[0]["actor"] == "alice"
    r = _authorize(env, challenge)
    assert r.status_code == 302, r.text
    location = urlsplit(r.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["st4te"]
    code = query["code"][0]
    exchange = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": "hyperfed-cli",
    }
    wrong_verifier = httpx.post(
        f"{env.hub}/oauth/token", data={**exchange, "code_verifier": _pkce()[0]}
    )
    assert wrong_verifier.status_code == 400 and wrong_verifier.json()["error"] == "invalid_grant"
    tokens = httpx.post(f"{env.hub}/oauth/token", data={**exchange, "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert {"access_token", "refresh_token", "id_token", "expires_in"} <= set(body)
    me = httpx.get(f"{env.hub}/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {"id": "alice", "roles": ["researcher"], "name": "Alice"}
    again = httpx.post(f"{env.hub}/oauth/token", data={**exchange, "code_verifier": verifier})
    assert again.status_code == 400, "a code works once"
    assert env.store.records(kind="login")[0]["actor"] == "alice"
    refreshed = httpx.post(
        f"{env.hub}/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "client_id": "hyperfed-cli",
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refresh_token"] != body["refresh_token"]
    reused = httpx.post(
        f"{env.hub}/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "client_id": "hyperfed-cli",
        },
    )
    assert reused.status_code == 400, "a refresh token works once"


def test_a_public_client_must_use_pkce(env: Env) -> None:
    r = _authorize(env, None)
    assert r.status_code == 302
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    t = httpx.post(
        f"{env.hub}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": "hyperfed-cli",
        },
    )
    assert t.status_code == 400 and "code_verifier" in t.json()["error_description"]


def test_an_unregistered_redirect_is_not_followed(env: Env) -> None:
    r = httpx.get(
        f"{env.hub}/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": "hyperfed-cli",
            "redirect_uri": "https://evil.example/cb",
        },
    )
    assert r.status_code == 400 and "not valid" in r.text


def test_key_rotation_keeps_earlier_tokens_valid(env: Env) -> None:
    before = env.token("svc-researcher")
    kid = env.identity.keyring.rotate()
    keys = httpx.get(f"{env.hub}/oauth/jwks").json()["keys"]
    assert kid in {k["kid"] for k in keys} and len(keys) >= 2
    for token in (before, env.token("svc-researcher")):
        r = httpx.get(f"{env.hub}/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
