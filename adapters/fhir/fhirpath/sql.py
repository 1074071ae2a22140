"""sqlglot building blocks for FHIRPath over DuckDB JSON.

A FHIRPath value is one of three SQL shapes (`Val.kind`):

- ``coll``: a ``JSON[]`` list (the general collection; never holds JSON ``null``);
- ``one``: a single ``JSON`` value, SQL NULL for the empty collection (the focus, ``first()``);
- ``scalar``: a typed SQL value (VARCHAR, BIGINT, DOUBLE, BOOLEAN), SQL NULL for empty — the
  result of literals, comparisons, ``exists()``, arithmetic. SQL three-valued logic is
  FHIRPath's logic over singletons (``{} and false = false``, ``{} and true = {}``).

Everything here builds `sqlglot.exp` trees; user text only ever becomes a string literal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal as L

from sqlglot import exp

__all__ = [
    "NUMERIC_JSON",
    "SQL_TYPES",
    "Val",
    "as_coll",
    "as_one",
    "cast_json",
    "error",
    "fn",
    "items",
    "json_member",
    "lam",
    "lit",
    "scalar_sql_type",
    "sql_type",
    "text_of",
]

Kind = L["coll", "one", "scalar"]

# FHIRPath scalar types -> SQL types
SQL_TYPES = {
    "string": "VARCHAR",
    "date": "VARCHAR",
    "datetime": "VARCHAR",
    "time": "VARCHAR",
    "integer": "BIGINT",
    "decimal": "DOUBLE",
    "boolean": "BOOLEAN",
}
NUMERIC_JSON = ("BIGINT", "UBIGINT", "DOUBLE")

# ViewDefinition column types (FHIR types) -> FHIRPath scalar types
_FHIR_TYPES = {
    "boolean": "boolean",
    "integer": "integer",
    "positiveInt": "integer",
    "unsignedInt": "integer",
    "integer64": "integer",
    "decimal": "decimal",
    "date": "date",
    "dateTime": "datetime",
    "instant": "datetime",
    "time": "time",
}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


JPath = tuple[exp.Expression, str, bool]
"""(JSON expression, JSONPath after '$', whether the path has a [*] step)."""


@dataclass(frozen=True)
class Val:
    sql: exp.Expression
    kind: Kind
    type: str | None = None
    """Scalar: its FHIRPath type. Coll/one: the element type when known (after ofType)."""
    tname: str | None = None
    """The FHIR type of the elements (from the schema), when known."""
    jp: JPath | None = None
    """How `sql` was built, when it is one json_extract: member steps extend the path."""


def fn(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def lit(value: object) -> exp.Expression:
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def lam(body: exp.Expression, *names: str) -> exp.Expression:
    return exp.Lambda(this=body, expressions=[exp.to_identifier(n) for n in names])


def sql_type(name: str) -> exp.DataType:
    return exp.DataType.build(name, dialect="duckdb")


def scalar_sql_type(fhirpath_type: str | None) -> str:
    return SQL_TYPES.get(fhirpath_type or "string", "VARCHAR")


def column_type(fhir_type: str | None) -> str | None:
    """The FHIRPath scalar type of a ViewDefinition column type (None: not given)."""
    if fhir_type is None:
        return None
    return _FHIR_TYPES.get(fhir_type, "string")


def error(message: str) -> exp.Expression:
    """A runtime error (DuckDB `error()`), typed as NULL of any type."""
    return fn("error", lit(message))


def json_member(j: exp.Expression, name: str) -> exp.Expression:
    key = name if _IDENT.match(name) else '"' + name.replace('"', '\\"') + '"'
    return fn("json_extract", j, lit(f"$.{key}"))


def _empty() -> exp.Expression:
    return exp.cast(exp.Array(expressions=[]), sql_type("JSON[]"))


def items(j: exp.Expression) -> exp.Expression:
    """A JSON value as a collection: arrays unpacked (without nulls), null/absent -> []."""
    jtype = fn("json_type", j)
    no_nulls = fn(
        "list_filter",
        exp.cast(j.copy(), sql_type("JSON[]")),
        lam(exp.NEQ(this=fn("json_type", exp.to_identifier("n_")), expression=lit("NULL")), "n_"),
    )
    return (
        exp.Case()
        .when(exp.EQ(this=jtype, expression=lit("ARRAY")), no_nulls)
        .when(
            exp.Or(
                this=exp.Is(this=j.copy(), expression=exp.null()),
                expression=exp.EQ(this=jtype.copy(), expression=lit("NULL")),
            ),
            _empty(),
        )
        .else_(exp.Array(expressions=[j.copy()]))
    )


def _to_json(scalar: exp.Expression) -> exp.Expression:
    return exp.cast(fn("to_json", scalar), sql_type("JSON"))


def as_coll(v: Val) -> exp.Expression:
    if v.kind == "coll":
        return v.sql
    value = v.sql if v.kind == "one" else _to_json(v.sql)
    return (
        exp.Case()
        .when(exp.Is(this=v.sql.copy(), expression=exp.null()), _empty())
        .else_(exp.Array(expressions=[value]))
    )


def as_one(v: Val, message: str) -> exp.Expression:
    """The single element of `v` as JSON (NULL if empty); more than one is a runtime error."""
    if v.kind == "one":
        return v.sql
    if v.kind == "scalar":
        return _to_json(v.sql)
    return (
        exp.Case()
        .when(exp.GT(this=fn("len", v.sql), expression=lit(1)), error(message))
        .else_(fn("list_extract", v.sql.copy(), lit(1)))
    )


def text_of(v: Val) -> exp.Expression:
    """The VARCHAR of a single JSON value (`one`), in one json_extract_string when possible."""
    if v.jp is not None and not v.jp[2]:
        return fn("json_extract_string", v.jp[0], lit("$" + v.jp[1]))
    return fn("json_extract_string", v.sql, lit("$"))


def cast_json(j: exp.Expression, fhirpath_type: str | None) -> exp.Expression:
    """A JSON value as the SQL value of a FHIRPath type (NULL when it is not of that type)."""
    jtype = fn("json_type", j)
    if fhirpath_type in ("integer", "decimal"):
        target = "BIGINT" if fhirpath_type == "integer" else "DOUBLE"
        return (
            exp.Case()
            .when(
                exp.In(this=jtype, expressions=[lit(t) for t in NUMERIC_JSON]),
                exp.TryCast(this=j.copy(), to=sql_type(target)),
            )
            .else_(exp.null())
        )
    if fhirpath_type == "boolean":
        return (
            exp.Case()
            .when(
                exp.EQ(this=jtype, expression=lit("BOOLEAN")),
                exp.cast(j.copy(), sql_type("BOOLEAN")),
            )
            .else_(exp.null())
        )
    return fn("json_extract_string", j, lit("$"))
