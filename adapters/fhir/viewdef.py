"""SQL-on-FHIR v2 ViewDefinitions compiled to one DuckDB SELECT (a sqlglot tree).

`compile_view(view)` validates the ViewDefinition (a parsed JSON object) and returns a
`CompiledView`: its columns and a SELECT over a table of raw resources
``(resource_type VARCHAR, id VARCHAR, json JSON)`` — by default `fhir_resource`, the table
the loader fills. Each select node becomes a SQL list of row structs per focus element:
columns give one row, `forEach`/`forEachOrNull`/`repeat` map over a collection, nested
selects and columns combine as a cross product and `unionAll` concatenates; the outer
query unnests the list. No Python touches a row.

Errors: `ViewDefinitionError` (invalid view, with the JSON path), `FhirPathError` and its
subclasses (an expression), raised at compile time. Data-dependent failures (a
`collection: false` column meeting several values, a `where` path giving a non-boolean)
are DuckDB runtime errors turned into `ViewRunError` by `hyperfed.adapters.fhir.run`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from hyperfed.adapters.fhir.errors import FhirPathError, ViewDefinitionError
from hyperfed.adapters.fhir.fhirpath.compile import Compiler, Scope
from hyperfed.adapters.fhir.fhirpath.parse import parse
from hyperfed.adapters.fhir.fhirpath.sql import (
    Val,
    as_coll,
    as_one,
    cast_json,
    column_type,
    error,
    fn,
    lam,
    lit,
    scalar_sql_type,
    sql_type,
    text_of,
)

__all__ = ["MAX_REPEAT_DEPTH", "CompiledView", "ViewColumn", "compile_view"]

MAX_REPEAT_DEPTH = 8  # DuckDB binds nested lambdas in time exponential in depth
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_CONSTANT_TYPES = {
    "valueString": "string",
    "valueCode": "string",
    "valueId": "string",
    "valueUri": "string",
    "valueUrl": "string",
    "valueCanonical": "string",
    "valueOid": "string",
    "valueUuid": "string",
    "valueMarkdown": "string",
    "valueBase64Binary": "string",
    "valueDate": "date",
    "valueDateTime": "datetime",
    "valueInstant": "datetime",
    "valueTime": "time",
    "valueInteger": "integer",
    "valuePositiveInt": "integer",
    "valueUnsignedInt": "integer",
    "valueInteger64": "integer",
    "valueDecimal": "decimal",
    "valueBoolean": "boolean",
}


@dataclass(frozen=True)
class ViewColumn:
    name: str
    path: str
    fhir_type: str | None
    sql_type: str  # DuckDB type of the output column (a list type when `collection`)
    collection: bool = False
    description: str | None = None


@dataclass(frozen=True)
class CompiledView:
    name: str
    resource: str
    columns: tuple[ViewColumn, ...]
    select: exp.Select

    def sql(self, dialect: str = "duckdb", pretty: bool = False) -> str:
        return self.select.sql(dialect=dialect, pretty=pretty)


@dataclass
class _Part:
    rows: exp.Expression  # a list of row structs
    columns: list[ViewColumn]
    single: list[exp.Expression] | None = None  # the field values when exactly one row


def _fail(path: str, message: str) -> ViewDefinitionError:
    return ViewDefinitionError(path, message)


class _ViewCompiler:
    def __init__(self, view: Mapping[str, Any], root: exp.Expression, root_id: exp.Expression):
        self.view = view
        self.root = root
        self.root_id = root_id
        self.counter = [0]
        self.constants = self._constants(view.get("constant", []))

    def _constants(self, raw: Any) -> dict[str, Val]:
        if not isinstance(raw, list):
            raise _fail("constant", "must be a list")
        out: dict[str, Val] = {}
        for i, c in enumerate(raw):
            where = f"constant[{i}]"
            if not isinstance(c, dict) or not isinstance(c.get("name"), str):
                raise _fail(where, "needs a name")
            values = [k for k in c if k.startswith("value")]
            if len(values) != 1 or values[0] not in _CONSTANT_TYPES:
                raise _fail(where, f"constant {c['name']!r} needs exactly one value[x]")
            t = _CONSTANT_TYPES[values[0]]
            value = c[values[0]]
            sql: exp.Expression = lit(value)
            if t == "decimal":
                sql = exp.cast(exp.Literal.number(str(value)), sql_type("DOUBLE"))
            out[c["name"]] = Val(sql, "scalar", t)
        return out

    def scope(self, text: str, path: str, row_index: exp.Expression) -> Scope:
        return Scope(
            expression=text,
            path=path,
            constants=self.constants,
            root=self.root,
            root_id=self.root_id,
            row_index=row_index,
            counter=self.counter,
        )

    def expr(self, text: Any, path: str, focus: Val, row_index: exp.Expression) -> Val:
        if not isinstance(text, str):
            raise _fail(path, "must be a FHIRPath string")
        try:
            node = parse(text)
            return Compiler(self.scope(text, path, row_index)).compile(node, focus)
        except FhirPathError as exc:
            if exc.path:
                raise
            raise type(exc)(path, text, exc.detail) from None

    def fresh(self, stem: str) -> str:
        self.counter[0] += 1
        return f"{stem}{self.counter[0]}"

    # select nodes -------------------------------------------------------------------------
    def node(self, sel: Any, path: str, focus: Val, row_index: exp.Expression) -> _Part:
        if not isinstance(sel, dict):
            raise _fail(path, "a select must be an object")
        iterators = [k for k in ("forEach", "forEachOrNull", "repeat") if k in sel]
        if len(iterators) > 1:
            raise _fail(path, f"{' and '.join(iterators)} cannot be combined")
        if not iterators:
            return self.body(sel, path, focus, row_index)
        key = iterators[0]
        if key == "repeat":
            coll, tname = self.repeat(sel["repeat"], f"{path}.repeat", focus, row_index)
        else:
            each = self.expr(sel[key], f"{path}.{key}", focus, row_index)
            coll, tname = as_coll(each), each.tname
        if key == "forEachOrNull":
            coll = (
                exp.Case()
                .when(
                    exp.EQ(this=fn("len", coll), expression=lit(0)),
                    exp.Array(expressions=[exp.cast(exp.null(), sql_type("JSON"))]),
                )
                .else_(coll.copy())
            )
        v, i = self.fresh("f"), self.fresh("i")
        inner = self.body(
            sel,
            path,
            Val(exp.to_identifier(v), "one", tname=tname),
            exp.Sub(this=exp.to_identifier(i), expression=lit(1)),
        )
        rows = fn("flatten", fn("list_transform", coll, lam(inner.rows, v, i)))
        return _Part(rows, inner.columns)

    def repeat(
        self, paths: Any, path: str, focus: Val, row_index: exp.Expression
    ) -> tuple[exp.Expression, str | None]:
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            raise _fail(path, "repeat must be a non-empty list of FHIRPath strings")

        def children(j: Val) -> tuple[exp.Expression, str | None]:
            vals = [self.expr(p, path, j, row_index) for p in paths]
            colls = [as_coll(v) for v in vals]
            tnames = {v.tname for v in vals}
            tname = tnames.pop() if len(tnames) == 1 else None
            return (colls[0] if len(colls) == 1 else fn("list_concat", *colls)), tname

        top, tname = children(focus)

        def expand(depth: int) -> exp.Expression:
            e = self.fresh("r")
            here = Val(exp.to_identifier(e), "one", tname=tname)
            me = exp.Array(expressions=[exp.to_identifier(e)])
            below_coll, _ = children(here)
            if depth == 0:
                deeper: exp.Expression = (
                    exp.Case()
                    .when(
                        exp.GT(this=fn("len", below_coll), expression=lit(0)),
                        error(f"{path}: repeat nests deeper than {MAX_REPEAT_DEPTH} levels"),
                    )
                    .else_(me)
                )
                return lam(deeper, e)
            below = fn("flatten", fn("list_transform", below_coll, expand(depth - 1)))
            return lam(fn("list_concat", me, below), e)

        return fn("flatten", fn("list_transform", top, expand(MAX_REPEAT_DEPTH))), tname

    def body(self, sel: dict[str, Any], path: str, focus: Val, row_index: exp.Expression) -> _Part:
        parts: list[_Part] = []
        if "column" in sel:
            parts.append(self.columns(sel["column"], f"{path}.column", focus, row_index))
        subs = sel.get("select", [])
        if not isinstance(subs, list):
            raise _fail(f"{path}.select", "must be a list")
        for i, sub in enumerate(subs):
            parts.append(self.node(sub, f"{path}.select[{i}]", focus, row_index))
        if "unionAll" in sel:
            parts.append(self.union(sel["unionAll"], f"{path}.unionAll", focus, row_index))
        if not parts:
            raise _fail(path, "a select needs column, select or unionAll")
        return self.product(parts, path)

    def columns(self, cols: Any, path: str, focus: Val, row_index: exp.Expression) -> _Part:
        if not isinstance(cols, list) or not cols:
            raise _fail(path, "must be a non-empty list")
        out, values = [], []
        for i, col in enumerate(cols):
            where = f"{path}[{i}]"
            if not isinstance(col, dict):
                raise _fail(where, "a column must be an object")
            name = col.get("name")
            if not isinstance(name, str) or not _NAME.match(name):
                raise _fail(where, f"column name {name!r} must match {_NAME.pattern}")
            collection = col.get("collection", False)
            if not isinstance(collection, bool):
                raise _fail(f"{where}.collection", "must be true or false")
            ftype = col.get("type")
            if ftype is not None and not isinstance(ftype, str):
                raise _fail(f"{where}.type", "must be a FHIR type name")
            v = self.expr(col.get("path"), f"{where}.path", focus, row_index)
            t = column_type(ftype) or v.type
            base = scalar_sql_type(t)
            msg = (
                f"{where} ({name}): path {col.get('path')!r} gave more than one value; "
                "set collection: true or pick one (first())"
            )
            if collection:
                e = self.fresh("c")
                one = Val(exp.to_identifier(e), "one")
                value = fn("list_transform", as_coll(v), lam(self.cell(one, t, base, msg), e))
                stype = f"{base}[]"
            else:
                value, stype = self.cell(v, t, base, msg), base
            out.append(
                ViewColumn(
                    name, str(col.get("path")), ftype, stype, collection, col.get("description")
                )
            )
            values.append(value)
        return _Part(self.pack(out, values), out, values)

    def cell(self, v: Val, t: str | None, base: str, msg: str) -> exp.Expression:
        if v.kind == "scalar":
            return exp.cast(v.sql, sql_type(base))
        if (
            v.kind == "coll"
            and isinstance(v.sql, exp.Cast)
            and isinstance(v.sql.this, exp.Array)
            and not v.sql.this.expressions
        ):  # the empty collection {}
            return exp.cast(exp.null(), sql_type(base))
        if v.kind == "one" and base == "VARCHAR":
            return text_of(v)
        return exp.cast(cast_json(as_one(v, msg), t), sql_type(base))

    @staticmethod
    def pack(cols: Sequence[ViewColumn], values: Sequence[exp.Expression]) -> exp.Expression:
        fields = [
            exp.PropertyEQ(this=exp.to_identifier(c.name, quoted=True), expression=v)
            for c, v in zip(cols, values, strict=True)
        ]
        return exp.Array(expressions=[fn("struct_pack", *fields)])

    def union(self, branches: Any, path: str, focus: Val, row_index: exp.Expression) -> _Part:
        if not isinstance(branches, list) or not branches:
            raise _fail(path, "must be a non-empty list")
        parts = [self.node(b, f"{path}[{i}]", focus, row_index) for i, b in enumerate(branches)]
        names = [c.name for c in parts[0].columns]
        for i, p in enumerate(parts[1:], start=1):
            other = [c.name for c in p.columns]
            if other != names:
                raise _fail(
                    f"{path}[{i}]",
                    f"columns {other} differ from {names} (name and order "
                    "must match in every unionAll branch)",
                )
        types = [c.sql_type for c in parts[0].columns]
        rows = [parts[0].rows] + [self.retype(p, types) for p in parts[1:]]
        return _Part(fn("list_concat", *rows) if len(rows) > 1 else rows[0], parts[0].columns)

    def retype(self, part: _Part, types: list[str]) -> exp.Expression:
        if [c.sql_type for c in part.columns] == types:
            return part.rows
        r = self.fresh("u")
        values = [
            exp.cast(
                exp.Dot(
                    this=exp.to_identifier(r), expression=exp.to_identifier(c.name, quoted=True)
                ),
                sql_type(t),
            )
            for c, t in zip(part.columns, types, strict=True)
        ]
        return fn(
            "list_transform", part.rows, lam(self.pack(part.columns, values).expressions[0], r)
        )

    def product(self, parts: list[_Part], path: str) -> _Part:
        acc = parts[0]
        for nxt in parts[1:]:
            names = {c.name for c in acc.columns}
            dup = [c.name for c in nxt.columns if c.name in names]
            if dup:
                raise _fail(path, f"column name(s) {dup} appear more than once")
            acc = self.cross(acc, nxt)
        return acc

    def cross(self, a: _Part, b: _Part) -> _Part:
        cols = a.columns + b.columns
        if a.single is not None and b.single is not None:
            values = a.single + b.single
            return _Part(self.pack(cols, values), cols, values)
        x, y = self.fresh("x"), self.fresh("y")

        def fields(part: _Part, var: str) -> list[exp.Expression]:
            if part.single is not None:
                return [v.copy() for v in part.single]
            return [
                exp.Dot(
                    this=exp.to_identifier(var), expression=exp.to_identifier(c.name, quoted=True)
                )
                for c in part.columns
            ]

        row = self.pack(cols, fields(a, x) + fields(b, y)).expressions[0]
        if a.single is not None:
            return _Part(fn("list_transform", b.rows, lam(row, y)), cols)
        if b.single is not None:
            return _Part(fn("list_transform", a.rows, lam(row, x)), cols)
        inner = fn("list_transform", b.rows, lam(row, y))
        return _Part(fn("flatten", fn("list_transform", a.rows, lam(inner, x))), cols)

    def where(self, clauses: Any, focus: Val) -> list[exp.Expression]:
        if not isinstance(clauses, list):
            raise _fail("where", "must be a list")
        out: list[exp.Expression] = []
        for i, w in enumerate(clauses):
            where = f"where[{i}]"
            if not isinstance(w, dict) or "path" not in w:
                raise _fail(where, "needs a path")
            v = self.expr(w["path"], f"{where}.path", focus, lit(0))
            msg = f"{where}: path {w['path']!r} did not give a boolean"
            if v.kind == "scalar":
                if v.type != "boolean":
                    raise _fail(where, f"path {w['path']!r} does not give a boolean")
                cond = v.sql
            else:
                j = as_one(v, msg)
                cond = (
                    exp.Case()
                    .when(exp.Is(this=j, expression=exp.null()), exp.null())
                    .when(
                        exp.EQ(this=fn("json_type", j.copy()), expression=lit("BOOLEAN")),
                        exp.cast(j.copy(), sql_type("BOOLEAN")),
                    )
                    .else_(error(msg))
                )
            out.append(exp.Coalesce(this=cond, expressions=[exp.false()]))
        return out


def compile_view(view: Any, source: str = "fhir_resource") -> CompiledView:
    """Validate and compile a ViewDefinition (a parsed JSON object)."""
    if not isinstance(view, dict):
        raise _fail("", "a ViewDefinition must be a JSON object")
    resource = view.get("resource")
    if not isinstance(resource, str) or not re.match(r"^[A-Z][A-Za-z]+$", resource):
        raise _fail("resource", "needs the FHIR resource type the view reads (e.g. 'Patient')")
    selects = view.get("select")
    if not isinstance(selects, list) or not selects:
        raise _fail("select", "needs a non-empty list of selects")
    name = str(view["name"]) if isinstance(view.get("name"), str) else resource.lower()
    table = exp.to_identifier("t")
    root = exp.Column(this=exp.to_identifier("json"), table=table)
    root_id = exp.Column(this=exp.to_identifier("id"), table=table.copy())
    vc = _ViewCompiler(view, root, root_id)
    focus = Val(root, "one", tname=resource)
    parts = [vc.node(s, f"select[{i}]", focus, lit(0)) for i, s in enumerate(selects)]
    vc.product(parts, "")  # validates the column names (no duplicates)
    conds: list[exp.Expression] = [
        exp.EQ(
            this=exp.Column(this=exp.to_identifier("resource_type"), table=table.copy()),
            expression=lit(resource),
        )
    ]
    conds += vc.where(view.get("where", []), focus)
    # Columns outside any iteration are computed once per resource, in the inner SELECT;
    # only the iterating selects become the list of row structs that is unnested.
    multi = [p for p in parts if p.single is None]
    items: list[Any] = []
    outer_cols: list[Any] = []
    columns: list[ViewColumn] = []
    for p in parts:
        columns += p.columns
        if p.single is None:
            continue
        for c, v in zip(p.columns, p.single, strict=True):
            items.append(exp.alias_(v, exp.to_identifier(c.name, quoted=True)))
    if multi:
        rows = vc.product(multi, "")
        items.append(exp.alias_(fn("unnest", rows.rows), "r"))
    for c in columns:
        ident = exp.to_identifier(c.name, quoted=True)
        if any(c in p.columns for p in multi):
            ref: exp.Expression = exp.Dot(this=exp.to_identifier("r"), expression=ident)
        else:
            ref = exp.Column(this=ident.copy(), table=exp.to_identifier("q"))
        outer_cols.append(exp.alias_(ref, ident.copy()))
    type_cond, conds = conds[0], conds[1:]
    source_rows = _parse_once(items, conds, root, table, type_cond, source)
    inner = exp.select(*items).from_(source_rows)
    if conds:
        inner = inner.where(exp.and_(*conds))
    outer = exp.select(*outer_cols).from_(exp.alias_(exp.Subquery(this=inner), "q"))
    return CompiledView(name, resource, tuple(columns), outer)


_FIRST_STEP = re.compile(r'^\$\.("(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_]*)(.*)$')
_EXTRACTS = ("json_extract", "json_extract_string")


def _parse_once(
    items: list[Any],
    conds: list[exp.Expression],
    root: exp.Expression,
    table: exp.Identifier,
    type_cond: exp.Expression,
    source: str,
) -> exp.Expression:
    """Rewrite every ``json_extract[_string](t.json, '$.key...')`` to work on the fragment of
    `key`, extracted for all keys at once (``json_extract(json, ['$.a', '$.b'])``, one parse
    of the resource instead of one per path), in a subquery that keeps the name `t`."""
    keys: list[str] = []
    found: list[tuple[exp.Expression, str, str]] = []
    for expr in [*items, *conds]:
        for node in expr.find_all(exp.Anonymous):
            if str(node.this).lower() not in _EXTRACTS or len(node.expressions) != 2:
                continue
            first, path = node.expressions
            if first != root or not isinstance(path, exp.Literal) or not path.is_string:
                continue
            m = _FIRST_STEP.match(path.this)
            if not m:
                continue
            if m.group(1) not in keys:
                keys.append(m.group(1))
            found.append((node, m.group(1), m.group(2)))
    base = exp.alias_(exp.to_table(source), "t", table=True)
    if not keys:
        return exp.Subquery(this=exp.select("*").from_(base).where(type_cond), alias=table)
    frag = exp.to_identifier("x_")
    for node, key, rest in found:
        piece = fn(
            "list_extract",
            exp.Column(this=frag.copy(), table=table.copy()),
            lit(keys.index(key) + 1),
        )
        if str(node.this).lower() == "json_extract" and not rest:
            node.replace(piece)
        else:
            node.replace(fn(str(node.this), piece, lit("$" + rest)))
    paths = exp.Array(expressions=[lit(f"$.{k}") for k in keys])
    pre = (
        exp.select("*", exp.alias_(fn("json_extract", root.copy(), paths), frag))
        .from_(base)
        .where(type_cond)
    )
    return exp.Subquery(this=pre, alias=table)
