"""HQL -> SQL over the SDTM layout (`subjects`, `events`, `interventions`, `findings`), built
as sqlglot expression trees. `hyperfed.adapters.sdtm.plans` assembles them into one count.

`SdtmPredicates` is a `CriterionCompiler[exp.Expr]`: the base walks the criteria, keeps
paths, notes and unsupported criteria and gates capabilities; this class says what is SDTM's:

- **persons** are `subjects` rows (alias `s`); sex from DM.SEX (F, M, UNDIFFERENTIATED -> other,
  U or empty -> unknown); age from the birth interval `[birth_lo, birth_hi]` (BRTHDTC, else
  AGE/AGEU at RFSTDTC): an age condition holds only when it holds for every birth date the
  interval allows;
- **events** are rows of the layout tables a binding names: `sdtm` bindings (domains,
  variables, terms) and MedDRA codes (`lltcd`/`ptcd`, with descendants also the HLT, HLGT,
  SOC and body-system codes of the row); a row that says the event did not occur
  (--OCCUR = N, or pre-specified without an answer) or a test not done (--STAT) never counts;
- **dates** are intervals `(lo, hi)` (partial dates, `hyperfed.adapters.sdtm.dates`): a date
  satisfies a window, an age at the event or a `within` distance only when every day of its
  interval does (and, for `within`, every day of the anchor's);
- **values** (findings only) compare `value` per UCUM unit (`ucum`), converted with
  `hyperfed.adapters.units` exactly as on OMOP.

Every term, code and bound is a sqlglot literal: an injected term is a literal, never SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from sqlglot import exp

from hyperfed.adapters.compiler import CriterionCompiler, event_binding
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.hql.bindings import BindingBase, Bindings, CodesBinding, SexBinding
from hyperfed.adapters.hql.model import AgeCriterion, AgeRange, EventCriterion, Query, Stratify
from hyperfed.adapters.hql.strata import age_band_labels
from hyperfed.adapters.hql.systems import canonical_system
from hyperfed.adapters.sdtm.bindings import SdtmBinding
from hyperfed.adapters.sdtm.schema import (
    DATES,
    MATCH_COLUMNS,
    MEDDRA_CODES,
    MEDDRA_GROUPS,
    SdtmSchema,
)
from hyperfed.adapters.sql import isin, num, table_expr, union_all
from hyperfed.adapters.units import compatible_units, range_in

__all__ = ["MEDDRA", "SEX_CODES", "SdtmPredicates"]

MEDDRA = "http://terminology.hl7.org/CodeSystem/mdr"
SEX_CODES: dict[str, tuple[str, ...]] = {
    "female": ("F",),
    "male": ("M",),
    "other": ("UNDIFFERENTIATED",),
    "unknown": ("U",),
}
_SEX_LABELS = (("F", "female"), ("M", "male"), ("UNDIFFERENTIATED", "other"))


@dataclass(frozen=True)
class Target:
    """Rows of one layout table: `column IN values` (for rows of `domains`; () = any), for
    any of the `match` pairs."""

    table: str
    match: tuple[tuple[str, tuple[str, ...]], ...]
    values: tuple[str, ...]


def years_before(day: exp.Expr | dt.date, years: int) -> exp.Expr:
    """The date `years` years before `day` (29 February -> 28 February in common years):
    age >= n on `day` <=> born on or before it."""
    if isinstance(day, dt.date):
        try:
            earlier = day.replace(year=day.year - years)
        except ValueError:  # 29 February
            earlier = day.replace(year=day.year - years, day=28)
        return exp.cast(exp.Literal.string(earlier.isoformat()), "DATE")
    shifted = exp.DateSub(
        this=day.copy(), expression=exp.Literal.number(years), unit=exp.var("YEAR")
    )
    return exp.cast(shifted, "DATE")


def age_between(
    birth_lo: exp.Expr, birth_hi: exp.Expr, lo: exp.Expr | dt.date, hi: exp.Expr | dt.date,
    r: AgeRange,
) -> exp.Expr:  # fmt: skip
    """The age in whole years lies in `r` for every birth date in [birth_lo, birth_hi] and
    every day in [lo, hi]: the youngest on the earliest day is old enough, the oldest on the
    latest day young enough. NULL (unknown) when a date is."""
    conds: list[exp.Expr] = []
    if r.min is not None:
        conds.append(birth_hi.copy() <= years_before(lo, r.min))
    if r.max is not None:
        conds.append(birth_lo.copy() > years_before(hi, r.max + 1))
    return exp.and_(*conds)


class SdtmPredicates(CriterionCompiler[exp.Expr]):
    MODEL = "sdtm"
    BINDINGS: ClassVar[dict[type[BindingBase], str]] = {
        **CriterionCompiler.BINDINGS,
        SdtmBinding: "sdtm",
    }

    def __init__(
        self,
        query: Query,
        bindings: Bindings,
        features: Mapping[str, bool],
        schema: SdtmSchema,
        deadline: Deadline | None = None,
    ) -> None:
        super().__init__(query, bindings, features, deadline)
        self.schema = schema
        self.outer = "s"
        self._alias_n = 0

    # -- combinators -----------------------------------------------------------------------
    def conjunction(self, parts: Sequence[exp.Expr]) -> exp.Expr:
        return exp.and_(*parts, wrap=True)

    def disjunction(self, parts: Sequence[exp.Expr]) -> exp.Expr:
        return exp.paren(exp.or_(*parts), copy=False)

    def negation(self, part: exp.Expr) -> exp.Expr:
        # an unknown sex or age is NULL: "not" must make it TRUE (EXISTS is never NULL)
        if not self.reads_person(part):
            return exp.not_(exp.paren(part, copy=False))
        return exp.not_(exp.func("COALESCE", exp.paren(part, copy=False), exp.false()))

    def always(self) -> exp.Expr:
        return exp.true()

    def never(self) -> exp.Expr:
        return exp.false()

    # -- helpers ---------------------------------------------------------------------------
    def alias(self, prefix: str) -> str:
        self._alias_n += 1
        return f"{prefix}{self._alias_n}"

    @staticmethod
    def col(alias: str, name: str) -> exp.Column:
        return exp.column(name, table=alias, quoted=True)

    @staticmethod
    def table(name: str, alias: str) -> exp.Table:
        return table_expr(None, name, alias)

    def reads_person(self, e: exp.Expr) -> bool:
        """Whether `e` reads a subject attribute (anything but the subject id)."""
        return any(c.table == self.outer and c.name != "usubjid" for c in e.find_all(exp.Column))

    def birth(self, alias: str) -> tuple[exp.Expr, exp.Expr]:
        return self.col(alias, "birth_lo"), self.col(alias, "birth_hi")

    # -- person criteria -------------------------------------------------------------------
    def age_today(self, c: AgeCriterion, path: str) -> exp.Expr:
        return exp.paren(age_between(*self.birth(self.outer), self.as_of, self.as_of, c.age))

    def sex(self, e: EventCriterion, binding: SexBinding, path: str) -> exp.Expr:
        col = self.col(self.outer, "sex")
        pred = isin(col, SEX_CODES[binding.sex])
        if binding.sex == "unknown":
            pred = exp.or_(pred, col.copy().is_(exp.null()))
        return exp.paren(pred, copy=False)

    # -- what an event criterion reads -----------------------------------------------------
    def sdtm(self, e: EventCriterion, binding: SdtmBinding, path: str) -> exp.Expr:
        targets = self.targets(e, binding, path)
        return exp.false() if targets is None else self.events_pred(e, targets, path)

    def coded(self, e: EventCriterion, binding: CodesBinding, path: str) -> exp.Expr:
        targets = self.targets(e, binding, path)
        return exp.false() if targets is None else self.events_pred(e, targets, path)

    def targets(self, e: EventCriterion, binding: BindingBase, path: str) -> list[Target] | None:
        """The layout rows `binding` names (None: rejected, or nothing can match here)."""
        if isinstance(binding, SdtmBinding):
            found = self._binding_targets(binding, path)
        elif isinstance(binding, CodesBinding):
            found = self._code_targets(e, binding, path)
        else:  # a kind this model does not read (the base's words)
            self.reject(path, self._unread(e, binding))
            return None
        if found is None:
            return None
        if e.value is not None:
            kept = [t for t in found if t.table == "findings"]
            if not kept and found:
                self.reject(
                    path,
                    "a value applies to findings (LB, VS ...); "
                    f"{', '.join(sorted({t.table for t in found}))} records carry none",
                )
                return None
            if len(kept) < len(found):
                self.note(
                    f"{path}: a value applies to findings only; other records are not counted"
                )
            found = kept
        if not found:
            self.note(f"{path}: no records of this study can match this criterion")
            return None
        return found

    def _binding_targets(self, b: SdtmBinding, path: str) -> list[Target] | None:
        by_table: dict[str, dict[str, list[str]]] = {}
        absent: list[str] = []
        for domain in b.domains:
            table = self.schema.tables.get(domain)
            if table is None:
                absent.append(domain)
                continue
            for suffix in b.suffixes(domain):
                column = MATCH_COLUMNS[table].get(suffix)
                if column is None:
                    readable = ", ".join(f"--{s}" for s in MATCH_COLUMNS[table])
                    self.reject(
                        path,
                        f"{domain}{suffix} is not a variable the SDTM node matches terms in "
                        f"({table} domains: {readable})",
                    )
                    return None
                by_table.setdefault(table, {}).setdefault(column, []).append(domain)
        if absent and by_table:
            self.note(f"{path}: this study has no {', '.join(absent)} data")
        terms = tuple(sorted({t.strip().upper() for t in b.terms}))
        tests_only = set(by_table) == {"findings"} and set(by_table["findings"]) == {"testcd"}
        if tests_only and not set(terms) & self.schema.tests:
            self.note(f"{path}: this study has no {', '.join(terms)} results")
            return []
        return [
            Target(table, tuple((c, tuple(ds)) for c, ds in sorted(cols.items())), terms)
            for table, cols in sorted(by_table.items())
        ]

    def _code_targets(self, e: EventCriterion, b: CodesBinding, path: str) -> list[Target] | None:
        codes: list[str] = []
        for c in b.codes:
            system = canonical_system(c.system)
            if system.uri != MEDDRA:
                self.reject(
                    path,
                    f"SDTM data carry no {system.name} codes, and the hyperontology names no "
                    f"concept with the code {c.code} to translate it into SDTM terms",
                )
                return None
            codes.append(c.code.strip())
        if "events" not in self.schema.tables.values():
            return []
        columns = MEDDRA_CODES + (MEDDRA_GROUPS if e.descendants else ())
        return [Target("events", tuple((c, ()) for c in columns), tuple(sorted(set(codes))))]

    # -- rows --------------------------------------------------------------------------------
    def match(self, t: Target, alias: str) -> exp.Expr:
        preds: list[exp.Expr] = []
        for column, domains in t.match:
            pred = isin(self.col(alias, column), t.values)
            if domains and set(domains) != set(self.schema.domains_of(t.table)):
                pred = exp.and_(pred, isin(self.col(alias, "domain"), domains))
            preds.append(pred)
        return exp.paren(exp.or_(*preds), copy=False) if len(preds) > 1 else preds[0]

    def happened(self, t: Target, alias: str) -> exp.Expr | None:
        """The row records something that happened (None: every row of this study does)."""
        if t.table not in self.schema.solicited:
            return None
        if t.table == "findings":
            stat = self.col(alias, "stat")
            return exp.or_(stat.is_(exp.null()), stat.copy().neq(exp.Literal.string("NOT DONE")))
        occur, presp = self.col(alias, "occur"), self.col(alias, "presp")
        unanswered = exp.and_(
            occur.is_(exp.null()),
            exp.or_(presp.is_(exp.null()), presp.copy().neq(exp.Literal.string("Y"))),
        )
        return exp.paren(exp.or_(unanswered, occur.copy().neq(exp.Literal.string("N"))), copy=False)

    def row_filters(
        self,
        e: EventCriterion,
        t: Target,
        alias: str,
        birth: tuple[exp.Expr, exp.Expr] | None,
        path: str,
    ) -> list[exp.Expr]:
        conds = [self.match(t, alias)]
        happened = self.happened(t, alias)
        if happened is not None:
            conds.append(happened)
        lo_name, hi_name = DATES[t.table]
        lo, hi = self.col(alias, lo_name), self.col(alias, hi_name)
        if e.during is not None:  # the whole interval inside the window
            if e.during.from_ is not None:
                conds.append(
                    lo.copy() >= exp.cast(exp.Literal.string(e.during.from_.isoformat()), "DATE")
                )
            if e.during.to is not None:
                conds.append(
                    hi.copy() <= exp.cast(exp.Literal.string(e.during.to.isoformat()), "DATE")
                )
        if e.value is not None and t.table == "findings":
            conds.append(self.value(e, t, alias, path))
        if e.age is not None and birth is not None:
            conds.append(age_between(*birth, lo, hi, e.age))
        return conds

    def value(self, e: EventCriterion, t: Target, alias: str, path: str) -> exp.Expr:
        assert e.value is not None
        value = self.col(alias, "value")
        if e.value.unit is None:
            bounds: list[exp.Expr] = []
            if e.value.min is not None:
                bounds.append(value.copy() >= num(e.value.min))
            if e.value.max is not None:
                bounds.append(value.copy() <= num(e.value.max))
            return exp.and_(*bounds)
        self.note(
            f"values are compared in units compatible with {e.value.unit!r}; "
            "records without a recognised unit are not counted"
        )
        tests = [v for c, _ in t.match if c == "testcd" for v in t.values]
        only_tests = all(c == "testcd" for c, _ in t.match)
        recorded = sorted({u for x in tests for u in self.schema.test_units.get(x, ()) if u})
        # the units these tests' values carry here (any unit of the study for other matches)
        present = set(recorded) if only_tests else self.schema.units()
        units = [u.code for u in compatible_units(e.value.unit) if u.code in present]
        if tests and recorded and not units:
            self.note(
                f"{path}: {', '.join(tests)} results here are in {', '.join(recorded)}, "
                f"which cannot be compared with {e.value.unit!r}"
            )
        if not units:
            return exp.false()
        unit = self.col(alias, "ucum")
        lows, highs = exp.Case(this=unit), exp.Case(this=unit)
        for code in units:
            lo, hi = range_in(e.value.min, e.value.max, e.value.unit, code)
            if lo is not None:
                lows = lows.when(exp.Literal.string(code), num(lo))
            if hi is not None:
                highs = highs.when(exp.Literal.string(code), num(hi))
        conds = [isin(unit.copy(), units)]
        if e.value.min is not None:
            conds.append(value.copy() >= lows)
        if e.value.max is not None:
            conds.append(value.copy() <= highs)
        return exp.and_(*conds)

    def select_rows(self, e: EventCriterion, t: Target, path: str) -> exp.Select:
        """SELECT usubjid, lo, hi FROM <table> WHERE <filters> (joined to the subject for an
        age at the event)."""
        alias = self.alias("e")
        lo_name, hi_name = DATES[t.table]
        q = exp.select(
            self.col(alias, "usubjid").as_("usubjid"),
            self.col(alias, lo_name).as_("lo"),
            self.col(alias, hi_name).as_("hi"),
        ).from_(self.table(t.table, alias))
        birth = None
        if e.age is not None:
            b = self.alias("b")
            q = q.join(
                self.table("subjects", b),
                on=self.col(b, "usubjid").eq(self.col(alias, "usubjid")),
            )
            birth = self.birth(b)
        return q.where(*self.row_filters(e, t, alias, birth, path))

    def rows(self, e: EventCriterion, targets: list[Target], path: str) -> exp.Query:
        return union_all([self.select_rows(e, t, path) for t in targets])

    # -- event predicates --------------------------------------------------------------------
    def events_pred(self, e: EventCriterion, targets: list[Target], path: str) -> exp.Expr:
        outer_id = self.col(self.outer, "usubjid")
        if e.occurrences is None and e.within is None:
            preds = []
            for t in targets:
                alias = self.alias("e")
                birth = self.birth(self.outer) if e.age is not None else None
                sub = (
                    exp.select(exp.Literal.number(1))
                    .from_(self.table(t.table, alias))
                    .where(
                        self.col(alias, "usubjid").eq(outer_id.copy()),
                        *self.row_filters(e, t, alias, birth, path),
                    )
                )
                preds.append(exp.Exists(this=sub))
            return exp.paren(exp.or_(*preds), copy=False) if len(preds) > 1 else preds[0]
        q = self.person_ids(e, targets, path)
        return exp.false() if q is None else outer_id.isin(query=q)

    def person_ids(self, e: EventCriterion, targets: list[Target], path: str) -> exp.Select | None:
        """SELECT usubjid of the subjects with matching events (one row per event, or per
        subject with occurrence counts); None when the anchor cannot be evaluated."""
        r = self.alias("r")
        rid = exp.column("usubjid", table=r)
        q = exp.select(rid.copy()).from_(self.rows(e, targets, path).subquery(r))
        if e.within is not None:
            anchor = self._anchor(e, r, f"{path}.within.of")
            if anchor is None:
                return None
            rows, near = anchor
            if e.occurrences is None:
                q = q.join(rows, on=near)  # persons may repeat: IN absorbs them
            else:  # each matching event counts once, however many anchors it is near
                q = q.where(
                    exp.Exists(this=exp.select(exp.Literal.number(1)).from_(rows).where(near))
                )
        if e.occurrences is not None:
            count = exp.Count(this=exp.Star())
            having: list[exp.Expr] = [count >= exp.Literal.number(e.occurrences.min)]
            if e.occurrences.max is not None:
                having.append(count.copy() <= exp.Literal.number(e.occurrences.max))
            q = q.group_by(rid.copy()).having(exp.and_(*having))
        return q

    def _anchor(self, e: EventCriterion, r: str, path: str) -> tuple[exp.Subquery, exp.Expr] | None:
        """The anchor's rows and the condition that an event lies near one: every day the
        event may be on lies within [anchor - days_before, anchor + days_after] for every
        day the anchor may be on."""
        assert e.within is not None
        of = e.within.of
        binding = event_binding(of, self.bindings)
        if binding is None:  # the base admitted the anchor: not reached
            self.reject(path, f"concept {of.concept} was not resolved for sdtm")
            return None
        targets = self.targets(of, binding, path)
        if targets is None:
            return None
        a = self.alias("a")
        days = exp.var("DAY")
        near = exp.and_(
            exp.column("usubjid", table=a).eq(exp.column("usubjid", table=r)),
            exp.column("lo", table=r)
            >= exp.DateSub(
                this=exp.column("hi", table=a),
                unit=days,
                expression=exp.Literal.number(e.within.days_before),
            ),
            exp.column("hi", table=r)
            <= exp.DateAdd(
                this=exp.column("lo", table=a),
                unit=days.copy(),
                expression=exp.Literal.number(e.within.days_after),
            ),
        )
        return self.rows(of, targets, path).subquery(a), near

    # -- strata ------------------------------------------------------------------------------
    def sex_label(self) -> exp.Expr:
        case = exp.Case(this=self.col(self.outer, "sex"))
        for code, label in _SEX_LABELS:
            case = case.when(exp.Literal.string(code), exp.Literal.string(label))
        return case.else_(exp.Literal.string("unknown"))

    def age_label(self, s: Stratify) -> exp.Expr:
        """The age band on `as_of` every birth date of the interval falls in; "unknown" when
        the birth interval is unknown or spans two bands."""
        day = self.as_of
        birth_lo, birth_hi = self.birth(self.outer)
        labels = age_band_labels(s.age_bands)
        case = exp.Case().when(
            exp.or_(birth_lo.is_(exp.null()), birth_hi.is_(exp.null())),
            exp.Literal.string("unknown"),
        )
        uppers: list[int | None] = [*s.age_bands[1:], None]
        for low, upper, label in zip(s.age_bands, uppers, labels, strict=True):
            if low == 0 and upper is None:
                fits: exp.Expr = exp.true()
            else:
                band = AgeRange(min=low or None, max=None if upper is None else upper - 1)
                fits = age_between(birth_lo, birth_hi, day, day, band)
            case = case.when(fits, exp.Literal.string(label))
        return case.else_(exp.Literal.string("unknown"))
