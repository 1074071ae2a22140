"""Hub administration from the command line, on the hub's own database and key (no HTTP;
run it beside the hub, e.g. to make the first admin):

    hyperfed hub user NAME --role admin [--role ...] --config hub.toml [--password P]
    hyperfed hub client NAME --role researcher --config hub.toml
    hyperfed hub key --config hub.toml [--out hub.pub.jwk]

`user` creates a person who signs in with `hyperfed login` (or updates their roles and
password); without --password (or HYPERFED_PASSWORD) a random one is made and printed
once. `client` makes a service account for the client-credentials grant and prints its
secret once (the hub keeps only a hash). `key` prints the hub's task public key, which
every node's `[hub] public_key_file` holds. Each change of roles is an audit record.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hyperfed.hub.cli_common import fail, out

if TYPE_CHECKING:
    from hyperfed.hub.settings import HubSettings

__all__ = ["client_command", "key_command", "user_command"]

ConfigOpt = Annotated[Path, typer.Option(help="hub TOML file")]
RolesOpt = Annotated[
    list[str], typer.Option("--role", help="researcher, operator or admin (repeatable)")
]


def _settings(config: Path) -> HubSettings:
    from hyperfed.hub.settings import SettingsError, load_settings

    try:
        return load_settings(config)
    except SettingsError as exc:
        fail(str(exc))


def _database(config: Path) -> str:
    """The hub's database of `config` (refused when it is in memory: nothing would last)."""
    url = _settings(config).database
    if ":memory:" in url:
        fail(f"{config}: [hub] database is not set (the hub would keep its state in memory)")
    return url


def _roles(roles: list[str]) -> list[str]:
    from hyperfed.hub.auth import ROLES

    grantable = [r for r in ROLES if r not in ("anonymous", "node")]
    bad = sorted(set(roles) - set(grantable))
    if not roles or bad:
        fail(
            f"--role: give one or more of {', '.join(grantable)}" + (f" (not {bad})" if bad else "")
        )
    return sorted(set(roles))


def user_command(
    name: Annotated[str, typer.Argument(help="the user name they sign in with")],
    role: RolesOpt,
    config: ConfigOpt,
    password: Annotated[
        str | None, typer.Option(envvar="HYPERFED_PASSWORD", help="else a random one")
    ] = None,
    full_name: Annotated[str, typer.Option("--name", help="shown in the audit and /me")] = "",
) -> None:
    """Create a person (or set their roles and password)."""
    from hyperfed.hub.auth.setup import create_user
    from hyperfed.hub.db import HubStore

    roles = _roles(role)
    chosen = password or secrets.token_urlsafe(12)
    store = HubStore(_database(config), interrupt=False)
    try:
        create_user(store, name, roles, chosen, name=full_name or name, actor="cli")
    finally:
        store.close()
    out.print(f"user {name} ({', '.join(roles)})", highlight=False)
    if password is None:
        out.print(f"password: {chosen}", highlight=False)


def client_command(
    name: Annotated[str, typer.Argument(help="the client id")],
    role: RolesOpt,
    config: ConfigOpt,
) -> None:
    """Create a service account (client credentials) and print its secret once."""
    from hyperfed.hub.auth.setup import create_service_account
    from hyperfed.hub.db import HubStore

    roles = _roles(role)
    store = HubStore(_database(config), interrupt=False)
    try:
        secret = create_service_account(store, name, roles, actor="cli")
    finally:
        store.close()
    out.print(f"client_id: {name}\nclient_secret: {secret}", highlight=False)


def key_command(
    config: ConfigOpt,
    out_file: Annotated[Path | None, typer.Option("--out", help="write the JWK here")] = None,
) -> None:
    """Print the hub's task public key (JWK) for every node (its hub.public_key_file)."""
    from hyperfed.adapters.node.trust import load_or_create_key, public_jwk

    key_file = _settings(config).signing.key_file
    assert key_file is not None  # a hub read from a file always has one
    text = json.dumps(public_jwk(load_or_create_key(key_file)), indent=2)
    if out_file is None:
        print(text)
    else:
        out_file.write_text(text + "\n")
        out.print(f"wrote {out_file}", highlight=False)
