"""OMOP CDM adapter: HQL compiled to SQL with sqlglot, for DuckDB, PostgreSQL and any
sqlglot dialect.

Errors: `adapters.omop.runner.SourceError` (cannot open or query the source); a missing
PERSON table is a ValueError at start-up.
"""

from hyperfed.adapters.omop.adapter import OmopAdapter
from hyperfed.adapters.omop.compiler import Compiled
from hyperfed.adapters.omop.plans import compile_count
from hyperfed.adapters.omop.runner import SourceError, open_source
from hyperfed.adapters.omop.schema import CdmSchema, inspect_schema

__all__ = [
    "CdmSchema",
    "Compiled",
    "OmopAdapter",
    "SourceError",
    "compile_count",
    "inspect_schema",
    "open_source",
]
