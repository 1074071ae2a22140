"""What an OMOP database actually looks like: table and column names as stored (any
case), CDM version, which vocabulary tables are usable. Real nodes are messy; the
compiler reads names from here instead of assuming them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlglot import exp

from hyperfed.adapters.omop.tables import EVENT_TABLES, PERSON_COLUMNS, VOCABULARY_TABLES
from hyperfed.adapters.sql import Runner, Table, read_tables, rows_present, table_expr, union_all

__all__ = ["CdmSchema", "Table", "inspect_schema", "verify_person_links"]


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


def inspect_schema(runner: Runner) -> CdmSchema:
    """Read the catalog of `runner`'s schema and describe the OMOP tables found."""
    notes: list[str] = []
    wanted = {t.table: t for t in EVENT_TABLES}
    tables: dict[str, Table] = {}
    for key, t in read_tables(runner).items():
        if key in wanted:
            needed = ("person_id", wanted[key].concept, wanted[key].start)
            missing = [c for c in needed if c not in t.columns]
            if missing:
                notes.append(f"table {t.name} lacks column(s) {', '.join(missing)}; it is not used")
                continue
        if key == "person" and any(c not in t.columns for c in PERSON_COLUMNS[:3]):
            notes.append("table person lacks required columns")
            continue
        tables[key] = t
    present = rows_present(runner, tables, VOCABULARY_TABLES)
    tables = {
        k: dataclasses.replace(t, rows_present=present.get(k, True)) for k, t in tables.items()
    }
    version = _cdm_version(runner, runner.schema, tables)
    return CdmSchema(runner.schema, tables, version, tuple(notes))


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
