"""CDISC SDTM: a folder of domain datasets (SAS XPORT, CSV, define.xml) read into DuckDB in a
normalised layout, queried with SQL compiled from HQL, and the data-quality check.

    from hyperfed.adapters.sdtm import SdtmAdapter, check_folder, load_folder
    adapter = SdtmAdapter.from_source("/srv/trial", exclude_arms=["SCRNFAIL"])
    adapter.count(query, bindings)               # exact counts (never leave the node)
    report = check_folder("/srv/trial")          # Report: problems with file, row, column

Importing this package is cheap: the loader (DuckDB, pyreadstat) loads on first use.

Errors (under the kit's `AdapterError`)::

    SdtmError (AdapterError)
    ├── SdtmSourceError (also SourceError)   the folder is missing, not a folder, holds no
    │                                        dataset, or its cache file cannot be used
    ├── SdtmRefused (also SourceError)       start-up errors and on_error="refuse" (carries
    │                                        the Report)
    └── SdtmOptionError (also ValueError)    a load option is out of range
    (DefineError, a ValueError of `define`, never escapes: a broken define.xml is a warning)

Modules: `adapter` (`SdtmAdapter`, `SdtmOptions`), `bindings` (the `sdtm` binding kind),
`schema` (what the adapter inspects), `compiler` and `plans` (HQL -> SQL), `cache` (the
DuckDB cache file), `files` (which file is which dataset), `define` (define.xml), `reader`
(one file into DuckDB), `standard` (SDTMIG 3.3 tables), `dates` (the partial-date rule),
`units` (SDTM unit terms -> UCUM), `layout` and `qualifiers` (the normalised tables),
`loader` (`load_folder`), `checks*` (the data-quality checks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hyperfed.adapters.checks import Problem, Report, Severity, render_report
from hyperfed.adapters.sdtm.errors import (
    SdtmError,
    SdtmOptionError,
    SdtmRefused,
    SdtmSourceError,
)

if TYPE_CHECKING:
    from hyperfed.adapters.sdtm.adapter import SdtmAdapter, SdtmOptions
    from hyperfed.adapters.sdtm.bindings import SdtmBinding
    from hyperfed.adapters.sdtm.checks import check_folder, check_study
    from hyperfed.adapters.sdtm.layout import TABLE_COLUMNS
    from hyperfed.adapters.sdtm.loader import Dataset, LoadOptions, Study, load_folder
    from hyperfed.adapters.sdtm.units import ucum_for

__all__ = [
    "TABLE_COLUMNS",
    "Dataset",
    "LoadOptions",
    "Problem",
    "Report",
    "SdtmAdapter",
    "SdtmBinding",
    "SdtmError",
    "SdtmOptionError",
    "SdtmOptions",
    "SdtmRefused",
    "SdtmSourceError",
    "Severity",
    "Study",
    "check_folder",
    "check_study",
    "load_folder",
    "render_report",
    "ucum_for",
]

_LAZY = {
    "SdtmAdapter": "adapter",
    "SdtmOptions": "adapter",
    "SdtmBinding": "bindings",
    "check_folder": "checks",
    "check_study": "checks",
    "TABLE_COLUMNS": "layout",
    "Dataset": "loader",
    "LoadOptions": "loader",
    "Study": "loader",
    "load_folder": "loader",
    "ucum_for": "units",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{module}"), name)
