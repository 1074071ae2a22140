"""The adapter's own ViewDefinitions (JSON files shipped in `views/`), operator-overridable.

    views = adapter_views()                          # {"patient": {...}, "condition": {...}}
    views = adapter_views(["/etc/hyperfed/fhir-views/"])  # files or folders of *.json

An override replaces the shipped view with the same `name` (or adds a view); every view is
compiled once here so a broken override fails at start-up, naming its file. The loader
stores view `NAME` as table `v_NAME` (see `table_name`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

from hyperfed.adapters.fhir.errors import ViewDefinitionError
from hyperfed.adapters.fhir.viewdef import compile_view

__all__ = ["VIEW_NAMES", "adapter_views", "table_name"]

VIEW_NAMES = (
    "patient",
    "condition",
    "condition_body_site",
    "observation",
    "procedure",
    "procedure_body_site",
    "medication_request",
    "medication_statement",
    "medication_administration",
    "medication",
    "immunization",
    "encounter",
    "imaging_study",
    "diagnostic_report",
    "allergy_intolerance",
)


def table_name(view_name: str) -> str:
    """The DuckDB table the loader materialises a view into."""
    return f"v_{view_name}"


def _read(text: str, origin: str) -> dict[str, Any]:
    try:
        view = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ViewDefinitionError(origin, f"invalid JSON (line {exc.lineno}): {exc.msg}") from exc
    if not isinstance(view, dict) or not isinstance(view.get("name"), str):
        raise ViewDefinitionError(origin, "a ViewDefinition object with a 'name' is needed")
    try:
        compile_view(view)
    except ViewDefinitionError as exc:
        raise ViewDefinitionError(origin, str(exc)) from exc
    return view


def _files(paths: Iterable[str | PathLike[str]]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(p.glob("*.json"))
        elif p.is_file():
            out.append(p)
        else:
            raise ViewDefinitionError(str(p), "no such ViewDefinition file or folder")
    return out


def adapter_views(overrides: Iterable[str | PathLike[str]] = ()) -> dict[str, dict[str, Any]]:
    """The shipped views by name, with `overrides` (files or folders) applied."""
    folder = resources.files("hyperfed.adapters.fhir").joinpath("views")
    views: dict[str, dict[str, Any]] = {}
    for name in VIEW_NAMES:
        item = folder.joinpath(f"{name}.json")
        views[name] = _read(item.read_text(encoding="utf-8"), f"views/{name}.json")
    for f in _files(overrides):
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ViewDefinitionError(str(f), f"cannot read: {exc}") from exc
        view = _read(text, str(f))
        views[view["name"]] = view
    return views
