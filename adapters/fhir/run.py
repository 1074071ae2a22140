"""Running compiled views in DuckDB (the I/O edge of the view engine).

    con = duckdb.connect()
    create_resource_table(con, resources)        # or a loaded cache (hyperfed.adapters.fhir.load)
    result = run_view(con, view_json)
    result.dicts()                               # [{"id": "pt1", ...}, ...]

`materialise_view` stores a view's rows as a table (what the loader does for the adapter's
own views). Runtime failures of a view become `ViewRunError` naming the view.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
from sqlglot import exp

from hyperfed.adapters.fhir.errors import ViewRunError
from hyperfed.adapters.fhir.viewdef import CompiledView, compile_view

__all__ = [
    "RESOURCE_TABLE",
    "ViewResult",
    "create_resource_table",
    "materialise_view",
    "run_view",
]

RESOURCE_TABLE = "fhir_resource"


@dataclass(frozen=True)
class ViewResult:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def create_resource_table(
    con: duckdb.DuckDBPyConnection,
    resources: Iterable[Mapping[str, Any]],
    table: str = RESOURCE_TABLE,
) -> int:
    """A small resource table from Python objects (tests, inline examples); returns its size.
    Large inputs go through `hyperfed.adapters.fhir.load`, which never loops in Python."""
    rows = [
        (
            str(r.get("resourceType")),
            None if r.get("id") is None else str(r.get("id")),
            json.dumps(r),
        )
        for r in resources
    ]
    name = exp.to_table(table).sql("duckdb")
    con.execute(f"CREATE OR REPLACE TABLE {name} (resource_type VARCHAR, id VARCHAR, json JSON)")
    if rows:
        con.executemany(f"INSERT INTO {name} VALUES (?, ?, ?)", rows)
    return len(rows)


def _compiled(view: CompiledView | Mapping[str, Any], table: str) -> CompiledView:
    return view if isinstance(view, CompiledView) else compile_view(dict(view), source=table)


def run_view(
    con: duckdb.DuckDBPyConnection,
    view: CompiledView | Mapping[str, Any],
    table: str = RESOURCE_TABLE,
) -> ViewResult:
    """Run one ViewDefinition (compiled or as JSON) and fetch its rows."""
    compiled = _compiled(view, table)
    try:
        cur = con.execute(compiled.sql())
        rows = cur.fetchall()
    except duckdb.Error as exc:
        raise ViewRunError(f"view {compiled.name!r} ({compiled.resource}): {_reason(exc)}") from exc
    return ViewResult(tuple(c.name for c in compiled.columns), rows)


def materialise_view(
    con: duckdb.DuckDBPyConnection,
    view: CompiledView | Mapping[str, Any],
    target: str,
    table: str = RESOURCE_TABLE,
) -> int:
    """CREATE OR REPLACE TABLE target AS the view's rows; returns the row count."""
    compiled = _compiled(view, table)
    name = exp.to_table(target).sql("duckdb")
    try:
        con.execute(f"CREATE OR REPLACE TABLE {name} AS {compiled.sql()}")
        row = con.execute(f"SELECT count(*) FROM {name}").fetchone()
    except duckdb.Error as exc:
        raise ViewRunError(f"view {compiled.name!r} ({compiled.resource}): {_reason(exc)}") from exc
    return int(row[0]) if row else 0


def _reason(exc: duckdb.Error) -> str:
    text = str(exc)
    for prefix in ("Invalid Input Error: ", "Conversion Error: "):
        text = text.removeprefix(prefix)
    return text.split("\n\nLINE")[0].strip()
