"""FHIR R4 adapter: Bundles and Bulk Data NDJSON loaded into DuckDB and flattened by
SQL-on-FHIR v2 ViewDefinitions compiled to SQL, queried with SQL; or a FHIR server's search
API (``http(s)://`` sources).

    from hyperfed.adapters.fhir import FhirAdapter, load_fhir, run_view
    adapter = FhirAdapter.from_source("export/", vocabulary="athena/")   # the contract
    store = load_fhir("export/", cache="fhir.duckdb", on_error="serve")
    print(store.report.format())
    rows = run_view(store.con, {"resource": "Patient", "select": [...]}).dicts()

Modules: `adapter` (FhirAdapter, FhirOptions), `events` (the event views a query reads),
`index` (which view holds which code), `compiler` and `plans` (HQL -> SQL over the views),
`vocab` (descendants from an OMOP vocabulary export), `rest/` (the FHIR search backend),
`fhirpath` (parser, SQL compiler, R4 schema), `viewdef` (ViewDefinition -> SELECT), `run`
(run / materialise views), `viewset` (the adapter's views in `views/`), `files`, `ingest` and
`load` (loading), `report` (LoadReport, Problem), `check` (validation with fhir.resources into
the shared Report), `dates` (FHIR date text -> DATE), `command` and `cli` (`hyperfed fhir
view`). Importing this package is cheap: the names below load their modules on first use.

Errors::

    FhirError
    ├── ViewDefinitionError (also ValueError)   an invalid view (names the JSON path in it)
    │   └── FhirPathError                       an expression (names it)
    │       ├── FhirPathSyntaxError             not FHIRPath
    │       └── UnsupportedFhirPath             FHIRPath the engine does not compile
    ├── ViewRunError                            a view failed on the data
    ├── SourceError (also the kit's SourceError) input cannot be loaded, or was refused
    └── RestError (also the kit's SourceError)   a FHIR server refused or failed a request
    QueryTimeout (hyperfed.adapters.errors)      the deadline passed
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hyperfed.adapters.fhir.adapter import FhirAdapter, FhirOptions
    from hyperfed.adapters.fhir.check import check_source
    from hyperfed.adapters.fhir.command import view_source, write_rows
    from hyperfed.adapters.fhir.dates import date_end_sql, date_start_sql
    from hyperfed.adapters.fhir.errors import (
        FhirError,
        FhirPathError,
        FhirPathSyntaxError,
        RestError,
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
    from hyperfed.adapters.fhir.vocab import AthenaVocabulary

__all__ = [
    "VIEW_NAMES",
    "AthenaVocabulary",
    "CompiledView",
    "FhirAdapter",
    "FhirError",
    "FhirOptions",
    "FhirPathError",
    "FhirPathSyntaxError",
    "FhirStore",
    "LoadReport",
    "OnError",
    "Problem",
    "RestError",
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
    "FhirAdapter": "adapter",
    "FhirOptions": "adapter",
    "AthenaVocabulary": "vocab",
    "check_source": "check",
    "view_source": "command",
    "write_rows": "command",
    "date_end_sql": "dates",
    "date_start_sql": "dates",
    "FhirError": "errors",
    "FhirPathError": "errors",
    "FhirPathSyntaxError": "errors",
    "RestError": "errors",
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
