"""OMOP CDM adapter: HQL compiled to SQL with sqlglot, for DuckDB, PostgreSQL and any
sqlglot dialect.

Modules: `tables` (the CDM tables the compiler reads, OMOP vocabularies), `schema` (what a
database really holds), `vocab` (codes -> concept ids through the node's own vocabulary),
`compiler` (predicates), `plans` (how a count is assembled), `adapter` (the contract).

Errors: `SourceError` (hyperfed.adapters.errors) when the source cannot be opened or has no
usable PERSON table; `QueryTimeout` when the deadline passes.
"""

from hyperfed.adapters.omop.adapter import OmopAdapter, OmopOptions
from hyperfed.adapters.omop.plans import compile_count
from hyperfed.adapters.omop.schema import CdmSchema, inspect_schema

__all__ = ["CdmSchema", "OmopAdapter", "OmopOptions", "compile_count", "inspect_schema"]
