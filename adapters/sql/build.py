"""Small sqlglot builders every SQL compiler needs: stored tables, literals, set folds,
value sets, date keys and ages. Values always become literals, never SQL text.

A large value set (`value_set`, at least `LARGE_SET` values) is one literal — the values as
a JSON array — unnested by the engine into a set it joins (`col IN (SELECT UNNEST(...))`):
a handful of AST nodes however many values, so building, copying and rendering it take
time linear in its size with a tiny constant, and the engine runs a hash semi-join instead
of evaluating a 100,000-term IN list.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Sequence

from sqlglot import exp

from hyperfed.adapters.hql.model import AgeRange

__all__ = [
    "age_in",
    "date_key",
    "date_key_expr",
    "isin",
    "num",
    "table_expr",
    "text_as_date",
    "text_as_number",
    "union_all",
    "value_set",
]

LARGE_SET = 500
"""from this many values on, `value_set` sends one JSON-array literal instead of an IN list
(DuckDB and PostgreSQL; other dialects get the IN list)."""


def table_expr(schema: str | None, name: str, alias: str | None = None) -> exp.Table:
    """A table as stored (quoted, so its real case is kept), optionally aliased."""
    return exp.table_(
        exp.to_identifier(name, quoted=True),
        db=exp.to_identifier(schema, quoted=True) if schema else None,
        alias=exp.to_identifier(alias) if alias else None,
    )


def union_all(queries: Sequence[exp.Select]) -> exp.Query:
    """One query with the rows of all `queries` (UNION ALL); the query itself for one."""
    return queries[0] if len(queries) == 1 else exp.union(*queries, distinct=False)


def isin(col: exp.Expr, values: Iterable[int | str]) -> exp.Expr:
    """col = v for one value (engines push equalities down better), col IN (...) else."""
    lits: list[exp.Expr] = [
        exp.Literal.string(v) if isinstance(v, str) else exp.Literal.number(v) for v in values
    ]
    return col.eq(lits[0]) if len(lits) == 1 else col.isin(*lits)


def value_set(col: exp.Expr, values: Iterable[int] | Iterable[str], dialect: str) -> exp.Expr:
    """col is one of `values` (integers or strings): `isin` for a small set; for a large one
    (`LARGE_SET`), a semi-join against the values unnested from one JSON-array literal."""
    unique: set[int | str] = set(values)
    ints = all(isinstance(v, int) for v in unique)
    ordered: list[int | str] = sorted(unique, key=lambda v: (isinstance(v, str), v))
    if len(ordered) < LARGE_SET or dialect not in ("duckdb", "postgres"):
        return isin(col, ordered)
    text = json.dumps(ordered if ints else [str(v) for v in ordered])
    literal = exp.Literal.string(text)
    element: exp.Expr
    if dialect == "duckdb":
        kind = "BIGINT[]" if ints else "VARCHAR[]"
        array = exp.cast(literal if ints else exp.cast(literal, "JSON"), exp.DataType.build(kind))
        element = exp.Unnest(expressions=[array])
    else:
        element = exp.Anonymous(
            this="json_array_elements_text", expressions=[exp.cast(literal, "JSON")]
        )
        if ints:
            element = exp.cast(element, "BIGINT")
    return col.isin(query=exp.select(element), copy=False)


def num(v: float | int) -> exp.Expr:
    """A numeric literal (negative numbers as a negation, integral floats as integers);
    `ValueError` for a number that is not finite (it has no SQL literal)."""
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"{v} has no SQL literal")
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    lit = exp.Literal.number(abs(v))
    return exp.Neg(this=lit) if v < 0 else lit


def date_key(d: dt.date) -> int:
    """A date as the integer yyyymmdd."""
    return d.year * 10000 + d.month * 100 + d.day


def date_key_expr(d: exp.Expr) -> exp.Expr:
    """A date expression as the integer yyyymmdd."""
    return exp.paren(
        exp.Year(this=d.copy()) * exp.Literal.number(10000)
        + exp.Month(this=d.copy()) * exp.Literal.number(100)
        + exp.Day(this=d.copy()),
        copy=False,
    )


def age_in(birth: exp.Expr, key: exp.Expr | int, r: AgeRange) -> exp.Expr:
    """Age in whole years from the `birth` key to the date `key` lies in `r` (inclusive):
    age >= a  <=>  birth <= key - a*10000 (keys are yyyymmdd integers)."""

    def minus(years: int) -> exp.Expr:
        if isinstance(key, int):
            return exp.Literal.number(key - years * 10000)
        return key.copy() - exp.Literal.number(years * 10000)

    conds: list[exp.Expr] = []
    if r.min is not None:
        conds.append(birth.copy() <= minus(r.min))
    if r.max is not None:
        conds.append(birth.copy() > minus(r.max + 1))
    return exp.and_(*conds)


_NUMBER = r"^\s*[-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?\s*$"
_ISO_DATE = r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}"


def text_as_number(col: exp.Expr, dialect: str) -> exp.Expr:
    """A text column read as a number: NULL where it is not one (DuckDB TRY_CAST; elsewhere
    a regex-guarded cast)."""
    if dialect == "duckdb":
        return exp.TryCast(this=col, to=exp.DataType.build("DOUBLE"))
    guard = exp.RegexpLike(this=col, expression=exp.Literal.string(_NUMBER))
    return exp.Case(ifs=[exp.If(this=guard, true=exp.cast(col.copy(), "DOUBLE"))])


def text_as_date(col: exp.Expr, dialect: str) -> exp.Expr:
    """A text column read as a date (its first ten characters, ISO 8601): NULL where it
    does not start like one."""
    if dialect == "duckdb":
        return exp.TryCast(this=col, to=exp.DataType.build("DATE"))
    guard = exp.RegexpLike(this=col, expression=exp.Literal.string(_ISO_DATE))
    first10 = exp.Substring(
        this=exp.func("TRIM", col.copy()),
        start=exp.Literal.number(1),
        length=exp.Literal.number(10),
    )
    return exp.Case(ifs=[exp.If(this=guard, true=exp.cast(first10, "DATE"))])
