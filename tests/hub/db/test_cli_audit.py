"""`hyperfed audit verify|export|check-export` and `hyperfed hub migrate` as typer apps."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import typer
from typer.testing import CliRunner

from hyperfed.hub.cli_audit import app, migrate_command
from hyperfed.hub.db import HubStore

runner = CliRunner()


def test_migrate_verify_export_and_a_broken_chain(tmp_path: Path) -> None:
    (tmp_path / "hub.toml").write_text('[hub]\ndatabase = "sqlite:///hub.db"\n')
    migrate = typer.Typer()
    migrate.command()(migrate_command)
    r = runner.invoke(migrate, ["--config", str(tmp_path / "hub.toml")])
    assert r.exit_code == 0 and "was empty" in r.output, r.output
    store = HubStore(f"sqlite:///{tmp_path / 'hub.db'}")
    for i in range(4):
        store.append("login", f"u{i}", {"i": i})
    store.close()
    config = ["--config", str(tmp_path / "hub.toml")]
    r = runner.invoke(app, ["verify", *config])
    assert r.exit_code == 0 and "intact: 4 records" in r.output, r.output
    head = r.output.split()[-1]
    export = tmp_path / "audit.jsonl"
    assert runner.invoke(app, ["export", *config, "--out", str(export)]).exit_code == 0
    assert len(export.read_text().splitlines()) == 4
    r = runner.invoke(app, ["check-export", str(export), "--head", head])
    assert r.exit_code == 0 and "intact" in r.output
    with sqlite3.connect(tmp_path / "hub.db") as con:
        con.execute("UPDATE audit_records SET actor = 'mallory' WHERE seq = 2")
    r = runner.invoke(app, ["verify", *config])
    assert r.exit_code == 1 and "broken at record 2" in r.output and "actor" in r.output
    lines = export.read_text().splitlines()
    export.write_text("\n".join(lines[:3]) + "\n")
    r = runner.invoke(app, ["check-export", str(export), "--head", head])
    assert r.exit_code == 1 and "broken" in r.output
    export.write_text("not json\n")
    r = runner.invoke(app, ["check-export", str(export)])
    assert r.exit_code == 2 and "line 1" in r.output
    r = runner.invoke(app, ["verify"])
    assert r.exit_code == 2 and "--database" in r.output
