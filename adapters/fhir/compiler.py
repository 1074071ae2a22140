"""HQL -> SQL predicates over the FHIR view tables, built as sqlglot trees (never by string
formatting). `hyperfed.adapters.fhir.plans` assembles them into one count.

`FhirPredicates` is a `CriterionCompiler[exp.Expr]`: the base walks the criteria, keeps paths,
notes and unsupported criteria, gates capabilities; this class says what FHIR's is. Pure: it
reads a `StoreIndex` (which view holds which code) and the code expansions made beforehand
(`hyperfed.adapters.fhir.vocab`).

- A coded criterion is an ``EXISTS`` over the event views that carry one of its codes (or,
  with occurrences or a relative window, ``p.id IN (SELECT patient_id ... GROUP BY ...
  HAVING count(DISTINCT event) ...)``); an event is one resource — one Observation component
  — and an ImagingStudy naming its Procedure (procedureReference) is that Procedure's event.
- An event's day is the first day its date allows (`day_sql`), ages are whole years from the
  first day the birth date allows (partial dates: ``1970`` is 1970-01-01), compared as
  yyyymmdd keys like the OMOP adapter's.
- Values are valueQuantity numbers; with a unit, only UCUM quantities
  (``system = http://unitsofmeasure.org``) of a compatible unit count, each converted.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlglot import exp

from hyperfed.adapters.compiler import CriterionCompiler, event_binding
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.fhir.dates import day_sql
from hyperfed.adapters.fhir.events import EVENT_TABLES, EventTable
from hyperfed.adapters.fhir.index import StoreIndex
from hyperfed.adapters.fhir.vocab import CodeRef, Expansion, identity
from hyperfed.adapters.hql.bindings import Bindings, CodesBinding, SexBinding
from hyperfed.adapters.hql.model import AgeCriterion, Code, EventCriterion, Query, Stratify
from hyperfed.adapters.hql.strata import age_band_labels
from hyperfed.adapters.hql.systems import canonical_system
from hyperfed.adapters.sql import age_in, date_key, date_key_expr, isin, num, table_expr, union_all
from hyperfed.adapters.units import compatible_units, range_in

__all__ = ["UCUM", "FhirPredicates", "Target"]

UCUM = "http://unitsofmeasure.org"
_SEXES = ("female", "male", "other")
Codes = tuple[tuple[str, tuple[str, ...]], ...]
"""(system as stored, codes) pairs"""


@dataclass(frozen=True)
class Target:
    """One event view a criterion reads, with the codes to find in it."""

    table: EventTable
    direct: Codes = ()
    """codes of the view's own codings"""
    medication: Codes = ()
    """codes of the Medication its rows reference"""


def _and(*parts: exp.Expr) -> exp.Expr:
    """AND of freshly built parts (sqlglot would copy each one)."""
    return exp.and_(*parts, copy=False)


def _or(*parts: exp.Expr) -> exp.Expr:
    return exp.or_(*parts, copy=False)


def _codes(found: Mapping[str, set[str]]) -> Codes:
    return tuple((s, tuple(sorted(cs))) for s, cs in sorted(found.items()))


class FhirPredicates(CriterionCompiler[exp.Expr]):
    MODEL = "fhir"

    def __init__(
        self,
        query: Query,
        bindings: Bindings,
        features: Mapping[str, bool],
        index: StoreIndex,
        expansions: Mapping[CodeRef, Expansion],
        usable: Sequence[EventTable] = EVENT_TABLES,
        deadline: Deadline | None = None,
    ) -> None:
        super().__init__(query, bindings, features, deadline)
        self.index = index
        self.expansions = expansions
        self.usable = {t.view: t for t in usable}
        self.outer = "p"
        self._alias_n = 0

    # -- combinators -----------------------------------------------------------------------
    def conjunction(self, parts: Sequence[exp.Expr]) -> exp.Expr:
        return exp.and_(*parts, wrap=True, copy=False)

    def disjunction(self, parts: Sequence[exp.Expr]) -> exp.Expr:
        return exp.paren(_or(*parts), copy=False)

    def negation(self, part: exp.Expr) -> exp.Expr:
        # an unknown age or sex is NULL: "not" must turn it into TRUE; EXISTS is never NULL
        if not self.reads_person(part):
            return exp.not_(exp.paren(part, copy=False))
        return exp.not_(exp.func("COALESCE", exp.paren(part, copy=False), exp.false()))

    def always(self) -> exp.Expr:
        return exp.true()

    def never(self) -> exp.Expr:
        return exp.false()

    # -- helpers -----------------------------------------------------------------------------
    def alias(self, prefix: str) -> str:
        self._alias_n += 1
        return f"{prefix}{self._alias_n}"

    def table(self, view: str, alias: str) -> exp.Table:
        return table_expr(None, self.index.tables[view], alias)

    @staticmethod
    def col(alias: str, name: str) -> exp.Column:
        return exp.column(name, table=alias, quoted=True)

    def birth_day(self, alias: str) -> exp.Expr:
        return day_sql(self.col(alias, "birth_date_start"))

    def birth_key(self, alias: str) -> exp.Expr:
        return date_key_expr(self.birth_day(alias))

    def born_by(self, years: int) -> exp.Expr:
        """The last birth day of someone `years` old on the reference date, as a DATE literal
        (``age >= a`` is ``birth <= born_by(a)``; Feb 29 of a common year is Feb 28)."""
        key = date_key(self.as_of) - years * 10000
        y, m, d = key // 10000, key // 100 % 100, key % 100
        last = dt.date(y, m, min(d, calendar.monthrange(y, m)[1]))
        return exp.cast(exp.Literal.string(last.isoformat()), "DATE")

    def reads_person(self, e: exp.Expr) -> bool:
        """Whether `e` reads a patient attribute (anything but the patient's id)."""
        return any(c.table == self.outer and c.name != "id" for c in e.find_all(exp.Column))

    # -- person criteria ---------------------------------------------------------------------
    def age_today(self, c: AgeCriterion, path: str) -> exp.Expr:
        # whole years on a fixed day: compare the birth day with two date literals
        birth = self.birth_day(self.outer)
        conds: list[exp.Expr] = []
        if c.age.min is not None:
            conds.append(birth.copy() <= self.born_by(c.age.min))
        if c.age.max is not None:
            conds.append(birth.copy() > self.born_by(c.age.max + 1))
        return exp.paren(_and(*conds))

    def sex(self, e: EventCriterion, binding: SexBinding, path: str) -> exp.Expr:
        gender = self.col(self.outer, "gender")
        if binding.sex != "unknown":
            return exp.paren(gender.eq(exp.Literal.string(binding.sex)), copy=False)
        known = gender.copy().isin(*[exp.Literal.string(s) for s in _SEXES])
        return exp.paren(_or(gender.is_(exp.null()), exp.not_(known)), copy=False)

    # -- which views, which codes -------------------------------------------------------------
    def coded(self, e: EventCriterion, binding: CodesBinding, path: str) -> exp.Expr:
        targets = self.targets(e, binding.codes, path)
        if not targets:
            if targets is not None:
                self.note(f"{path}: no records in this FHIR source can match this criterion")
            return exp.false()
        return self.events_pred(e, targets, path)

    def wanted(self, e: EventCriterion, codes: Sequence[Code]) -> set[tuple[str, str]]:
        """The (system, code) pairs that match `codes` here (with descendants and mappings
        when a vocabulary export expanded them)."""
        found: set[tuple[str, str]] = set()
        for code in codes:
            ref = CodeRef(code.system, code.code, e.descendants)
            expansion = self.expansions.get(ref) or identity(ref)
            for n in expansion.notes:
                self.note(n)
            found |= expansion.codes
        return found

    def targets(self, e: EventCriterion, codes: Sequence[Code], path: str) -> list[Target] | None:
        """The event views holding one of `codes`, in a fixed order; [] when none does."""
        direct: dict[str, dict[str, set[str]]] = {}
        medication: dict[str, dict[str, set[str]]] = {}
        for system, code in sorted(self.wanted(e, codes)):
            for view, via, stored in self.index.where(system, code):
                if view not in self.usable:
                    continue
                into = medication if via == "medication" else direct
                into.setdefault(view, {}).setdefault(stored, set()).add(code)
        targets = [
            Target(t, _codes(direct.get(t.view, {})), _codes(medication.get(t.view, {})))
            for t in self.usable.values()
            if t.view in direct or (t.view in medication and self.index.has("medication"))
        ]
        if e.value is not None:
            kept = [x for x in targets if x.table.values]
            if len(kept) < len(targets):
                self.note(
                    f"{path}: a value constraint applies to Observations (and their "
                    "components); other matching resources are not counted"
                )
            targets = kept
        if e.body_site is not None:
            kept = [x for x in targets if self._has_body_site(x.table)]
            if len(kept) < len(targets):
                self.note(
                    f"{path}: a body site is recorded on ImagingStudy series, Procedures and "
                    "Conditions; other matching resources are not counted"
                )
            targets = kept
        return targets

    def _has_body_site(self, t: EventTable) -> bool:
        if t.body_site is None:
            return False
        return t.body_site == "series" or self.index.has(t.body_site, "id", "system", "code")

    # -- rows ------------------------------------------------------------------------------------
    def code_match(self, x: Target, alias: str) -> exp.Expr:
        parts: list[exp.Expr] = [
            _and(
                self.col(alias, "system").eq(exp.Literal.string(s)),
                isin(self.col(alias, "code"), codes),
            )
            for s, codes in x.direct
        ]
        if x.medication:
            m = self.alias("m")
            meds = [
                _and(self.col(m, "system").eq(exp.Literal.string(s)), isin(self.col(m, "code"), cs))
                for s, cs in x.medication
            ]
            sub = exp.select(self.col(m, "id")).from_(self.table("medication", m)).where(_or(*meds))
            parts.append(self.col(alias, "medication_id").isin(query=sub))
        return exp.paren(_or(*parts), copy=False) if len(parts) > 1 else parts[0]

    def day(self, x: Target, alias: str) -> exp.Expr:
        return day_sql(self.col(alias, x.table.date))

    def event_key(self, x: Target, alias: str) -> exp.Expr:
        """One value per event: the resource (an Observation's component; for an ImagingStudy
        made for a Procedure, that Procedure)."""
        own = exp.DPipe(
            this=exp.Literal.string(f"{x.table.resource}/"), expression=self.col(alias, "id")
        )
        if x.table.values:
            index = exp.cast(self.col(alias, "component_index"), "VARCHAR")
            tail = exp.func("COALESCE", index, exp.Literal.string(""))
            return exp.DPipe(
                this=own, expression=exp.DPipe(this=exp.Literal.string("#"), expression=tail)
            )
        if x.table.body_site == "series":
            made_for = exp.DPipe(
                this=exp.Literal.string("Procedure/"), expression=self.col(alias, "procedure_id")
            )
            return exp.func("COALESCE", made_for, own)
        return own

    def row_filters(
        self, e: EventCriterion, x: Target, alias: str, birth: exp.Expr | None
    ) -> list[exp.Expr]:
        conds = [self.code_match(x, alias)]
        if e.during is not None:
            if e.during.from_ is not None:
                day = exp.cast(exp.Literal.string(e.during.from_.isoformat()), "DATE")
                conds.append(self.day(x, alias) >= day)
            if e.during.to is not None:
                day = exp.cast(exp.Literal.string(e.during.to.isoformat()), "DATE")
                conds.append(self.day(x, alias) <= day)
        if e.value is not None:
            conds.append(self._value(e, alias))
        if e.age is not None and birth is not None:
            conds.append(age_in(birth, date_key_expr(self.day(x, alias)), e.age))
        if e.body_site is not None:
            conds.append(self._body_site(e.body_site, x, alias))
        return conds

    def _value(self, e: EventCriterion, alias: str) -> exp.Expr:
        assert e.value is not None
        value = self.col(alias, "value")
        lo, hi = e.value.min, e.value.max
        if e.value.unit is None:
            bounds: list[exp.Expr] = []
            if lo is not None:
                bounds.append(value.copy() >= num(lo))
            if hi is not None:
                bounds.append(value.copy() <= num(hi))
            return _and(*bounds)
        self.note(
            f"values are compared in units compatible with {e.value.unit!r}; "
            "records without a recognised unit are not counted"
        )
        unit = self.col(alias, "unit_code")
        units = [u.code for u in compatible_units(e.value.unit)]
        conds: list[exp.Expr] = [self.col(alias, "unit_system").eq(exp.Literal.string(UCUM))]
        conds.append(isin(unit.copy(), units))
        lows, highs = exp.Case(this=unit.copy()), exp.Case(this=unit.copy())
        for u in units:
            ulo, uhi = range_in(lo, hi, e.value.unit, u)
            if ulo is not None:
                lows = lows.when(exp.Literal.string(u), num(ulo))
            if uhi is not None:
                highs = highs.when(exp.Literal.string(u), num(uhi))
        if lo is not None:
            conds.append(value.copy() >= lows)
        if hi is not None:
            conds.append(value.copy() <= highs)
        return _and(*conds)

    def _body_site(self, site: Code, x: Target, alias: str) -> exp.Expr:
        s = self.alias("s")
        system = canonical_system(site.system).uri
        conds: list[exp.Expr] = [
            self.col(s, "id").eq(self.col(alias, "id")),
            self.col(s, "system").eq(exp.Literal.string(system)),
            self.col(s, "code").eq(exp.Literal.string(site.code)),
        ]
        if x.table.body_site == "series":
            # a modality is matched per series (the study's modality list only sums them
            # up); a procedureCode takes the body site of any of the study's series
            view = x.table.view
            conds.append(self.col(s, "element").eq(exp.Literal.string("series.bodySite")))
            same = self.col(s, "series_index").eq(self.col(alias, "series_index"))
            conds.append(_or(self.col(alias, "series_index").is_(exp.null()), same))
            study_modality = self.col(alias, "element").eq(exp.Literal.string("modality"))
            sub = exp.select(exp.Literal.number(1)).from_(self.table(view, s)).where(*conds)
            return _and(exp.not_(study_modality), exp.Exists(this=sub))
        assert x.table.body_site is not None
        sub = exp.select(exp.Literal.number(1)).from_(self.table(x.table.body_site, s))
        return exp.Exists(this=sub.where(*conds))

    def select_rows(self, e: EventCriterion, x: Target, keys: bool, days: bool) -> exp.Select:
        """SELECT patient_id[, day][, event_key] FROM <event view> WHERE <filters>."""
        a = self.alias("e")
        cols = [self.col(a, "patient_id").as_("patient_id")]
        if days:
            cols.append(self.day(x, a).as_("day"))
        if keys:
            cols.append(self.event_key(x, a).as_("event_key"))
        q = exp.select(*cols).from_(self.table(x.table.view, a))
        birth = None
        if e.age is not None:
            b = self.alias("b")
            on = self.col(b, "id").eq(self.col(a, "patient_id"))
            q = q.join(self.table("patient", b), on=on)
            birth = self.birth_key(b)
        return q.where(*self.row_filters(e, x, a, birth))

    def rows(
        self, e: EventCriterion, targets: Sequence[Target], keys: bool, days: bool
    ) -> exp.Query:
        return union_all([self.select_rows(e, x, keys, days) for x in targets])

    # -- event predicates ------------------------------------------------------------------------
    def events_pred(self, e: EventCriterion, targets: Sequence[Target], path: str) -> exp.Expr:
        outer_id = self.col(self.outer, "id")
        if e.occurrences is None and e.within is None:
            preds: list[exp.Expr] = []
            for x in targets:
                a = self.alias("e")
                birth = self.birth_key(self.outer) if e.age is not None else None
                sub = (
                    exp.select(exp.Literal.number(1))
                    .from_(self.table(x.table.view, a))
                    .where(
                        self.col(a, "patient_id").eq(outer_id.copy()),
                        *self.row_filters(e, x, a, birth),
                    )
                )
                preds.append(exp.Exists(this=sub))
            return exp.paren(_or(*preds), copy=False) if len(preds) > 1 else preds[0]
        q = self.patient_ids(e, targets, path)
        return exp.false() if q is None else outer_id.isin(query=q)

    def patient_ids(
        self, e: EventCriterion, targets: Sequence[Target], path: str
    ) -> exp.Select | None:
        """SELECT patient_id of the patients with matching events; None when the criterion
        cannot be counted (reported) or its anchor matches nothing here."""
        r = self.alias("r")
        rid = exp.column("patient_id", table=r)
        keys = e.occurrences is not None
        rows = self.rows(e, targets, keys, days=e.within is not None)
        q = (
            exp.select(rid.copy())
            .from_(rows.subquery(r, copy=False), copy=False)
            .where(rid.copy().is_(exp.null()).not_(), copy=False)
        )
        if e.within is not None:
            anchor_q = self._anchor(e, rid, r, f"{path}.within.of")
            if anchor_q is None:
                return None
            anchor, near = anchor_q
            if e.occurrences is None:
                q = q.join(anchor, on=near)  # patients repeat: IN absorbs it
            else:  # each event counts once, however many anchors it is near
                q = q.where(
                    exp.Exists(this=exp.select(exp.Literal.number(1)).from_(anchor).where(near))
                )
        if e.occurrences is not None:
            count = exp.Count(this=exp.Distinct(expressions=[exp.column("event_key", table=r)]))
            having: list[exp.Expr] = [count >= exp.Literal.number(e.occurrences.min)]
            if e.occurrences.max is not None:
                having.append(count.copy() <= exp.Literal.number(e.occurrences.max))
            q = q.group_by(rid.copy()).having(_and(*having))
        return q

    def _anchor(
        self, e: EventCriterion, rid: exp.Column, r: str, path: str
    ) -> tuple[exp.Subquery, exp.Expr] | None:
        assert e.within is not None
        of = e.within.of
        binding = event_binding(of, self.bindings)
        assert isinstance(binding, CodesBinding)  # the base admitted only event anchors
        anchor_targets = self.targets(of, binding.codes, path)
        if not anchor_targets:
            if anchor_targets is not None:
                self.note(f"{path}: no records in this FHIR source can match it")
            return None
        a = self.alias("a")
        day, a_day = exp.column("day", table=r), exp.column("day", table=a)
        near = _and(
            exp.column("patient_id", table=a).eq(rid.copy()),
            day
            >= exp.DateSub(
                this=a_day.copy(),
                unit=exp.var("DAY"),
                expression=exp.Literal.number(e.within.days_before),
            ),
            day.copy()
            <= exp.DateAdd(
                this=a_day.copy(),
                unit=exp.var("DAY"),
                expression=exp.Literal.number(e.within.days_after),
            ),
        )
        return self.rows(of, anchor_targets, False, days=True).subquery(a, copy=False), near

    # -- strata ----------------------------------------------------------------------------------
    def sex_label(self) -> exp.Expr:
        gender = self.col(self.outer, "gender")
        known = gender.copy().isin(*[exp.Literal.string(s) for s in _SEXES])
        return exp.Case().when(known, gender).else_(exp.Literal.string("unknown"))

    def age_label(self, s: Stratify) -> exp.Expr:
        birth = self.birth_day(self.outer)
        labels = age_band_labels(s.age_bands)
        case = exp.Case().when(birth.copy().is_(exp.null()), exp.Literal.string("unknown"))
        for upper, label in zip(s.age_bands[1:], labels, strict=False):
            case = case.when(birth.copy() > self.born_by(upper), exp.Literal.string(label))
        return case.else_(exp.Literal.string(labels[-1]))
