"""`lowBoundary()` / `highBoundary()` of decimals, dates, dateTimes and times as SQL.

The expressions are fixed templates (no user input) parsed once by sqlglot; the element
expression is substituted for the placeholder column `x_`. A partial date or dateTime is
widened to its first or last instant (``1970-06`` -> ``1970-06-01`` / ``1970-06-30``; a
dateTime without a zone gets +14:00 / -12:00, the earliest and latest zones), a decimal by
half a unit of its last written digit (``1.0`` -> 0.95 / 1.05; DuckDB keeps the digits of a
JSON number as its shortest spelling, so ``1.50`` counts as ``1.5``).
"""

from __future__ import annotations

from functools import cache
from typing import cast

import sqlglot
from sqlglot import exp

__all__ = ["boundary_sql"]

_DATE = {
    "low": "CASE WHEN length(x_) = 4 THEN x_ || '-01-01' WHEN length(x_) = 7 THEN x_ || '-01' "
    "ELSE substr(x_, 1, 10) END",
    "high": "CASE WHEN length(x_) = 4 THEN x_ || '-12-31' WHEN length(x_) = 7 THEN "
    "strftime(last_day(CAST(x_ || '-01' AS DATE)), '%Y-%m-%d') ELSE substr(x_, 1, 10) END",
}
_TIME = {"low": "00:00:00.000", "high": "23:59:59.999"}
_ZONE = {"low": "+14:00", "high": "-12:00"}


def _datetime(side: str) -> str:
    date_part = _DATE[side].replace("x_", "split_part(x_, 'T', 1)")
    rest = "split_part(x_, 'T', 2)"
    zone = f"regexp_extract({rest}, '(Z|[+-][0-9][0-9]:[0-9][0-9])$')"
    clock = f"regexp_replace({rest}, '(Z|[+-][0-9][0-9]:[0-9][0-9])$', '')"
    padded = f"{clock} || substr('{_TIME[side]}', length({clock}) + 1)"
    return (
        f"({date_part}) || 'T' || CASE WHEN strpos(x_, 'T') > 0 THEN {padded} "
        f"ELSE '{_TIME[side]}' END || coalesce(nullif({zone}, ''), '{_ZONE[side]}')"
    )


def _templates(kind: str, side: str) -> str:
    if kind == "decimal":
        digits = "CASE WHEN strpos(x_, '.') > 0 THEN length(split_part(x_, '.', 2)) ELSE 0 END"
        sign = "-" if side == "low" else "+"
        half = f"0.5 * pow(10, -({digits}))"
        return f"round(CAST(x_ AS DOUBLE) {sign} {half}, CAST(({digits}) + 1 AS INTEGER))"
    if kind == "date":
        return _DATE[side]
    if kind == "time":
        return f"x_ || substr('{_TIME[side]}', length(x_) + 1)"
    return _datetime(side)


@cache
def _parsed(kind: str, side: str) -> exp.Expression:
    return cast(exp.Expression, sqlglot.parse_one(_templates(kind, side), read="duckdb"))


def boundary_sql(kind: str, side: str, text: exp.Expression) -> exp.Expression:
    """The boundary of `text` (the value's VARCHAR spelling) for a FHIRPath type `kind`:
    decimal, date, datetime or time."""
    template = _parsed(kind, side).copy()
    result: exp.Expression = template.transform(
        lambda n: text.copy() if isinstance(n, exp.Column) and n.name == "x_" else n
    )
    return result
