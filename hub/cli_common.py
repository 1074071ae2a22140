"""What every `hyperfed` command shares: the consoles and failing with a clear message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console

__all__ = ["err", "fail", "out", "read_json"]

err = Console(stderr=True)
out = Console()


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        fail(f"file not found: {path}")
    except UnicodeDecodeError as exc:
        fail(f"{path} is not UTF-8 text (byte {exc.start})")
    except json.JSONDecodeError as exc:
        fail(f"{path} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
