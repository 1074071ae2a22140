"""FHIRPath operators as SQL: boolean logic, comparison, union, arithmetic, concatenation.

A mixin of `Compiler` (`hyperfed.adapters.fhir.fhirpath.compile`): singleton evaluation
(`boolean`, `numeric`, `typed`), typed comparison of collections, and `op()` for `Op` nodes.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from hyperfed.adapters.fhir.errors import UnsupportedFhirPath
from hyperfed.adapters.fhir.fhirpath.parse import Node, Op
from hyperfed.adapters.fhir.fhirpath.scope import Scope
from hyperfed.adapters.fhir.fhirpath.sql import (
    NUMERIC_JSON,
    Val,
    as_coll,
    as_one,
    cast_json,
    fn,
    lam,
    lit,
    sql_type,
)

__all__ = ["Operators"]

_CMP: dict[str, Callable[..., exp.Expression]] = {
    "=": exp.EQ,
    "!=": exp.NEQ,
    "<": exp.LT,
    "<=": exp.LTE,
    ">": exp.GT,
    ">=": exp.GTE,
}


class Operators:
    s: Scope

    def compile(self, node: Node, focus: Val) -> Val:
        raise NotImplementedError

    def unsupported(self, what: str) -> UnsupportedFhirPath:
        raise NotImplementedError

    def many(self) -> str:
        raise NotImplementedError

    def boolean(self, v: Val) -> exp.Expression:
        """FHIRPath singleton evaluation as a boolean (a non-boolean single item is true)."""
        if v.kind == "scalar":
            if v.type == "boolean":
                return v.sql
            return exp.Not(this=exp.Is(this=v.sql, expression=exp.null()))
        j = as_one(v, self.many())
        return (
            exp.Case()
            .when(exp.Is(this=j, expression=exp.null()), exp.null())
            .when(
                exp.EQ(this=fn("json_type", j.copy()), expression=lit("BOOLEAN")),
                exp.cast(j.copy(), sql_type("BOOLEAN")),
            )
            .else_(exp.true())
        )

    def numeric(self, v: Val) -> Val:
        if v.kind == "scalar":
            if v.type not in ("integer", "decimal"):
                raise self.unsupported("arithmetic on a value that is not a number")
            return v
        t = v.type if v.type in ("integer", "decimal") else "decimal"
        return Val(cast_json(as_one(v, self.many()), "decimal"), "scalar", t)

    def typed(self, v: Val, t: str) -> exp.Expression:
        """`v` as a single SQL value of FHIRPath type t (NULL if empty)."""
        if v.kind == "scalar":
            if t in ("integer", "decimal") and v.type in ("integer", "decimal"):
                return exp.cast(v.sql, sql_type("DOUBLE"))
            return v.sql
        kind = "decimal" if t == "integer" else t
        return cast_json(as_one(v, self.many()), kind)

    def typed_list(self, v: Val, t: str) -> exp.Expression:
        if v.kind != "coll":
            x = self.typed(v, t)
            return (
                exp.Case()
                .when(
                    exp.Is(this=x, expression=exp.null()),
                    exp.cast(
                        exp.Array(expressions=[]),
                        sql_type("VARCHAR[]")
                        if t not in ("integer", "decimal", "boolean")
                        else sql_type("DOUBLE[]" if t != "boolean" else "BOOLEAN[]"),
                    ),
                )
                .else_(exp.Array(expressions=[x.copy()]))
            )
        e = self.s.fresh("e")
        return fn(
            "list_transform",
            v.sql,
            lam(cast_json(exp.to_identifier(e), "decimal" if t == "integer" else t), e),
        )

    def comparison(self, op: str, left: Val, right: Val) -> Val:
        t = left.type if left.kind == "scalar" else None
        t = t or (right.type if right.kind == "scalar" else None) or left.type or right.type
        single = left.kind != "coll" and right.kind != "coll"
        if t is None:
            return Val(self.dynamic(op, left, right), "scalar", "boolean")
        if op in ("=", "!=") and not single:
            ll, rl = self.typed_list(left, t), self.typed_list(right, t)
            eq: exp.Expression = (
                exp.Case()
                .when(
                    exp.Or(
                        this=exp.EQ(this=fn("len", ll), expression=lit(0)),
                        expression=exp.EQ(this=fn("len", rl), expression=lit(0)),
                    ),
                    exp.null(),
                )
                .else_(exp.EQ(this=ll.copy(), expression=rl.copy()))
            )
            return Val(eq if op == "=" else exp.Not(this=eq), "scalar", "boolean")
        return Val(
            _CMP[op](this=self.typed(left, t), expression=self.typed(right, t)), "scalar", "boolean"
        )

    def dynamic(self, op: str, left: Val, right: Val) -> exp.Expression:
        a, b = as_one(left, self.many()), as_one(right, self.many())
        nums = [lit(t) for t in NUMERIC_JSON]
        both_num = exp.And(
            this=exp.In(this=fn("json_type", a), expressions=nums),
            expression=exp.In(this=fn("json_type", b), expressions=[n.copy() for n in nums]),
        )
        as_num = _CMP[op](
            this=exp.cast(a.copy(), sql_type("DOUBLE")),
            expression=exp.cast(b.copy(), sql_type("DOUBLE")),
        )
        as_text = _CMP[op](
            this=fn("json_extract_string", a.copy(), lit("$")),
            expression=fn("json_extract_string", b.copy(), lit("$")),
        )
        return exp.Case().when(both_num, as_num).else_(as_text)

    def op(self, node: Op, focus: Val) -> Val:
        left, right = self.compile(node.left, focus), self.compile(node.right, focus)
        o = node.op
        if o in _CMP:
            return self.comparison(o, left, right)
        if o in ("and", "or", "xor", "implies"):
            a, b = self.boolean(left), self.boolean(right)
            built: exp.Expression
            if o == "and":
                built = exp.And(this=exp.Paren(this=a), expression=exp.Paren(this=b))
            elif o == "or":
                built = exp.Or(this=exp.Paren(this=a), expression=exp.Paren(this=b))
            elif o == "xor":
                built = exp.NEQ(this=exp.Paren(this=a), expression=exp.Paren(this=b))
            else:
                built = exp.Or(this=exp.Not(this=exp.Paren(this=a)), expression=exp.Paren(this=b))
            return Val(exp.Paren(this=built), "scalar", "boolean")
        if o == "|":  # union: duplicates removed, first occurrences kept in order
            both = fn("list_concat", as_coll(left), as_coll(right))
            x, i = self.s.fresh("u"), self.s.fresh("i")
            first = exp.EQ(
                this=fn("list_position", both.copy(), exp.to_identifier(x)),
                expression=exp.to_identifier(i),
            )
            return Val(fn("list_filter", both, lam(first, x, i)), "coll", left.type or right.type)
        if o == "&" or (o == "+" and "string" in (left.type, right.type)):
            parts = [self.typed(v, "string") for v in (left, right)]
            if o == "&":
                parts = [exp.Coalesce(this=p, expressions=[lit("")]) for p in parts]
            return Val(exp.DPipe(this=parts[0], expression=parts[1]), "scalar", "string")
        if o in ("+", "-", "*", "/", "div", "mod"):
            return self.arithmetic(o, self.numeric(left), self.numeric(right))
        if o in ("in", "contains"):
            item, coll = (left, right) if o == "in" else (right, left)
            t = item.type or coll.type or "string"
            return Val(
                fn("list_contains", self.typed_list(coll, t), self.typed(item, t)),
                "scalar",
                "boolean",
            )
        raise self.unsupported(f"operator {o!r}")

    def arithmetic(self, o: str, a: Val, b: Val) -> Val:
        integer = a.type == "integer" and b.type == "integer" and o in ("+", "-", "*", "div", "mod")
        x, y = a.sql, b.sql
        built: exp.Expression
        if o == "+":
            built = exp.Add(this=x, expression=y)
        elif o == "-":
            built = exp.Sub(this=x, expression=y)
        elif o == "*":
            built = exp.Mul(this=x, expression=y)
        elif o == "/":
            built = exp.Div(
                this=exp.cast(x, sql_type("DOUBLE")),
                expression=fn("nullif", exp.cast(y, sql_type("DOUBLE")), lit(0)),
            )
        elif o == "div":
            built = fn(
                "trunc",
                exp.Div(
                    this=exp.cast(x, sql_type("DOUBLE")),
                    expression=fn("nullif", exp.cast(y, sql_type("DOUBLE")), lit(0)),
                ),
            )
        else:
            built = exp.Mod(this=x, expression=fn("nullif", y, lit(0)))
        if integer:
            built = exp.cast(built, sql_type("BIGINT"))
        return Val(exp.Paren(this=built), "scalar", "integer" if integer else "decimal")
