"""CDISC SDTM: a folder of domain datasets (SAS XPORT, CSV, define.xml) read into DuckDB in a
normalised layout a compiler queries with plain SQL, and the data-quality check.

    from hyperfed.adapters.sdtm import LoadOptions, check_folder, load_folder
    study = load_folder("/srv/trial", LoadOptions(exclude_arms=("SCRNFAIL",)))
    report = check_folder("/srv/trial")          # Report: problems with file, row, column

Importing this package is cheap: the loader (DuckDB, pyreadstat) loads on first use.

Errors::

    SdtmError
    ├── SdtmSourceError        the folder is missing, not a folder, or holds no dataset
    ├── SdtmRefused            start-up errors and on_error="refuse" (carries the Report)
    └── SdtmOptionError (also ValueError)   a load option is out of range
    (DefineError, a ValueError of `define`, never escapes: a broken define.xml is a warning)

Modules: `files` (which file is which dataset), `define` (define.xml), `reader` (one file into
DuckDB), `standard` (SDTMIG 3.3 tables), `dates` (the partial-date rule), `units` (SDTM unit
terms -> UCUM), `layout` and `qualifiers` (the normalised tables), `loader` (`load_folder`),
`checks*` (the data-quality checks), `report` (model-neutral `Problem`/`Report` and the rich
renderer), `cli` (`check` command).
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
    "SdtmError",
    "SdtmOptionError",
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
