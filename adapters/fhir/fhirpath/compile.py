"""FHIRPath AST -> DuckDB SQL (sqlglot) over a resource's JSON.

`Compiler.compile(node, focus)` returns a `Val` (see `hyperfed.adapters.fhir.fhirpath.sql`).
The subset is what SQL-on-FHIR v2 ViewDefinitions use: member navigation (choice elements
through `ofType()`), indexers, `where`, `exists`, `empty`, `first`, `last`, `count`, `not`,
`ofType`, `join`, `extension`, `getResourceKey`, `getReferenceKey`, `hasValue`, boolean logic,
comparison, `in`/`contains`, `|`, arithmetic and string concatenation, `%constants`,
`%rowIndex`, `$this`. Anything else raises `UnsupportedFhirPath` naming the expression: the
engine never guesses a result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from sqlglot import exp

from hyperfed.adapters.fhir.errors import FhirPathError, UnsupportedFhirPath
from hyperfed.adapters.fhir.fhirpath import schema
from hyperfed.adapters.fhir.fhirpath.boundary import boundary_sql
from hyperfed.adapters.fhir.fhirpath.operators import Operators
from hyperfed.adapters.fhir.fhirpath.parse import (
    Func,
    Index,
    Literal,
    Member,
    Node,
    Op,
    TypeOp,
    Unary,
    Var,
)
from hyperfed.adapters.fhir.fhirpath.scope import Scope
from hyperfed.adapters.fhir.fhirpath.sql import (
    NUMERIC_JSON,
    Val,
    as_coll,
    as_one,
    fn,
    items,
    json_member,
    lam,
    lit,
    sql_type,
    text_of,
)

__all__ = ["CHOICE_ELEMENTS", "REFERENCE_PATTERN", "Compiler", "Scope"]

# Elements of R4 that are choices ([x]) somewhere: navigating them without ofType() reads
# whichever `nameType` key is present (or a plain `name` key, as in Quantity.value).
CHOICE_ELEMENTS = frozenset(
    {
        "value",
        "effective",
        "onset",
        "abatement",
        "deceased",
        "multipleBirth",
        "performed",
        "occurrence",
        "medication",
        "born",
        "asNeeded",
        "serviced",
        "timing",
        "reported",
        "dose",
        "rate",
        "defaultValue",
        "fixed",
        "pattern",
        "minValue",
        "maxValue",
        "identified",
    }
)
_PRIMITIVES = {
    "boolean": "boolean",
    "integer": "integer",
    "positiveInt": "integer",
    "unsignedInt": "integer",
    "integer64": "integer",
    "decimal": "decimal",
    "string": "string",
    "code": "string",
    "id": "string",
    "uri": "string",
    "url": "string",
    "canonical": "string",
    "oid": "string",
    "uuid": "string",
    "markdown": "string",
    "base64Binary": "string",
    "date": "date",
    "dateTime": "datetime",
    "instant": "datetime",
    "time": "time",
}
REFERENCE_PATTERN = (
    r"^(?:[A-Za-z][A-Za-z0-9+.-]*://[^ ]*/)?([A-Z][A-Za-z]+)/([A-Za-z0-9.-]{1,64})"
    r"(?:/_history/[A-Za-z0-9.-]{1,64})?$"
)


def _strip_ofType_name(t: str) -> str:
    return t.split(".")[-1]


class Compiler(Operators):
    """Compiles FHIRPath nodes in one `Scope`."""

    def __init__(self, scope: Scope) -> None:
        self.s = scope

    # errors -------------------------------------------------------------------------------
    def unsupported(self, what: str) -> UnsupportedFhirPath:
        return UnsupportedFhirPath(self.s.path, self.s.expression, f"{what} is not supported")

    def invalid(self, what: str) -> FhirPathError:
        return FhirPathError(self.s.path, self.s.expression, what)

    def many(self) -> str:
        return (
            f"{self.s.path}: FHIRPath {self.s.expression!r} gave more than one value where "
            "one was expected"
        )

    # entry --------------------------------------------------------------------------------
    def compile(self, node: Node, focus: Val) -> Val:
        if isinstance(node, Literal):
            return self.literal(node)
        if isinstance(node, Var):
            return self.var(node, focus)
        if isinstance(node, Member):
            base = focus if node.base is None else self.compile(node.base, focus)
            return self.member(base, node.name)
        if isinstance(node, Index):
            return self.index(node, focus)
        if isinstance(node, Func):
            return self.func(node, focus)
        if isinstance(node, Op):
            return self.op(node, focus)
        if isinstance(node, Unary):
            v = self.numeric(self.compile(node.operand, focus))
            return v if node.op == "+" else Val(exp.Neg(this=v.sql), "scalar", v.type)
        if isinstance(node, TypeOp):
            base = self.of_type(node.operand, node.type_name, focus)
            if node.op == "as":
                return base
            return Val(
                exp.GT(this=fn("len", as_coll(base)), expression=lit(0)), "scalar", "boolean"
            )
        raise self.unsupported(type(node).__name__)

    def literal(self, node: Literal) -> Val:
        if node.kind == "empty":
            return Val(exp.cast(exp.Array(expressions=[]), sql_type("JSON[]")), "coll")
        if node.kind == "decimal":
            return Val(
                exp.cast(exp.Literal.number(str(node.value)), sql_type("DOUBLE")),
                "scalar",
                "decimal",
            )
        return Val(lit(node.value), "scalar", node.kind)

    def var(self, node: Var, focus: Val) -> Val:
        if not node.external:
            if node.name == "this":
                return focus
            raise self.unsupported(f"${node.name}")
        if node.name == "rowIndex":
            return Val(self.s.row_index, "scalar", "integer")
        if node.name in ("resource", "rootResource"):
            return Val(self.s.root, "one")
        if node.name in self.s.constants:
            return self.s.constants[node.name]
        raise self.invalid(f"undefined constant %{node.name}")

    # navigation ---------------------------------------------------------------------------
    def jpath(self, root: exp.Expression, steps: str, many: bool, tname: str | None) -> Val:
        """One json_extract over `root`: a list when the path has [*], else one value."""
        sql = fn("json_extract", root, lit("$" + steps))
        ptype = _PRIMITIVES.get(tname or "")
        if many:
            empty = exp.cast(exp.Array(expressions=[]), sql_type("JSON[]"))
            coll = exp.Coalesce(this=sql, expressions=[empty])
            return Val(coll, "coll", ptype, tname, (root, steps, True))
        return Val(sql, "one", ptype, tname, (root, steps, False))

    def member(self, base: Val, name: str, exact: bool = False) -> Val:
        if base.kind == "scalar":
            raise self.unsupported(f"navigating .{name} from a computed value")
        info = schema.element(base.tname, name)
        if info is not None:
            is_list, child = info
            step = "." + _key(name) + ("[*]" if is_list else "")
            if base.jp is not None:
                root, steps, many = base.jp
                return self.jpath(root, steps + step, many or is_list, child)
            if base.kind == "one":
                return self.jpath(base.sql, step, is_list, child)
            v = self.s.fresh("v")
            inner = self.jpath(exp.to_identifier(v), step, is_list, child)
            mapped = fn("flatten", fn("list_transform", base.sql, lam(as_coll(inner), v)))
            return Val(mapped, "coll", inner.type, child)
        choice = not exact and (
            bool(schema.choice_types(base.tname, name))
            if base.tname and schema.element(base.tname, "id") is not None
            else name in CHOICE_ELEMENTS
        )

        def step_fn(j: exp.Expression) -> exp.Expression:
            if not choice:
                return items(json_member(j, name))
            k = self.s.fresh("k")
            typed_key = fn(
                "list_extract",
                fn(
                    "list_filter",
                    fn("json_keys", j.copy()),
                    lam(fn("regexp_matches", exp.to_identifier(k), lit(f"^{name}[A-Z]")), k),
                ),
                lit(1),
            )
            typed = fn("json_extract", j.copy(), exp.DPipe(this=lit("$."), expression=typed_key))
            return items(exp.Coalesce(this=json_member(j, name), expressions=[typed]))

        return Val(self.flat_map(base, step_fn), "coll")

    def flat_map(
        self, base: Val, step: Callable[[exp.Expression], exp.Expression]
    ) -> exp.Expression:
        if base.kind == "one":
            return step(base.sql)
        v = self.s.fresh("v")
        return fn("flatten", fn("list_transform", base.sql, lam(step(exp.to_identifier(v)), v)))

    def of_type(self, operand: Node, type_name: str, focus: Val) -> Val:
        t = _strip_ofType_name(type_name)
        if isinstance(operand, Member):
            base = focus if operand.base is None else self.compile(operand.base, focus)
            if operand.name in CHOICE_ELEMENTS:
                key = operand.name + t[:1].upper() + t[1:]
                v = self.member(base, key, exact=True)
                return replace(v, type=_PRIMITIVES.get(t))
        inner = self.compile(operand, focus)
        if t[:1].isupper():
            c, var = as_coll(inner), self.s.fresh("v")
            rt = fn("json_extract_string", exp.to_identifier(var), lit("$.resourceType"))
            return Val(fn("list_filter", c, lam(exp.EQ(this=rt, expression=lit(t)), var)), "coll")
        raise self.unsupported(f"ofType({type_name}) outside a choice element")

    def index(self, node: Index, focus: Val) -> Val:
        base = self.compile(node.base, focus)
        if isinstance(node.index, Literal) and node.index.kind == "integer":
            return self.nth(base, int(str(node.index.value)))
        idx = self.compile(node.index, focus)
        if idx.kind != "scalar" or idx.type != "integer":
            raise self.unsupported("an indexer that is not an integer")
        pos = exp.Add(this=exp.cast(idx.sql, sql_type("BIGINT")), expression=lit(1))
        return Val(fn("list_extract", as_coll(base), pos), "one", base.type, base.tname)

    # functions ----------------------------------------------------------------------------
    def func(self, node: Func, focus: Val) -> Val:
        name, args = node.name, node.args
        if name == "ofType":
            if len(args) != 1 or not isinstance(args[0], Member) or args[0].base is not None:
                raise self.invalid("ofType() takes one type name")
            if node.base is None:
                raise self.unsupported("ofType() on the focus")
            return self.of_type(node.base, args[0].name, focus)
        if name == "first" and not args and isinstance(node.base, Op) and node.base.op == "|":
            firsts = [self.compile(n, focus) for n in _union_operands(node.base)]
            if all(v.kind == "one" for v in firsts):  # (a | b | c).first() of singletons
                t = firsts[0].type if len({v.type for v in firsts}) == 1 else None
                return Val(
                    exp.Coalesce(this=firsts[0].sql, expressions=[v.sql for v in firsts[1:]]),
                    "one",
                    t,
                )
        base = focus if node.base is None else self.compile(node.base, focus)
        handler = getattr(self, f"fn_{name}", None)
        if handler is None:
            raise self.unsupported(f"function {name}()")
        result: Val = handler(base, args, focus)
        return result

    def _arity(self, name: str, args: tuple[Node, ...], low: int, high: int) -> None:
        if not low <= len(args) <= high:
            raise self.invalid(f"{name}() takes {low}..{high} arguments, got {len(args)}")

    def filtered(self, base: Val, criterion: Node) -> exp.Expression:
        v = self.s.fresh("v")
        crit = self.boolean(self.compile(criterion, Val(exp.to_identifier(v), "one")))
        return fn(
            "list_filter", as_coll(base), lam(exp.Coalesce(this=crit, expressions=[exp.false()]), v)
        )

    def fn_where(self, base: Val, args: tuple[Node, ...], focus: Val) -> Val:
        self._arity("where", args, 1, 1)
        return Val(self.filtered(base, args[0]), "coll", base.type)

    def fn_exists(self, base: Val, args: tuple[Node, ...], focus: Val) -> Val:
        self._arity("exists", args, 0, 1)
        if args:
            return Val(
                exp.GT(this=fn("len", self.filtered(base, args[0])), expression=lit(0)),
                "scalar",
                "boolean",
            )
        if base.kind != "coll":
            return Val(
                exp.Not(this=exp.Is(this=base.sql, expression=exp.null())), "scalar", "boolean"
            )
        return Val(exp.GT(this=fn("len", base.sql), expression=lit(0)), "scalar", "boolean")

    def fn_hasValue(self, base: Val, args: tuple[Node, ...], focus: Val) -> Val:
        self._arity("hasValue", args, 0, 0)
        return self.fn_exists(base, (), focus)

    def fn_empty(self, base: Val, args: tuple[Node, ...], focus: Val) -> Val:
        self._arity("empty", args, 0, 0)
        return Val(exp.Not(this=self.fn_exists(base, (), focus).sql), "scalar", "boolean")

    def fn_first(self, base: Val, args: tuple[Node, ...], focus: Val) -> Val:
        self._arity("first", args, 0, 0)
        if base.kind != "coll":
            return base
        return self.nth(base, 0)

    def nth(self, base: Val, n: int) -> Val:
        """Item n (from 0) of a collection; one JSONPath when the list comes from one [*]."""
        if base.jp is not None and base.jp[2]:
            root, steps, _ = base.jp
            if steps.endswith("[*]") and steps.count("[*]") == 1:
                return self.jpath(root, f"{steps[:-3]}[{n}]", False, base.tname)
        return Val(fn("list_extract", as_coll(base), lit(n + 1)), "one", base.type, base.tname)

    def fn_last(self, base: Val, args: tuple[Node, ...], focus: Val) -> Val:
        self._arity("last", args, 0, 0)
        if base.kind != "coll":
            return base
        return Val(fn("list_extract", base.sql, lit(-1)), "one", base.type, base.tname)

    def fn_count(self, base: Val, args: tuple[Node, ...], focus: Val) -> Val:
        self._arity("count", args, 0, 0)
        return Val(exp.cast(fn("len", as_coll(base)), sql_type("BIGINT")), "scalar", "integer")

    def fn_not(self, base: Val, args: tuple[Node, ...], focus: Val) -> Val:
        self._arity("not", args, 0, 0)
        return Val(exp.Not(this=exp.Paren(this=self.boolean(base))), "scalar", "boolean")

    def fn_join(self, base: Val, args: tuple[Node, ...], focus: Val) -> Val:
        self._arity("join", args, 0, 1)
        sep = self.compile(args[0], focus) if args else Val(lit(""), "scalar", "string")
        if sep.kind != "scalar" or sep.type != "string":
            raise self.unsupported("join() with a separator that is not a string")
        v = self.s.fresh("v")
        texts = fn(
            "list_transform",
            as_coll(base),
            lam(fn("json_extract_string", exp.to_identifier(v), lit("$")), v),
        )
        return Val(fn("array_to_string", texts, sep.sql), "scalar", "string")

    def fn_extension(self, base: Val, args: tuple[Node, ...], focus: Val) -> Val:
        self._arity("extension", args, 1, 1)
        url = self.compile(args[0], focus)
        if url.kind != "scalar" or url.type != "string":
            raise self.unsupported("extension() with a URL that is not a string")
        exts = self.member(base, "extension", exact=True)
        v = self.s.fresh("v")
        match = exp.EQ(
            this=fn("json_extract_string", exp.to_identifier(v), lit("$.url")), expression=url.sql
        )
        return Val(fn("list_filter", exts.sql, lam(match, v)), "coll")

    def fn_getResourceKey(self, base: Val, args: tuple[Node, ...], focus: Val) -> Val:
        self._arity("getResourceKey", args, 0, 0)
        if base.sql == self.s.root and self.s.root_id is not None:
            return Val(self.s.root_id, "scalar", "string")
        j = as_one(base, self.many())
        return Val(fn("json_extract_string", j, lit("$.id")), "scalar", "string")

    def fn_getReferenceKey(self, base: Val, args: tuple[Node, ...], focus: Val) -> Val:
        self._arity("getReferenceKey", args, 0, 1)
        wanted: str | None = None
        if args:
            if not isinstance(args[0], Member) or args[0].base is not None:
                raise self.invalid("getReferenceKey() takes a resource type name")
            wanted = args[0].name
        if base.kind == "one":
            ref1 = text_of(self.member(base, "reference", exact=True))
            pattern = REFERENCE_PATTERN if wanted is None else _typed_pattern(wanted)
            group = 2 if wanted is None else 1
            key1 = fn("nullif", fn("regexp_extract", ref1, lit(pattern), lit(group)), lit(""))
            return Val(key1, "scalar", "string")
        v = self.s.fresh("v")
        ref = fn("json_extract_string", exp.to_identifier(v), lit("$.reference"))
        key = fn("nullif", fn("regexp_extract", ref, lit(REFERENCE_PATTERN), lit(2)), lit(""))
        if wanted is not None:
            rtype = fn("regexp_extract", ref.copy(), lit(REFERENCE_PATTERN), lit(1))
            key = exp.Case().when(exp.EQ(this=rtype, expression=lit(wanted)), key).else_(exp.null())
        as_json = exp.cast(fn("to_json", key), sql_type("JSON"))
        keys = fn("list_transform", as_coll(base), lam(as_json, v))
        w = self.s.fresh("w")
        not_null = exp.Not(this=exp.Is(this=exp.to_identifier(w), expression=exp.null()))
        return Val(fn("list_filter", keys, lam(not_null, w)), "coll", "string")

    def boundary(self, side: str, base: Val, args: tuple[Node, ...]) -> Val:
        self._arity(f"{side}Boundary", args, 0, 0)
        j = as_one(base, self.many())
        jtype = fn("json_type", j)
        text = fn("json_extract_string", j.copy(), lit("$"))
        date_like = fn("regexp_matches", text.copy(), lit(r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$"))
        is_num = exp.In(this=jtype, expressions=[lit(t) for t in NUMERIC_JSON])
        decimal = boundary_sql("decimal", side, exp.cast(j.copy(), sql_type("VARCHAR")))
        if base.type == "decimal":
            only = exp.Case().when(is_num, decimal).else_(exp.null())
            return Val(only, "scalar", "decimal")
        decimal = exp.cast(decimal, sql_type("VARCHAR"))
        kind = {"datetime": "datetime", "time": "time", "date": "date"}.get(base.type or "")
        if kind is not None:
            text_bound = boundary_sql(kind, side, text)
        else:  # unknown element type: a date by its shape, else a dateTime
            text_bound = (
                exp.Case()
                .when(date_like, boundary_sql("date", side, text))
                .else_(boundary_sql("datetime", side, text))
            )
        result = (
            exp.Case()
            .when(is_num, decimal)
            .when(exp.EQ(this=jtype.copy(), expression=lit("VARCHAR")), text_bound)
            .else_(exp.null())
        )
        return Val(result, "scalar", "string")

    def fn_lowBoundary(self, base: Val, args: tuple[Node, ...], focus: Val) -> Val:
        return self.boundary("low", base, args)

    def fn_highBoundary(self, base: Val, args: tuple[Node, ...], focus: Val) -> Val:
        return self.boundary("high", base, args)


def _union_operands(node: Node) -> list[Node]:
    if isinstance(node, Op) and node.op == "|":
        return _union_operands(node.left) + _union_operands(node.right)
    return [node]


def _key(name: str) -> str:
    return name if name.isidentifier() else '"' + name.replace('"', '\\"') + '"'


def _typed_pattern(resource_type: str) -> str:
    """REFERENCE_PATTERN for one resource type (a validated name), its id as group 1."""
    if not resource_type.isalpha():
        raise ValueError(resource_type)
    return REFERENCE_PATTERN.replace("([A-Z][A-Za-z]+)", resource_type, 1)
