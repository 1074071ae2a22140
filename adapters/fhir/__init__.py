"""FHIR R4 adapter: Bundles and Bulk Data NDJSON loaded into DuckDB and flattened by
SQL-on-FHIR v2 ViewDefinitions compiled to SQL.

    from hyperfed.adapters.fhir import load_fhir, run_view
    store = load_fhir("export/", cache="fhir.duckdb", on_error="serve")
    print(store.report.format())
    rows = run_view(store.con, {"resource": "Patient", "select": [...]}).dicts()

Modules: `fhirpath` (parser, SQL compiler, R4 schema), `viewdef` (ViewDefinition -> SELECT),
`run` (run / materialise views), `viewset` (the adapter's views in `views/`), `files`,
`ingest` and `load` (loading), `report` (LoadReport, Problem), `check` (validation with
fhir.resources), `dates` (FHIR date text -> DATE for compilers), `command` and `cli`
(`hyperfed fhir view`). Importing this package is
cheap: the names below load their modules on first use.

Errors::

    FhirError
    ├── ViewDefinitionError (also ValueError)   an invalid view (names the JSON path in it)
    │   └── FhirPathError                       an expression (names it)
    │       ├── FhirPathSyntaxError             not FHIRPath
    │       └── UnsupportedFhirPath             FHIRPath the engine does not compile
    ├── ViewRunError                            a view failed on the data
    └── SourceError                             input cannot be loaded, or was refused
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hyperfed.adapters.fhir.check import CheckReport, check_source
    from hyperfed.adapters.fhir.command import view_source, write_rows
    from hyperfed.adapters.fhir.dates import date_end_sql, date_start_sql
    from hyperfed.adapters.fhir.errors import (
        FhirError,
        FhirPathError,
        FhirPathSyntaxError,
        SourceError,
        UnsupportedFhirPath,
        ViewDefinitionError,
        ViewRunError,
    )
    from hyperfed.adapters.fhir.load import FhirStore, load_fhir
    from hyperfed.adapters.fhir.report import LoadReport, OnError, Problem
    from hyperfed.adapters.fhir.run import ViewResult, materialise_view, run_view
    from hyperfed.adapters.fhir.viewdef import CompiledView, ViewColumn, compile_view
    from hyperfed.adapters.fhir.viewset import VIEW_NAMES, adapter_views, table_name

__all__ = [
    "VIEW_NAMES",
    "CheckReport",
    "CompiledView",
    "FhirError",
    "FhirPathError",
    "FhirPathSyntaxError",
    "FhirStore",
    "LoadReport",
    "OnError",
    "Problem",
    "SourceError",
    "UnsupportedFhirPath",
    "ViewColumn",
    "ViewDefinitionError",
    "ViewResult",
    "ViewRunError",
    "adapter_views",
    "check_source",
    "compile_view",
    "date_end_sql",
    "date_start_sql",
    "load_fhir",
    "materialise_view",
    "run_view",
    "table_name",
    "view_source",
    "write_rows",
]

_WHERE = {
    "CheckReport": "check",
    "check_source": "check",
    "view_source": "command",
    "write_rows": "command",
    "date_end_sql": "dates",
    "date_start_sql": "dates",
    "FhirError": "errors",
    "FhirPathError": "errors",
    "FhirPathSyntaxError": "errors",
    "SourceError": "errors",
    "UnsupportedFhirPath": "errors",
    "ViewDefinitionError": "errors",
    "ViewRunError": "errors",
    "FhirStore": "load",
    "load_fhir": "load",
    "LoadReport": "report",
    "OnError": "report",
    "Problem": "report",
    "ViewResult": "run",
    "materialise_view": "run",
    "run_view": "run",
    "CompiledView": "viewdef",
    "ViewColumn": "viewdef",
    "compile_view": "viewdef",
    "VIEW_NAMES": "viewset",
    "adapter_views": "viewset",
    "table_name": "viewset",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
