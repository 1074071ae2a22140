"""What a database actually looks like: its tables and columns as stored, in any case.

Real sources are messy (upper-case CSV exports, text-typed numbers, half-filled tables), so
SQL compilers read names from here instead of assuming them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlglot import exp

from hyperfed.adapters.sql.build import table_expr, union_all
from hyperfed.adapters.sql.runner import Runner

__all__ = ["Table", "read_tables", "rows_present"]

_TEXT_TYPES = ("CHAR", "TEXT", "STRING", "VARCHAR")


@dataclass(frozen=True)
class Table:
    """A table as stored: its real name and its columns (lower-case name -> real name)."""

    name: str
    columns: dict[str, str]
    types: dict[str, str] = field(default_factory=dict)
    rows_present: bool = True

    def col(self, logical: str) -> str | None:
        return self.columns.get(logical.lower())

    def is_text(self, logical: str) -> bool:
        return any(t in self.types.get(logical.lower(), "").upper() for t in _TEXT_TYPES)


def read_tables(runner: Runner) -> dict[str, Table]:
    """Every table of `runner`'s schema (DuckDB: `main` unless named), keyed by lower-case
    name; when a table exists in two spellings, the lower-case one wins."""
    schema = runner.schema
    query = exp.select("table_name", "column_name", "data_type").from_(
        exp.table_("columns", db="information_schema")
    )
    if schema:
        query = query.where(exp.column("table_schema").eq(exp.Literal.string(schema)))
    elif runner.dialect == "duckdb":
        query = query.where(exp.column("table_schema").eq(exp.Literal.string("main")))
    spellings: dict[str, dict[str, dict[str, tuple[str, str]]]] = {}
    for table_name, column_name, data_type in runner.fetch(query.sql(dialect=runner.dialect)):
        cols = spellings.setdefault(str(table_name).lower(), {}).setdefault(str(table_name), {})
        cols[str(column_name).lower()] = (str(column_name), str(data_type))
    tables: dict[str, Table] = {}
    for key, by_spelling in spellings.items():
        chosen = key if key in by_spelling else sorted(by_spelling)[0]
        cols = by_spelling[chosen]
        tables[key] = Table(
            chosen, {k: v[0] for k, v in cols.items()}, {k: v[1] for k, v in cols.items()}
        )
    return tables


def rows_present(runner: Runner, tables: dict[str, Table], names: Iterable[str]) -> dict[str, bool]:
    """Which of the tables `names` (that exist) hold at least one row, in one query."""
    probe = [k for k in names if k in tables]
    if not probe:
        return {}
    selects = [
        exp.select(
            exp.Literal.string(k).as_("t"),
            exp.Exists(
                this=exp.select(exp.Literal.number(1))
                .from_(table_expr(runner.schema, tables[k].name))
                .limit(1)
            ).as_("e"),
        )
        for k in probe
    ]
    rows = runner.fetch(union_all(selects).sql(dialect=runner.dialect))
    return {str(t): bool(e) for t, e in rows}
