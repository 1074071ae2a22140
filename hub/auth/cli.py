"""`hyperfed login` and `hyperfed token`, and how `hyperfed query` finds a token.

    hyperfed login --hub URL                 browser sign-in (authorization code + PKCE on a
                                             loopback redirect); --username/--password for
                                             scripts (the same flow, no browser)
    hyperfed token --hub URL                 prints a current access token (refreshes it)

Where a token comes from, in order (`bearer_for(hub)`):
1. `HYPERFED_TOKEN` in the environment;
2. the stored login for that hub (`$HYPERFED_HOME/tokens.json`, default
   `~/.config/hyperfed/tokens.json`, mode 0600), refreshed when it is about to expire;
3. client credentials `HYPERFED_CLIENT_ID` + `HYPERFED_CLIENT_SECRET` (a script, a node
   operator's tooling), fetched from the hub's token endpoint;
otherwise none (anonymous).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import json
import os
import secrets
import threading
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import typer

from hyperfed.hub.auth.issuer import CLI_CLIENT_ID
from hyperfed.hub.errors import HubError

__all__ = [
    "LoginError",
    "app",
    "bearer_for",
    "current_token",
    "login",
    "sign_in",
    "store_token",
    "stored",
    "tokens_file",
]

app = typer.Typer(help="Sign in to a hub; print its access token.", no_args_is_help=True)
MARGIN = 60  # seconds: a token this close to expiry is refreshed first


class LoginError(HubError):
    """Signing in failed, or there is no usable token (the message says what to do)."""


def tokens_file() -> Path:
    home = os.environ.get("HYPERFED_HOME")
    if home:
        return Path(home) / "tokens.json"
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "hyperfed" / "tokens.json"


def _key(hub: str) -> str:
    return hub.rstrip("/")


def _read() -> dict[str, Any]:
    path = tokens_file()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as exc:
        raise LoginError(
            f"{path}: unreadable ({type(exc).__name__}); delete it and sign in"
        ) from exc
    return data if isinstance(data, dict) else {}


def stored(hub: str) -> dict[str, Any] | None:
    entry = _read().get(_key(hub))
    return entry if isinstance(entry, dict) else None


def store_token(hub: str, entry: dict[str, Any]) -> Path:
    """Keep a token for `hub` (written atomically, readable by the user only)."""
    path = tokens_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = _read()
    data[_key(hub)] = entry
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)
    return path


def _discover(hub: str, client: httpx.Client) -> dict[str, Any]:
    try:
        r = client.get(f"{_key(hub)}/.well-known/openid-configuration")
        r.raise_for_status()
        doc: dict[str, Any] = r.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise LoginError(
            f"cannot read the sign-in settings of {hub} ({type(exc).__name__})"
        ) from exc
    return doc


def _entry(token: dict[str, Any], endpoint: str, kind: str) -> dict[str, Any]:
    return {
        "access_token": token["access_token"],
        "expires_at": time.time() + float(token.get("expires_in", 300)),
        "refresh_token": token.get("refresh_token"),
        "token_endpoint": endpoint,
        "client_id": CLI_CLIENT_ID,
        "kind": kind,
    }


def _token_request(
    client: httpx.Client, endpoint: str, data: dict[str, str], auth: tuple[str, str] | None = None
) -> dict[str, Any]:
    try:
        r = client.post(endpoint, data=data, auth=auth or httpx.USE_CLIENT_DEFAULT)
    except httpx.HTTPError as exc:
        raise LoginError(f"cannot reach {endpoint} ({type(exc).__name__})") from exc
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    if r.status_code != 200 or "access_token" not in body:
        reason = body.get("error_description") or body.get("error") or f"HTTP {r.status_code}"
        raise LoginError(f"the hub refused: {reason}")
    return dict(body)


class _Callback(http.server.BaseHTTPRequestHandler):
    result: dict[str, str]

    def do_GET(self) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        if urlsplit(self.path).path != "/callback":
            self.send_response(404)
            self.end_headers()
            return
        type(self).result.update(query)
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.end_headers()
        done = "error" not in query
        self.wfile.write(
            (
                "<p>Signed in: you can close this window.</p>"
                if done
                else "<p>Sign-in failed: see the terminal.</p>"
            ).encode()
        )

    def log_message(self, *_: Any) -> None:
        pass


def _browser_code(
    authorize: str,
    params: dict[str, str],
    open_browser: Callable[[str], Any],
    timeout: float,
    say: Callable[[str], None],
) -> tuple[str, str]:
    result: dict[str, str] = {}

    class handler(_Callback):
        pass

    handler.result = result
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    redirect = f"http://127.0.0.1:{server.server_address[1]}/callback"
    url = f"{authorize}?{urlencode({**params, 'redirect_uri': redirect})}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        say(f"Sign in in your browser: {url}")
        open_browser(url)
        deadline = time.monotonic() + timeout
        while not result and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.shutdown()
        server.server_close()
    if not result:
        raise LoginError(f"no sign-in within {timeout:.0f} s")
    if "code" not in result or result.get("state") != params["state"]:
        reason = result.get("error_description") or result.get("error")
        raise LoginError(f"sign-in failed: {reason or 'the answer does not match the request'}")
    return result["code"], redirect


def _password_code(
    client: httpx.Client, authorize: str, params: dict[str, str], username: str, password: str
) -> tuple[str, str]:
    redirect = "http://127.0.0.1/callback"
    url = f"{authorize}?{urlencode({**params, 'redirect_uri': redirect})}"
    r = client.post(url, data={"username": username, "password": password})
    if r.status_code == 401:
        raise LoginError("wrong user name or password")
    location = r.headers.get("location", "")
    query = parse_qs(urlsplit(location).query)
    if r.status_code != 302 or "code" not in query:
        raise LoginError(f"sign-in failed (HTTP {r.status_code})")
    return query["code"][0], redirect


def sign_in(
    hub: str,
    *,
    username: str | None = None,
    password: str | None = None,
    open_browser: Callable[[str], Any] = webbrowser.open,
    timeout: float = 300.0,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Sign in to `hub` (authorization code + PKCE: in a browser, or with `username` and
    `password`); the token entry, not stored (`login` stores it)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(16)
    params = {
        "response_type": "code",
        "client_id": CLI_CLIENT_ID,
        "scope": "openid",
        "state": state,
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    with httpx.Client(timeout=30) as client:
        doc = _discover(hub, client)
        if username is not None:
            code, redirect = _password_code(
                client, doc["authorization_endpoint"], params, username, password or ""
            )
        else:
            code, redirect = _browser_code(
                doc["authorization_endpoint"], params, open_browser, timeout, say
            )
        token = _token_request(
            client,
            doc["token_endpoint"],
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect,
                "client_id": CLI_CLIENT_ID,
                "code_verifier": verifier,
            },
        )
    return _entry(token, doc["token_endpoint"], "login")


def login(
    hub: str,
    *,
    username: str | None = None,
    password: str | None = None,
    open_browser: Callable[[str], Any] = webbrowser.open,
    timeout: float = 300.0,
    say: Callable[[str], None] = print,
) -> Path:
    """Sign in to `hub` (authorization code + PKCE) and store the tokens; returns where."""
    entry = sign_in(
        hub,
        username=username,
        password=password,
        open_browser=open_browser,
        timeout=timeout,
        say=say,
    )
    return store_token(hub, entry)


def _refresh(hub: str, entry: dict[str, Any]) -> str | None:
    if not entry.get("refresh_token"):
        return None
    with httpx.Client(timeout=30) as client, contextlib.suppress(LoginError):
        token = _token_request(
            client,
            entry["token_endpoint"],
            {
                "grant_type": "refresh_token",
                "refresh_token": entry["refresh_token"],
                "client_id": entry.get("client_id", CLI_CLIENT_ID),
            },
        )
        store_token(hub, _entry(token, entry["token_endpoint"], "login"))
        return str(token["access_token"])
    return None


def _client_credentials(hub: str) -> str | None:
    client_id = os.environ.get("HYPERFED_CLIENT_ID")
    secret = os.environ.get("HYPERFED_CLIENT_SECRET")
    if not client_id or not secret:
        return None
    with httpx.Client(timeout=30) as client:
        endpoint = _discover(hub, client)["token_endpoint"]
        token = _token_request(
            client, endpoint, {"grant_type": "client_credentials"}, auth=(client_id, secret)
        )
    return str(token["access_token"])


def bearer_for(hub: str) -> str | None:
    """The token `hyperfed query` sends to `hub`, or None (anonymous); see the module doc."""
    env = os.environ.get("HYPERFED_TOKEN")
    if env:
        return env
    entry = stored(hub)
    if entry is not None:
        if float(entry.get("expires_at", 0)) - MARGIN > time.time():
            return str(entry["access_token"])
        refreshed = _refresh(hub, entry)
        if refreshed:
            return refreshed
    return _client_credentials(hub)


def current_token(hub: str) -> str:
    token = bearer_for(hub)
    if token is None:
        raise LoginError(
            f"no token for {hub}: run `hyperfed login --hub {hub}` (or set "
            "HYPERFED_TOKEN, or HYPERFED_CLIENT_ID and HYPERFED_CLIENT_SECRET)"
        )
    return token


HubOpt = Annotated[str, typer.Option(help="hub base URL")]


@app.command("login")
def login_command(
    hub: HubOpt = "http://127.0.0.1:8100",
    username: Annotated[str | None, typer.Option(help="sign in without a browser")] = None,
    password: Annotated[
        str | None,
        typer.Option(envvar="HYPERFED_PASSWORD", help="with --username (or HYPERFED_PASSWORD)"),
    ] = None,
    no_browser: Annotated[bool, typer.Option(help="print the sign-in URL only")] = False,
) -> None:
    """Sign in to a hub; the token is stored where `hyperfed query` and `token` find it."""
    from hyperfed.hub.cli_common import fail, out

    try:
        path = login(
            hub,
            username=username,
            password=password,
            open_browser=(lambda _: None) if no_browser else webbrowser.open,
            say=lambda m: out.print(m, highlight=False),
        )
    except LoginError as exc:
        fail(str(exc), 1)
    out.print(f"signed in to {hub}; token stored in {path}", highlight=False)


@app.command("token")
def token_command(hub: HubOpt = "http://127.0.0.1:8100") -> None:
    """Print a current access token for the hub (for curl and scripts)."""
    from hyperfed.hub.cli_common import fail

    try:
        print(current_token(hub))
    except LoginError as exc:
        fail(str(exc), 1)
