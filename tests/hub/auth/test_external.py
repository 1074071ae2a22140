"""Tokens of an external OIDC provider (a second, independent issuer on loopback): the hub
finds its keys by discovery, follows key rotation, and refuses expired, early, forged,
wrong-audience, wrong-issuer, `alg: none` and HMAC tokens with a 401 and the reason."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from tests.hub.auth.conftest import Env


def _me(env: Env, token: str) -> httpx.Response:
    return httpx.get(f"{env.hub}/me", headers={"Authorization": f"Bearer {token}"})


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_an_external_token_is_accepted_with_mapped_roles(env: Env) -> None:
    r = _me(env, env.external.mint())
    assert r.status_code == 200, r.text
    assert r.json() == {"id": f"u-123@{env.external.url}", "roles": ["researcher"], "name": "erin"}
    admin = env.external.mint(realm_access={"roles": ["hf-admin", "unmapped"]})
    assert _me(env, admin).json()["roles"] == ["admin"]


def test_key_rotation_is_followed(env: Env) -> None:
    ext = env.external
    old = ext.keys[0]
    ext.rotate()  # the new key signs; the old one is still published
    assert _me(env, ext.mint()).status_code == 200  # unknown kid: the JWKS is fetched again
    assert _me(env, ext.mint(key=old)).status_code == 200
    ext.rotate(drop_old=True)
    assert _me(env, ext.mint()).status_code == 200  # a new kid again: refetched
    r = _me(env, ext.mint(key=old))  # the dropped key is no longer trusted
    assert r.status_code == 401 and "not among the issuer's keys" in r.json()["detail"]


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"aud": "another-service"}, "not for this hub"),
        ({"sub": None}, "lacks the claim 'sub'"),
        ({"nbf": int(time.time()) + 600}, "not valid yet"),
    ],
)
def test_bad_claims_get_a_401_with_the_reason(env: Env, claims: dict, reason: str) -> None:
    r = _me(env, env.external.mint(**claims))
    assert r.status_code == 401, r.text
    assert reason in r.json()["detail"]
    assert r.headers["content-type"].startswith("application/problem+json")
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


def test_clock_skew_within_the_leeway_is_tolerated(env: Env) -> None:
    assert _me(env, env.external.mint(exp=int(time.time()) - 20)).status_code == 200


def test_an_unknown_issuer_is_refused(env: Env) -> None:
    r = _me(env, env.external.mint(iss="https://idp.elsewhere.example"))
    assert r.status_code == 401 and "not accepted here" in r.json()["detail"]


def test_alg_none_is_refused(env: Env) -> None:
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(env.external.claims())}."
    r = _me(env, token)
    assert r.status_code == 401 and "'none' is not accepted" in r.json()["detail"]


def test_a_forged_signature_is_refused(env: Env) -> None:
    kid = env.external.keys[0].kid
    forger = RSAKey.generate_key(2048, parameters={"kid": kid})
    r = _me(env, jwt.encode({"alg": "RS256", "kid": kid}, env.external.claims(), forger))
    assert r.status_code == 401 and "signature is invalid" in r.json()["detail"]
    # a token whose payload was edited after signing
    head, _, sig = env.external.mint().split(".")
    edited = f"{head}.{_b64(env.external.claims(realm_access={'roles': ['hf-admin']}))}.{sig}"
    assert _me(env, edited).status_code == 401


def test_an_hmac_token_keyed_with_the_public_key_is_refused(env: Env) -> None:
    public = json.dumps(env.external.keys[0].as_dict(private=False)).encode()
    key = OctKey.import_key(public)
    token = jwt.encode({"alg": "HS256"}, env.external.claims(), key)
    r = _me(env, token)
    assert r.status_code == 401 and "'HS256' is not accepted" in r.json()["detail"]


def test_garbage_and_wrong_schemes(env: Env) -> None:
    assert _me(env, "not-a-jwt").status_code == 401
    r = httpx.get(f"{env.hub}/me", headers={"Authorization": "Bearer"})
    assert r.status_code == 401 and "Bearer" in r.json()["detail"]
    basic = httpx.get(f"{env.hub}/me", headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401 and "sign in" in basic.json()["detail"]
    anonymous = httpx.get(f"{env.hub}/me")
    assert anonymous.status_code == 401 and "sign in" in anonymous.json()["detail"]
