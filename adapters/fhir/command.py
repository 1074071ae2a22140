"""`hyperfed fhir view`: one ViewDefinition over a file or folder of FHIR resources.

    result, report = view_source("patients.json", "export/")
    write_rows(result, "csv", sys.stdout)

Only the resource type the view reads is loaded (in memory, nothing cached); bad input is
reported (`LoadReport`) and skipped, or refused with `on_error="refuse"`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any, Literal, TextIO

from hyperfed.adapters.fhir.errors import ViewDefinitionError
from hyperfed.adapters.fhir.load import load_fhir
from hyperfed.adapters.fhir.report import LoadReport, OnError
from hyperfed.adapters.fhir.run import ViewResult, run_view
from hyperfed.adapters.fhir.viewdef import compile_view

__all__ = ["OutputFormat", "read_view", "view_source", "write_rows"]

OutputFormat = Literal["json", "ndjson", "csv"]


def read_view(path: str | PathLike[str]) -> dict[str, Any]:
    """A ViewDefinition from a JSON file (errors name the file)."""
    p = Path(path)
    try:
        view = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ViewDefinitionError(str(p), f"cannot read: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ViewDefinitionError(str(p), f"not a JSON file: {exc}") from exc
    if not isinstance(view, dict):
        raise ViewDefinitionError(str(p), "a ViewDefinition must be a JSON object")
    return view


def view_source(
    view: str | PathLike[str] | Mapping[str, Any],
    source: str | PathLike[str],
    *,
    on_error: OnError = "serve",
) -> tuple[ViewResult, LoadReport]:
    """Run one ViewDefinition (a file or a parsed object) over FHIR files."""
    definition = dict(view) if isinstance(view, Mapping) else read_view(view)
    compiled = compile_view(definition)  # fail on a bad view before reading any data
    store = load_fhir(source, views={}, resource_types=[compiled.resource], on_error=on_error)
    try:
        return run_view(store.con, compiled), store.report
    finally:
        store.close()


def _cell(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def write_rows(result: ViewResult, fmt: OutputFormat, out: TextIO) -> None:
    """json: one array of objects (column names as keys); ndjson: one object per line;
    csv: a header, then the rows (collection columns as JSON text)."""
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(result.columns)
        for row in result.rows:
            writer.writerow(["" if v is None else _cell(v) for v in row])
        return
    objects = (dict(zip(result.columns, row, strict=True)) for row in result.rows)
    if fmt == "ndjson":
        for obj in objects:
            out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        return
    out.write("[")
    for i, obj in enumerate(objects):
        out.write(("," if i else "") + "\n  " + json.dumps(obj, ensure_ascii=False))
    out.write("\n]\n" if result.rows else "]\n")
