"""Dataset facts of a loaded FHIR store for the catalogue (`FhirAdapter.facts`): exact,
internal to the node, read from the SQL-on-FHIR view tables.

- persons: the Patient rows (`v_patient`), by `gender` (female, male, other, unknown) and by
  age in whole years on `as_of` from `birth_date_start` (partial dates: their first day, as
  in queries);
- records: clinical resources of loaded Patients (one per resource, however many codings it
  has) in the event views the adapter queries, `record_kind` "FHIR resources";
- persons per calendar year with a resource dated within it (each view's event date);
- coding systems and code values: the codings of those resources, by canonical system URI
  (systems HQL does not know are kept as written), persons each;
- health category EHRS (electronic health records).

Facts are computed only for a store of files: over a FHIR server's REST API they would need
a search per code; such a node publishes its description without facts.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from sqlglot import exp

from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.facts import ExactFacts
from hyperfed.adapters.fhir.dates import day_sql
from hyperfed.adapters.fhir.events import EventTable
from hyperfed.adapters.hql.systems import UnknownSystem, canonical_system
from hyperfed.adapters.sql import Runner, fetch_query, union_all

__all__ = ["fhir_facts"]

_SEX = {"female": "female", "male": "male", "other": "other"}


def _canonical(system: str) -> str:
    try:
        return canonical_system(system).uri
    except UnknownSystem:
        return system


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _events(tables: Sequence[tuple[EventTable, str]], patients: str) -> exp.Query:
    """(view, id, patient_id, day, system, code) of every coding of loaded Patients."""
    known = exp.select(exp.column("id")).from_(exp.to_identifier(patients, quoted=True))
    return union_all(
        [
            exp.select(
                exp.Literal.string(t.view).as_("view"),
                exp.column("id", table="e").as_("rid"),
                exp.column("patient_id", table="e").as_("pid"),
                day_sql(exp.column(t.date, table="e")).as_("day"),
                exp.column("system", table="e").as_("sys"),
                exp.column("code", table="e").as_("code"),
            )
            .from_(exp.to_identifier(table, quoted=True).as_("e"))
            .where(exp.column("patient_id", table="e").isin(query=known.copy()))
            for t, table in tables
        ]
    )


def fhir_facts(
    runner: Runner,
    patients: str,
    tables: Sequence[tuple[EventTable, str]],
    as_of: dt.date,
    deadline: Deadline | None = None,
) -> ExactFacts:
    """Facts of the store: `patients` is the Patient view's table, `tables` the event views
    (and their tables) the adapter queries."""
    p = exp.to_identifier(patients, quoted=True)
    groups = (
        exp.select(
            exp.column("gender"),
            day_sql(exp.column("birth_date_start")),
            exp.func("COUNT", exp.Distinct(expressions=[exp.column("id")])),
        )
        .from_(p)
        .group_by(exp.Literal.number(1), exp.Literal.number(2))
    )
    persons = 0
    by_sex: dict[str, int] = defaultdict(int)
    by_age: dict[int, int] = defaultdict(int)
    for gender, birth, n in fetch_query(runner, groups, deadline):
        persons += int(n)
        by_sex[_SEX.get(str(gender or "").lower(), "unknown")] += int(n)
        if isinstance(birth, dt.date) and birth <= as_of:
            by_age[_age(birth, as_of)] += int(n)
    if not tables:
        return ExactFacts(
            persons=persons,
            records=0,
            record_kind="FHIR resources",
            as_of=as_of,
            persons_by_age=dict(by_age),
            persons_by_sex=dict(by_sex),
            health_categories=("EHRS",),
        )
    events = exp.paren(_events(tables, patients)).as_("ev")
    pid = exp.column("pid")
    records_q = exp.select(
        exp.func(
            "COUNT",
            exp.Distinct(
                expressions=[exp.Tuple(expressions=[exp.column("view"), exp.column("rid")])]
            ),
        )
    ).from_(events.copy())
    ((records,),) = fetch_query(runner, records_q, deadline)
    year = exp.Extract(this=exp.var("YEAR"), expression=exp.column("day"))
    years_q = (
        exp.select(year.as_("yr"), exp.func("COUNT", exp.Distinct(expressions=[pid.copy()])))
        .from_(events.copy())
        .where(exp.column("day").is_(exp.null()).not_())
        .group_by(exp.Literal.number(1))
    )
    by_year = {
        int(y): int(n) for y, n in fetch_query(runner, years_q, deadline) if 1000 <= int(y) <= 9999
    }
    stored_q = exp.select(exp.column("sys")).distinct().from_(events.copy())
    stored = [str(s) for (s,) in fetch_query(runner, stored_q, deadline) if s is not None]
    canon: exp.Expr = exp.column("sys")
    if stored:  # one URI per system however it was spelled (aliases, case, slash)
        case = exp.Case(this=exp.column("sys"))
        for s in stored:
            case = case.when(exp.Literal.string(s), exp.Literal.string(_canonical(s)))
        canon = case.else_(exp.column("sys"))
    coded = (
        exp.select(canon.as_("csys"), exp.column("code"), pid.copy())
        .from_(events)
        .where(exp.column("sys").is_(exp.null()).not_(), exp.column("code").is_(exp.null()).not_())
    )
    persons_of = exp.func("COUNT", exp.Distinct(expressions=[pid.copy()]))
    codes_q = (
        exp.select(exp.column("csys"), exp.column("code"), persons_of.copy())
        .from_(exp.paren(coded.copy()).as_("c"))
        .group_by(exp.Literal.number(1), exp.Literal.number(2))
    )
    systems_q = (
        exp.select(exp.column("csys"), persons_of)
        .from_(exp.paren(coded).as_("c"))
        .group_by(exp.Literal.number(1))
    )
    codes = {(str(s), str(c)): int(n) for s, c, n in fetch_query(runner, codes_q, deadline)}
    systems = {str(s): int(n) for s, n in fetch_query(runner, systems_q, deadline)}
    return ExactFacts(
        persons=persons,
        records=int(records),
        record_kind="FHIR resources",
        as_of=as_of,
        persons_by_age=dict(by_age),
        persons_by_sex=dict(by_sex),
        persons_by_year=by_year,
        coding_systems=systems,
        code_values=codes,
        health_categories=("EHRS",),
    )
