"""`hyperfed login` / `hyperfed token` and the token look-up of `hyperfed query`, against
the built-in issuer over real HTTP (the browser is a real HTTP client filling the login
page; the CLI's loopback server receives the code)."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from hyperfed.hub.auth import cli
from hyperfed.hub.auth.cli import LoginError, bearer_for, current_token, login, stored
from tests.hub.auth.conftest import Env


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HYPERFED_HOME", str(tmp_path))
    for var in ("HYPERFED_TOKEN", "HYPERFED_CLIENT_ID", "HYPERFED_CLIENT_SECRET"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def _who(env: Env, token: str) -> str:
    r = httpx.get(f"{env.hub}/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def _browser(url: str) -> None:
    """A person at a browser: open the page, type the password, follow the redirect."""

    def act() -> None:
        with httpx.Client(timeout=10) as b:
            page = b.get(url)
            action = re.search(r'action="([^"]+)"', page.text)
            assert action is not None
            base = url.split("/oauth/")[0]
            r = b.post(
                base + action.group(1).replace("&amp;", "&"),
                data={"username": "alice", "password": "alice-password"},
            )
            b.get(r.headers["location"])

    threading.Thread(target=act, daemon=True).start()


def test_browser_login_stores_a_token(env: Env, home: Path) -> None:
    path = login(env.hub, open_browser=_browser, timeout=20, say=lambda _: None)
    assert path == home / "tokens.json" and path.stat().st_mode & 0o777 == 0o600
    assert _who(env, current_token(env.hub)) == "alice"


def test_scripted_login_and_refresh(env: Env) -> None:
    login(env.hub, username="alice", password="alice-password")
    first = stored(env.hub)
    assert first is not None and _who(env, bearer_for(env.hub) or "") == "alice"
    # an access token about to expire is refreshed with the stored refresh token
    data = json.loads(cli.tokens_file().read_text())
    data[env.hub]["expires_at"] = 0
    cli.tokens_file().write_text(json.dumps(data))
    token = current_token(env.hub)
    assert token != first["access_token"] and _who(env, token) == "alice"
    assert stored(env.hub)["refresh_token"] != first["refresh_token"]  # type: ignore[index]
    with pytest.raises(LoginError, match="wrong user name or password"):
        login(env.hub, username="alice", password="nope")


def test_the_order_of_token_sources(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(LoginError, match="hyperfed login --hub"):
        current_token(env.hub)
    assert bearer_for(env.hub) is None
    monkeypatch.setenv("HYPERFED_CLIENT_ID", "svc-researcher")
    monkeypatch.setenv("HYPERFED_CLIENT_SECRET", env.secrets["svc-researcher"])
    assert _who(env, current_token(env.hub)) == "svc-researcher"
    login(env.hub, username="alice", password="alice-password")
    assert _who(env, current_token(env.hub)) == "alice"  # a stored login comes before
    monkeypatch.setenv("HYPERFED_TOKEN", "explicit")
    assert current_token(env.hub) == "explicit"


def test_the_typer_commands(env: Env) -> None:
    runner = CliRunner()
    r = runner.invoke(cli.app, ["token", "--hub", env.hub])
    assert r.exit_code == 1 and "hyperfed login" in r.output
    r = runner.invoke(
        cli.app, ["login", "--hub", env.hub, "--username", "alice", "--password", "alice-password"]
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli.app, ["token", "--hub", env.hub])
    assert r.exit_code == 0 and _who(env, r.output.strip()) == "alice"
