"""The `[hub]` section of node.toml and `hyperfed node key`, through the real command line:
the key it prints is the public half of the key file, and a bad `[hub]` stops the node
with exit status 2 and a message naming the field."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc.jwk import OKPKey

from hyperfed.adapters.node.config import ConfigError, load_node_config
from hyperfed.adapters.node.trust import public_jwk


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hyperfed.hub.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "300"},
    )


def _config(tmp_path: Path, hub: str, source: str = "duckdb:///nowhere.duckdb") -> Path:
    path = tmp_path / "node.toml"
    path.write_text(f'[node]\nid = "site-a"\nsource = "{source}"\n\n{hub}')
    return path


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_node_key_prints_the_public_half_of_the_key_file(tmp_path: Path) -> None:
    config = _config(tmp_path, "")
    first = run("node", "key", "--config", str(config))
    assert first.returncode == 0, first.stderr
    printed = json.loads(first.stdout)
    key_file = tmp_path / "site-a.key"  # the default: <node id>.key beside the config
    assert "created" in first.stderr and str(key_file) in first.stderr
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    private = json.loads(key_file.read_text())
    assert "d" not in printed and printed["kty"] == "OKP" and printed["crv"] == "Ed25519"
    assert printed["x"] == private["x"]
    # the public half, derived from the private bytes by another library
    raw = (
        Ed25519PrivateKey.from_private_bytes(_b64(private["d"]))
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    assert _b64(printed["x"]) == raw
    again = run("node", "key", "--config", str(config))
    assert again.returncode == 0 and json.loads(again.stdout) == printed  # kept, not remade
    assert "created" not in again.stderr


def test_node_key_uses_the_configured_key_file(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    config = _config(tmp_path, '[hub]\nkey_file = "keys/own.jwk"\n')
    r = run("node", "key", "--config", str(config))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["x"] == json.loads((tmp_path / "keys/own.jwk").read_text())["x"]
    assert not (tmp_path / "site-a.key").exists()


HUB_KEY = json.dumps(public_jwk(OKPKey.generate_key("Ed25519")))


@pytest.mark.parametrize(
    ("hub", "files", "message"),
    [
        ('[hub]\nmode = "pull"\n', {}, 'hub.url: required when mode = "pull"'),
        ('[hub]\nmode = "poll"\nurl = "http://hub"\n', {},
         "hub.mode: Input should be 'push' or 'pull'"),
        ('[hub]\nurl = "ftp://hub.example"\n', {}, "hub.url: String should match pattern"),
        ('[hub]\nendpoint = "http://hub"\n', {}, "hub.endpoint: Extra inputs are not permitted"),
        ('[hub]\naudience = ""\n', {}, "hub.audience: String should have at least 1 character"),
        ('[hub]\npublic_key_file = "hub.pub.jwk"\n', {}, "hub.public_key_file: cannot read"),
        ('[hub]\npublic_key_file = "hub.pub.jwk"\n', {"hub.pub.jwk": "{not json"},
         "hub.public_key_file: "),
        ('[hub]\npublic_key_file = "hub.pub.jwk"\n',
         {"hub.pub.jwk": json.dumps({"kty": "oct", "k": "c2VjcmV0"})}, "hub.public_key_file: "),
        ('[hub]\nkey_file = "bad.key"\n', {"bad.key": HUB_KEY}, "hub.key_file: "),
    ],
    ids=["pull-without-url", "bad-mode", "bad-url", "unknown-key", "empty-audience",
         "missing-hub-key", "hub-key-not-json", "hub-key-not-ed25519", "own-key-public-only"],
)  # fmt: skip
def test_a_bad_hub_section_is_exit_2_naming_the_field(
    tmp_path: Path, hub: str, files: dict[str, str], message: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    config = _config(tmp_path, hub)
    command = "key" if "key_file" in hub else "serve"
    r = run("node", command, "--config", str(config))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in r.stderr, r.stderr
    if "_file" in hub:  # the message names the file too
        name = next(iter(files), "hub.pub.jwk")
        assert str(tmp_path / name) in r.stderr, r.stderr


def test_the_hub_section_defaults_and_paths(tmp_path: Path) -> None:
    (tmp_path / "hub.pub.jwk").write_text(HUB_KEY)
    plain = load_node_config(_config(tmp_path, ""))
    assert plain.hub.mode == "push" and plain.hub.audience == "hyperfed-hub"
    assert plain.hub_public_key() is None and plain.node_key_path() == tmp_path / "site-a.key"
    pulled = load_node_config(
        _config(
            tmp_path,
            '[hub]\nmode = "pull"\nurl = "https://hub.example.org"\n'
            'public_key_file = "hub.pub.jwk"\naudience = "fed-x"\n',
        )
    )
    key = pulled.hub_public_key()
    assert key is not None and key.as_dict()["x"] == json.loads(HUB_KEY)["x"]
    assert (pulled.hub.url, pulled.hub.audience) == ("https://hub.example.org", "fed-x")
    (tmp_path / "hub.pub.jwk").unlink()
    with pytest.raises(ConfigError, match=r"hub\.public_key_file: cannot read .*hub\.pub\.jwk"):
        pulled.hub_public_key()
