"""What an OMOP database actually looks like: table and column names as stored (any
case), CDM version, which vocabulary tables are usable. Real nodes are messy; the
compiler reads names from here instead of assuming them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from sqlglot import exp

from hyperfed.adapters.omop.runner import Runner
from hyperfed.adapters.omop.tables import EVENT_TABLES, PERSON_COLUMNS

__all__ = ["CdmSchema", "Table", "inspect_schema", "table_expr", "union_all", "verify_person_links"]

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


@dataclass(frozen=True)
class CdmSchema:
    schema: str | None
    tables: dict[str, Table]
    cdm_version: str
    notes: tuple[str, ...] = ()
    linked: frozenset[str] = frozenset()
    """Event tables verified to reference only persons present in PERSON."""

    def table(self, logical: str) -> Table | None:
        return self.tables.get(logical.lower())

    def has_rows(self, logical: str) -> bool:
        t = self.table(logical)
        return t is not None and t.rows_present


def table_expr(schema: str | None, name: str, alias: str | None = None) -> exp.Table:
    """A table as stored (quoted, so its real case is kept), optionally aliased."""
    return exp.table_(
        exp.to_identifier(name, quoted=True),
        db=exp.to_identifier(schema, quoted=True) if schema else None,
        alias=exp.to_identifier(alias) if alias else None,
    )


def inspect_schema(runner: Runner) -> CdmSchema:
    """Read the catalog of `runner`'s schema and describe the OMOP tables found."""
    schema = runner.schema
    where = exp.column("table_schema").eq(exp.Literal.string(schema)) if schema else None
    query = exp.select("table_name", "column_name", "data_type").from_(
        exp.table_("columns", db="information_schema")
    )
    if where is not None:
        query = query.where(where)
    elif runner.dialect == "duckdb":
        query = query.where(exp.column("table_schema").eq(exp.Literal.string("main")))
    rows = runner.fetch(query.sql(dialect=runner.dialect))
    spellings: dict[str, dict[str, dict[str, tuple[str, str]]]] = {}
    for table_name, column_name, data_type in rows:
        cols = spellings.setdefault(str(table_name).lower(), {}).setdefault(str(table_name), {})
        cols[str(column_name).lower()] = (str(column_name), str(data_type))
    names: dict[str, str] = {}
    raw: dict[str, dict[str, tuple[str, str]]] = {}
    for key, by_spelling in spellings.items():
        # a lower-case spelling wins when a table exists in two spellings
        chosen = key if key in by_spelling else sorted(by_spelling)[0]
        names[key] = chosen
        raw[key] = by_spelling[chosen]

    notes: list[str] = []
    wanted = {t.table: t for t in EVENT_TABLES}
    tables: dict[str, Table] = {}
    for key, cols in raw.items():
        columns = {k: v[0] for k, v in cols.items()}
        types = {k: v[1] for k, v in cols.items()}
        if key in wanted:
            needed = ("person_id", wanted[key].concept, wanted[key].start)
            missing = [c for c in needed if c not in columns]
            if missing:
                notes.append(
                    f"table {names[key]} lacks column(s) {', '.join(missing)}; it is not used"
                )
                continue
        if key == "person" and any(c not in columns for c in PERSON_COLUMNS[:3]):
            notes.append("table person lacks required columns")
            continue
        tables[key] = Table(names[key], columns, types)

    present = _rows_present(runner, schema, tables)
    tables = {
        k: Table(t.name, t.columns, t.types, rows_present=present.get(k, True))
        for k, t in tables.items()
    }
    version = _cdm_version(runner, schema, tables)
    return CdmSchema(schema, tables, version, tuple(notes))


def union_all(queries: list[exp.Select]) -> exp.Query:
    """One query with the rows of all `queries` (UNION ALL); the query itself for one."""
    return queries[0] if len(queries) == 1 else exp.union(*queries, distinct=False)


def _rows_present(runner: Runner, schema: str | None, tables: dict[str, Table]) -> dict[str, bool]:
    probe = [k for k in ("concept", "concept_ancestor", "concept_relationship") if k in tables]
    if not probe:
        return {}
    selects = [
        exp.select(
            exp.Literal.string(k).as_("t"),
            exp.Exists(
                this=exp.select(exp.Literal.number(1))
                .from_(table_expr(schema, tables[k].name))
                .limit(1)
            ).as_("e"),
        )
        for k in probe
    ]
    rows = runner.fetch(union_all(selects).sql(dialect=runner.dialect))
    return {str(t): bool(e) for t, e in rows}


def _cdm_version(runner: Runner, schema: str | None, tables: dict[str, Table]) -> str:
    src = tables.get("cdm_source")
    if src is not None and src.col("cdm_version"):
        sql = (
            exp.select(exp.column(src.columns["cdm_version"], quoted=True))
            .from_(table_expr(schema, src.name))
            .limit(1)
            .sql(dialect=runner.dialect)
        )
        try:
            rows = runner.fetch(sql)
        except Exception:
            rows = []
        if rows and rows[0][0]:
            text = str(rows[0][0]).lower().lstrip("v")
            for v in ("5.4", "5.3"):
                if text.startswith(v):
                    return v
    proc = tables.get("procedure_occurrence")
    if proc is not None and proc.col("procedure_end_date"):
        return "5.4"
    return "5.3"


def verify_person_links(runner: Runner, schema: CdmSchema) -> CdmSchema:
    """Check once, at start-up, which event tables reference only persons in PERSON (the
    CDM requires it, but nothing enforces it). Plans may count persons straight from a
    verified table; elsewhere they join PERSON. Restart the node after reloading data."""
    person = schema.table("person")
    if person is None:
        return schema
    checks: list[exp.Select] = []
    for t in EVENT_TABLES:
        stored = schema.table(t.table)
        if stored is None:
            continue
        e_pid = exp.column(stored.columns["person_id"], table="e", quoted=True)
        p_pid = exp.column(person.columns["person_id"], table="p", quoted=True)
        orphan = (
            exp.select(exp.Literal.number(1))
            .from_(table_expr(schema.schema, stored.name).as_("e"))
            .where(e_pid.copy().is_(exp.null()).not_())
            .where(
                exp.Exists(
                    this=exp.select(exp.Literal.number(1))
                    .from_(table_expr(schema.schema, person.name).as_("p"))
                    .where(p_pid.eq(e_pid))
                ).not_()
            )
            .limit(1)
        )
        checks.append(
            exp.select(
                exp.Literal.string(t.table).as_("t"), exp.Exists(this=orphan).not_().as_("ok")
            )
        )
    if not checks:
        return schema
    rows = runner.fetch(union_all(checks).sql(dialect=runner.dialect))
    linked = frozenset(str(t) for t, ok in rows if ok)
    notes = tuple(
        f"table {schema.tables[t.table].name} has events of persons missing from PERSON: "
        "they are not counted"
        for t in EVENT_TABLES
        if t.table in schema.tables and t.table not in linked
    )
    return dataclasses.replace(schema, linked=linked, notes=schema.notes + notes)
