"""The shared SQL toolkit of SQL-based adapters (OMOP; SDTM, DICOM indexes and flattened
FHIR over DuckDB/PostgreSQL): read-only runners under deadlines, the case-insensitive table
catalogue read from information_schema, sqlglot builders, and the `SqlQuery` native query.

Errors: `SourceError` (cannot open or read the source) and `QueryTimeout` (the deadline
passed), both from `hyperfed.adapters.errors`.
"""

from hyperfed.adapters.sql.build import (
    age_in,
    date_key,
    date_key_expr,
    isin,
    num,
    table_expr,
    text_as_date,
    text_as_number,
    union_all,
)
from hyperfed.adapters.sql.catalog import Table, read_tables, rows_present
from hyperfed.adapters.sql.native import SqlQuery
from hyperfed.adapters.sql.runner import (
    DuckDBRunner,
    PostgresRunner,
    Runner,
    fetch_query,
    open_sql_source,
    resolve_sql_source,
)

__all__ = [
    "DuckDBRunner",
    "PostgresRunner",
    "Runner",
    "SqlQuery",
    "Table",
    "age_in",
    "date_key",
    "date_key_expr",
    "fetch_query",
    "isin",
    "num",
    "open_sql_source",
    "read_tables",
    "resolve_sql_source",
    "rows_present",
    "table_expr",
    "text_as_date",
    "text_as_number",
    "union_all",
]
