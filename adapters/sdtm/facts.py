"""Dataset facts of an SDTM study for the catalogue (`SdtmAdapter.facts`): exact, internal
to the node, read from the normalised layout (`hyperfed.adapters.sdtm.layout`).

- persons: the subjects kept (`subjects`, DM without excluded arms); sexes from DM.SEX
  (F female, M male, UNDIFFERENTIATED other, U or empty unknown);
- ages in whole years on `as_of` from the middle of the birth interval `[birth_lo,
  birth_hi]` (BRTHDTC, else AGE at the reference start, which leaves a year open) when the
  interval spans at most a year and a day; wider intervals and births after `as_of` give
  no age (ages are only published in protected 5-year bands);
- records: rows of `events`, `interventions` and `findings` (kept subjects only);
- persons per calendar year with a record dated within that year (start or collection
  date, when its interval lies in one year);
- coding systems and code values: MedDRA preferred terms (`--PTCD` of events) and LOINC
  codes (`--LOINC` of findings), persons per system and per code.

There is no health category an SDTM folder can tell: the operator names one in the
dataset description (`health_categories`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlglot import exp

from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.facts import ExactFacts
from hyperfed.adapters.sdtm.compiler import MEDDRA
from hyperfed.adapters.sql import Runner, fetch_query, union_all

__all__ = ["LOINC", "sdtm_facts"]

LOINC = "http://loinc.org"
MAX_BIRTH_SPAN_DAYS = 366
_SEX = {"F": "female", "M": "male", "UNDIFFERENTIATED": "other"}
_DATED = (("events", "start"), ("interventions", "start"), ("findings", "date"))


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _count(*distinct: exp.Expr) -> exp.Expr:
    if not distinct:
        return exp.func("COUNT", exp.Star())
    return exp.func("COUNT", exp.Distinct(expressions=list(distinct)))


def sdtm_facts(runner: Runner, as_of: dt.date, deadline: Deadline | None = None) -> ExactFacts:
    usubjid = exp.column("usubjid")
    groups = (
        exp.select(exp.column("sex"), exp.column("birth_lo"), exp.column("birth_hi"), _count())
        .from_("subjects")
        .group_by(exp.Literal.number(1), exp.Literal.number(2), exp.Literal.number(3))
    )
    persons = 0
    by_sex: dict[str, int] = defaultdict(int)
    by_age: dict[int, int] = defaultdict(int)
    for sex, lo, hi, n in fetch_query(runner, groups, deadline):
        persons += int(n)
        by_sex[_SEX.get(str(sex or "").upper(), "unknown")] += int(n)
        if lo is None or hi is None or hi > as_of or (hi - lo).days > MAX_BIRTH_SPAN_DAYS:
            continue
        age = _age(lo + (hi - lo) / 2, as_of)
        if 0 <= age <= 130:
            by_age[age] += int(n)

    counts = [exp.select(_count()).from_(t) for t, _ in _DATED]
    records = sum(int(r[0]) for r in fetch_query(runner, union_all(counts), deadline))

    dated = []
    for table, date in _DATED:
        lo, hi = exp.column(f"{date}_lo"), exp.column(f"{date}_hi")
        year = exp.Extract(this=exp.var("YEAR"), expression=lo.copy())
        dated.append(
            exp.select(usubjid.copy(), year.as_("yr"))
            .from_(table)
            .where(lo.copy().is_(exp.null()).not_())
            .where(year.copy().eq(exp.Extract(this=exp.var("YEAR"), expression=hi.copy())))
        )
    years_q = (
        exp.select(exp.column("yr"), _count(exp.column("usubjid")))
        .from_(exp.paren(union_all(dated)).as_("d"))
        .group_by(exp.Literal.number(1))
    )
    by_year = {
        int(y): int(n) for y, n in fetch_query(runner, years_q, deadline) if 1000 <= int(y) <= 9999
    }

    coded = union_all(
        [
            exp.select(
                exp.Literal.string(MEDDRA).as_("sys"), exp.column("ptcd").as_("code"), usubjid
            )
            .from_("events")
            .where(exp.column("ptcd").is_(exp.null()).not_()),
            exp.select(
                exp.Literal.string(LOINC).as_("sys"), exp.column("loinc").as_("code"), usubjid
            )
            .from_("findings")
            .where(exp.column("loinc").is_(exp.null()).not_()),
        ]
    )
    systems_q = (
        exp.select(exp.column("sys"), _count(exp.column("usubjid")))
        .from_(exp.paren(coded.copy()).as_("c"))
        .group_by(exp.Literal.number(1))
    )
    codes_q = (
        exp.select(exp.column("sys"), exp.column("code"), _count(exp.column("usubjid")))
        .from_(exp.paren(coded).as_("c"))
        .group_by(exp.Literal.number(1), exp.Literal.number(2))
    )
    systems = {str(s): int(n) for s, n in fetch_query(runner, systems_q, deadline)}
    codes = {
        (str(s), str(c).strip()): int(n)
        for s, c, n in fetch_query(runner, codes_q, deadline)
        if str(c).strip()
    }
    return ExactFacts(
        persons=persons,
        records=records,
        record_kind="SDTM records",
        as_of=as_of,
        persons_by_age=dict(by_age),
        persons_by_sex=dict(by_sex),
        persons_by_year=by_year,
        coding_systems=systems,
        code_values=codes,
    )
