"""Dataset facts of an OMOP CDM for the catalogue (`OmopAdapter.facts`): exact, internal
to the node (the node protects them before anything leaves).

- persons: rows of PERSON; sexes from `gender_concept_id` (8532 female, 8507 male, 8521
  other, anything else unknown); ages in whole years on `as_of` from year, month and day
  of birth (a missing month or day counts as the 1st, as in queries; no year: no age;
  births after `as_of` are left out of the ages);
- records: rows of the clinical event tables (condition_occurrence, drug_exposure,
  measurement, procedure_occurrence, observation, device_exposure, visit_occurrence,
  specimen) of persons in PERSON;
- persons per calendar year with any event that year (temporal coverage);
- coding systems and code values present: the standard concepts of those events (via
  CONCEPT: vocabulary and code), persons per system and per code; vocabularies without a
  canonical system URI (`OMOP_VOCABULARIES`) and concept 0 are left out; without a usable
  CONCEPT table there are none;
- health category EHRS (electronic health records).

Every query is a sqlglot AST over the tables as stored (`CdmSchema`), run under the
deadline.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlglot import exp

from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.facts import ExactFacts
from hyperfed.adapters.omop.schema import CdmSchema
from hyperfed.adapters.omop.tables import EVENT_TABLES, system_for_vocabulary
from hyperfed.adapters.sql import Runner, Table, fetch_query, table_expr, text_as_date, union_all

__all__ = ["omop_facts"]

_SEX = {8532: "female", 8507: "male", 8521: "other"}


def _col(t: Table, logical: str, alias: str | None = None) -> exp.Column:
    return exp.column(t.columns[logical], table=alias, quoted=True)


def _date(t: Table, logical: str, alias: str, dialect: str) -> exp.Expr:
    col = _col(t, logical, alias)
    if t.is_text(logical):
        return text_as_date(col, dialect)
    return exp.cast(col, "DATE") if "TIME" in t.types.get(logical, "").upper() else col


def _events(schema: CdmSchema, dialect: str, *, with_concept: bool) -> list[exp.Select]:
    """One SELECT per event table: person id, event year (and concept id), rows of persons
    in PERSON only."""
    person = schema.table("person")
    assert person is not None
    out: list[exp.Select] = []
    for et in EVENT_TABLES:
        t = schema.table(et.table)
        if t is None or not t.rows_present:
            continue
        pid = _col(t, "person_id", "e")
        cols: list[exp.Expr] = [
            pid.copy().as_("pid"),
            exp.Extract(this=exp.var("YEAR"), expression=_date(t, et.start, "e", dialect)).as_(
                "yr"
            ),
        ]
        if with_concept:
            cols.append(_col(t, et.concept, "e").as_("cid"))
        q = exp.select(*cols).from_(table_expr(schema.schema, t.name, "e"))
        q = q.where(pid.copy().is_(exp.null()).not_())
        if et.table not in schema.linked:
            known = exp.select(_col(person, "person_id")).from_(
                table_expr(schema.schema, person.name)
            )
            q = q.where(exp.In(this=pid.copy(), query=exp.paren(known)))
        out.append(q)
    return out


def _person_rows(
    runner: Runner, schema: CdmSchema, deadline: Deadline | None
) -> list[tuple[object, ...]]:
    person = schema.table("person")
    assert person is not None
    cols: list[exp.Expr] = []
    for logical in ("gender_concept_id", "year_of_birth", "month_of_birth", "day_of_birth"):
        cols.append(_col(person, logical) if person.col(logical) else exp.null())
    q = (
        exp.select(*cols, exp.func("COUNT", exp.Star()))
        .from_(table_expr(schema.schema, person.name))
        .group_by(*[exp.Literal.number(i) for i in range(1, 5)])
    )
    return fetch_query(runner, q, deadline)


def _age(year: object, month: object, day: object, as_of: dt.date) -> int | None:
    if year is None:
        return None
    birth = int(year) * 10000 + int(month or 1) * 100 + int(day or 1)  # type: ignore[call-overload]
    ref = as_of.year * 10000 + as_of.month * 100 + as_of.day
    if birth > ref:
        return None
    return (ref - birth) // 10000


def omop_facts(
    runner: Runner, schema: CdmSchema, as_of: dt.date, deadline: Deadline | None = None
) -> ExactFacts:
    dialect = runner.dialect
    persons = 0
    by_sex: dict[str, int] = defaultdict(int)
    by_age: dict[int, int] = defaultdict(int)
    for gender, year, month, day, n in _person_rows(runner, schema, deadline):
        count = int(n)  # type: ignore[call-overload]
        persons += count
        sex = _SEX.get(int(gender), "unknown") if gender is not None else "unknown"  # type: ignore[call-overload]
        by_sex[sex] += count
        age = _age(year, month, day, as_of)
        if age is not None and age <= 130:
            by_age[age] += count

    records = 0
    by_year: dict[int, int] = {}
    events = _events(schema, dialect, with_concept=False)
    if events:
        rows_q = exp.select(exp.func("COUNT", exp.Star())).from_(
            exp.paren(union_all(events)).as_("ev")
        )
        records = int(fetch_query(runner, rows_q, deadline)[0][0])
        year = exp.column("yr", table="ev")
        years_q = (
            exp.select(year, exp.func("COUNT", exp.Distinct(expressions=[exp.column("pid")])))
            .from_(exp.paren(union_all(events)).as_("ev"))
            .where(year.copy().is_(exp.null()).not_())
            .group_by(exp.Literal.number(1))
        )
        for y, n in fetch_query(runner, years_q, deadline):
            if 1000 <= int(y) <= 9999:
                by_year[int(y)] = int(n)

    systems, codes = _codes(runner, schema, deadline)
    return ExactFacts(
        persons=persons,
        records=records,
        record_kind="clinical event records",
        as_of=as_of,
        persons_by_age=dict(by_age),
        persons_by_sex=dict(by_sex),
        persons_by_year=by_year,
        coding_systems=systems,
        code_values=codes,
        health_categories=("EHRS",),
    )


def _codes(
    runner: Runner, schema: CdmSchema, deadline: Deadline | None
) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    concept = schema.table("concept")
    if concept is None or not concept.rows_present:
        return {}, {}
    if not all(concept.col(c) for c in ("concept_id", "concept_code", "vocabulary_id")):
        return {}, {}
    events = _events(schema, runner.dialect, with_concept=True)
    if not events:
        return {}, {}
    vocab = _col(concept, "vocabulary_id", "c")
    code = _col(concept, "concept_code", "c")
    cid = exp.column("cid", table="ev")
    pid = exp.column("pid", table="ev")

    def grouped(*keys: exp.Expr) -> exp.Select:
        return (
            exp.select(*keys, exp.func("COUNT", exp.Distinct(expressions=[pid.copy()])))
            .from_(exp.paren(union_all([e.copy() for e in events])).as_("ev"))
            .join(
                table_expr(schema.schema, concept.name, "c"),
                on=_col(concept, "concept_id", "c").eq(cid.copy()),
            )
            .where(cid.copy().neq(exp.Literal.number(0)))
            .group_by(*[exp.Literal.number(i) for i in range(1, len(keys) + 1)])
        )

    systems: dict[str, int] = {}
    for v, n in fetch_query(runner, grouped(vocab.copy()), deadline):
        uri = system_for_vocabulary(str(v)) if v is not None else None
        if uri is not None:
            systems[uri] = systems.get(uri, 0) + int(n)
    codes: dict[tuple[str, str], int] = {}
    for v, c, n in fetch_query(runner, grouped(vocab.copy(), code.copy()), deadline):
        uri = system_for_vocabulary(str(v)) if v is not None else None
        if uri is not None and c is not None and str(c).strip():
            key = (uri, str(c).strip())
            codes[key] = codes.get(key, 0) + int(n)
    return systems, codes
