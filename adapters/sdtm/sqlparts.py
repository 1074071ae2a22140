"""Small SQL builders for the loader: quoted identifiers and literals rendered by sqlglot, so
names read from the files (column names, IDVAR values) are always quoted identifiers and
values are always literals, never SQL text. Column helpers qualify with the alias `r` unless
told otherwise."""

from __future__ import annotations

from sqlglot import exp

__all__ = ["ident", "lit", "num", "ref", "txt", "up"]


def ident(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql("duckdb")


def lit(value: str | None) -> str:
    if value is None:
        return "NULL"
    return exp.Literal.string(value).sql("duckdb")


def ref(column: str, alias: str | None = "r") -> str:
    return f"{alias}.{ident(column)}" if alias else ident(column)


def txt(column: str | None, numeric: bool = False, alias: str | None = "r") -> str:
    """A column as trimmed text, empty -> NULL; a numeric column as its shortest text
    (1.0 -> '1'). A missing column (None) is NULL."""
    if column is None:
        return "CAST(NULL AS VARCHAR)"
    c = ref(column, alias)
    if numeric:
        return (
            f"CASE WHEN {c} = floor({c}) AND abs({c}) < 1e15 "
            f"THEN CAST(CAST({c} AS BIGINT) AS VARCHAR) ELSE CAST({c} AS VARCHAR) END"
        )
    return f"nullif(trim(CAST({c} AS VARCHAR)), '')"


def up(column: str | None, numeric: bool = False, alias: str | None = "r") -> str:
    return f"upper({txt(column, numeric, alias)})"


def num(column: str | None, numeric: bool = False, alias: str | None = "r") -> str:
    """A column as DOUBLE; text that is not a number -> NULL."""
    if column is None:
        return "CAST(NULL AS DOUBLE)"
    if numeric:
        return f"CAST({ref(column, alias)} AS DOUBLE)"
    return f"TRY_CAST(nullif(trim(CAST({ref(column, alias)} AS VARCHAR)), '') AS DOUBLE)"
