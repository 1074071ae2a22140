"""HQL -> OMOP CDM SQL predicates, built as sqlglot expression trees (never by string
formatting). `hyperfed.adapters.omop.plans` chooses how they are assembled into one count.

`OmopPredicates` is a `CriterionCompiler[exp.Expr]`: the base walks the criteria, keeps
paths, notes and unsupported criteria and gates capabilities; this class says only what is
OMOP's. Pure: it reads the node's `CdmSchema` and a `VocabLookup` made beforehand. Every code
and value is a sqlglot literal, so an injected code is a literal, never SQL.

Predicates: each event criterion is an ``EXISTS`` over the event tables of its concepts'
domains (or, with occurrence counts or relative windows, ``p.person_id IN (SELECT ...
GROUP BY ... HAVING ...)``); person attributes compare integer yyyymmdd birth keys; strata
are sex and age-band labels for ``GROUP BY``.

Large code sets (many sibling code criteria of an `any`) are merged into one criterion
first (`hyperfed.adapters.omop.codesets`), so that they compile in time linear in their
size; every path the compiler reports is the path as the researcher wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlglot import exp

from hyperfed.adapters.compiler import CriterionCompiler, event_binding
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.hql.bindings import Bindings, CodesBinding, SexBinding
from hyperfed.adapters.hql.model import AgeCriterion, Code, EventCriterion, Query, Stratify
from hyperfed.adapters.hql.strata import age_band_labels
from hyperfed.adapters.omop.codesets import merge_code_sets
from hyperfed.adapters.omop.schema import CdmSchema
from hyperfed.adapters.omop.tables import EVENT_TABLES, GENDER_CONCEPTS, EventTable
from hyperfed.adapters.omop.vocab import CodeRef, VocabLookup
from hyperfed.adapters.sql import (
    Table,
    age_in,
    date_key,
    date_key_expr,
    isin,
    num,
    table_expr,
    text_as_date,
    text_as_number,
    union_all,
)
from hyperfed.adapters.sql.build import value_set
from hyperfed.adapters.units import compatible_units, range_in

__all__ = ["OmopPredicates"]

_DOMAINS = {t.domain for t in EVENT_TABLES}

MAX_CODE_NOTES = 20
"""notes on single codes of one criterion listed in a result (the rest are counted)."""


@dataclass(frozen=True)
class _Target:
    table: EventTable
    stored: Table
    concept_ids: tuple[int, ...] = ()
    source_values: tuple[str, ...] = ()


class OmopPredicates(CriterionCompiler[exp.Expr]):
    MODEL = "omop"

    def __init__(
        self,
        query: Query,
        bindings: Bindings,
        features: Mapping[str, bool],
        schema: CdmSchema,
        vocab: VocabLookup,
        dialect: str,
        deadline: Deadline | None = None,
    ) -> None:
        query, merged, self.paths = merge_code_sets(query, bindings, deadline)
        super().__init__(query, merged, features, deadline)
        self.schema = schema
        self.vocab = vocab
        self.dialect = dialect
        self._noted: set[str] = set()
        for n in vocab.notes:
            self.note(n)
        person = schema.table("person")
        if person is None:
            raise ValueError("this database has no usable PERSON table")
        self.person = person
        self.outer = "p"
        self._alias_n = 0

    # -- paths as written ------------------------------------------------------------------
    def reject(self, path: str, reason: str) -> exp.Expr:
        return super().reject(self.paths.original(path), reason)

    def note(self, text: str) -> None:
        # a set, not the list, says what was noted: thousands of codes, thousands of notes
        text = self.paths.note(text)
        if text not in self._noted:
            self._noted.add(text)
            self.notes.append(text)

    def _reject_code(self, e: EventCriterion, code: Code, path: str, reason: str) -> None:
        # the path of the criterion that named the code, as written
        CriterionCompiler.reject(self, self.paths.code_path(e.concept, code, path), reason)

    # -- combinators -----------------------------------------------------------------------
    def conjunction(self, parts: Sequence[exp.Expr]) -> exp.Expr:
        return exp.and_(*parts, wrap=True)

    def disjunction(self, parts: Sequence[exp.Expr]) -> exp.Expr:
        return exp.paren(exp.or_(*parts), copy=False)

    def negation(self, part: exp.Expr) -> exp.Expr:
        # A person attribute may be NULL (unknown): "not" turns NULL into TRUE, so a person
        # of unknown age satisfies "not age >= 60". EXISTS is never NULL.
        if not self.reads_person(part):
            return exp.not_(exp.paren(part, copy=False))
        return exp.not_(exp.func("COALESCE", exp.paren(part, copy=False), exp.false()))

    def always(self) -> exp.Expr:
        return exp.true()

    def never(self) -> exp.Expr:
        return exp.false()

    # -- helpers -------------------------------------------------------------------------
    def alias(self, prefix: str) -> str:
        self._alias_n += 1
        return f"{prefix}{self._alias_n}"

    def table(self, t: Table, alias: str) -> exp.Table:
        return table_expr(self.schema.schema, t.name, alias)

    def col(self, t: Table, logical: str, alias: str) -> exp.Column:
        real = t.col(logical)
        if real is None:
            raise KeyError(f"{t.name}.{logical}")
        return exp.column(real, table=alias, quoted=True)

    def _number(self, t: Table, logical: str, alias: str) -> exp.Expr:
        col = self.col(t, logical, alias)
        if not t.is_text(logical):
            return col
        self.note(f"{t.name}.{t.col(logical)} is stored as text: values are converted to numbers")
        return text_as_number(col, self.dialect)

    def _date(self, t: Table, logical: str, alias: str) -> exp.Expr:
        col = self.col(t, logical, alias)
        if t.is_text(logical):
            self.note(f"{t.name}.{t.col(logical)} is stored as text: dates are converted")
            return text_as_date(col, self.dialect)
        return exp.cast(col, "DATE") if "TIME" in t.types.get(logical, "").upper() else col

    def birth_key(self, alias: str) -> exp.Expr:
        p = self.person
        year = self.col(p, "year_of_birth", alias)
        parts = []
        for logical in ("month_of_birth", "day_of_birth"):
            parts.append(
                exp.func("COALESCE", self.col(p, logical, alias), exp.Literal.number(1))
                if p.col(logical)
                else exp.Literal.number(1)
            )
        month, day = parts
        return exp.paren(
            year * exp.Literal.number(10000) + month * exp.Literal.number(100) + day, copy=False
        )

    def reads_person(self, e: exp.Expr) -> bool:
        """Whether `e` reads a person attribute (anything but the person id)."""
        pid = self.person.col("person_id")
        return any(c.table == self.outer and c.name != pid for c in e.find_all(exp.Column))

    # -- person criteria -----------------------------------------------------------------
    def age_today(self, c: AgeCriterion, path: str) -> exp.Expr:
        # Outside "not", NULL (unknown age) excludes the person as FALSE would; keeping the
        # predicate plain lets the engine push it down.
        return exp.paren(age_in(self.birth_key(self.outer), date_key(self.as_of), c.age))

    def sex(self, e: EventCriterion, binding: SexBinding, path: str) -> exp.Expr:
        ids = GENDER_CONCEPTS[binding.sex]
        col = self.col(self.person, "gender_concept_id", self.outer)
        pred: exp.Expr = isin(col, ids)
        if binding.sex == "unknown":
            pred = exp.or_(pred, col.is_(exp.null()))
        return exp.paren(pred, copy=False)

    # -- events --------------------------------------------------------------------------
    def coded(self, e: EventCriterion, binding: CodesBinding, path: str) -> exp.Expr:
        targets, gender_ids = self.targets(e, binding.codes, path)
        if targets is None:
            return exp.false()
        preds: list[exp.Expr] = []
        if gender_ids:
            if e.has_filters:
                return self.reject(path, "a gender code takes no event filters")
            col = self.col(self.person, "gender_concept_id", self.outer)
            preds.append(exp.paren(isin(col, gender_ids), copy=False))
        if targets:
            preds.append(self.events_pred(e, targets, path))
        if not preds:
            self.note(f"{path}: no records in this database can match this criterion")
            return exp.false()
        return exp.paren(exp.or_(*preds), copy=False) if len(preds) > 1 else preds[0]

    def targets(
        self, e: EventCriterion, codes: Sequence[Code], path: str
    ) -> tuple[list[_Target] | None, tuple[int, ...]]:
        """The event tables (with concept ids and source values) `codes` are found in, and
        gender concept ids among them; None when the codes cannot be used here."""
        if self.deadline is not None:  # every plan comes here once per event criterion
            self.deadline.check()
        by_domain: dict[str, set[int]] = {}
        anywhere: set[int] = set()
        sources: set[str] = set()
        code_notes: dict[str, None] = {}
        for code in codes:
            rc = self.vocab.codes.get(CodeRef(code.system, code.code, e.descendants))
            if rc is None:
                self._reject_code(
                    e, code, path, f"code {code.system}|{code.code} was not looked up"
                )
                return None, ()
            if rc.unsupported:
                self._reject_code(e, code, path, rc.unsupported)
                return None, ()
            code_notes.update(dict.fromkeys(rc.notes))
            for dom, ids in rc.by_domain.items():
                if dom in _DOMAINS or dom == "Gender":
                    by_domain.setdefault(dom, set()).update(ids)
                else:
                    self.note(f"{path}: concepts of domain {dom!r} are searched in every table")
                    anywhere.update(ids)
            anywhere.update(rc.any_domain)
            sources.update(rc.source_values)
        self.code_notes(code_notes, path)
        targets: list[_Target] = []
        for t in EVENT_TABLES:
            stored = self.schema.table(t.table)
            if stored is None:
                continue
            ids = tuple(sorted(by_domain.get(t.domain, set()) | anywhere))
            srcs = tuple(sorted(sources)) if t.source_value and stored.col(t.source_value) else ()
            if ids or srcs:
                targets.append(_Target(t, stored, ids, srcs))
        missing = [
            d for d in by_domain if d != "Gender" and not any(x.table.domain == d for x in targets)
        ]
        for d in missing:
            self.note(f"{path}: this database has no usable table for the {d} domain")
        if e.value is not None:
            with_values = [x for x in targets if x.table.value and x.stored.col(x.table.value)]
            if len(with_values) < len(targets):
                self.note(
                    f"{path}: a value constraint only applies to measurements and "
                    "observations; other matching records are not counted"
                )
            targets = with_values
            if e.value.unit is not None and targets:
                known = any(self.vocab.units.get(u.code) for u in compatible_units(e.value.unit))
                has_unit = any(x.table.unit and x.stored.col(x.table.unit) for x in targets)
                if not (known and has_unit):
                    # a silent FALSE would turn into "everyone" under "not"
                    self.reject(
                        path,
                        f"this node records no unit compatible with "
                        f"{e.value.unit!r} (no UCUM units in its vocabulary)",
                    )
                    return None, ()
        return targets, tuple(sorted(by_domain.get("Gender", ())))

    def code_notes(self, notes: Iterable[str], path: str) -> None:
        """What the look-up said about each code of a criterion; past `MAX_CODE_NOTES`
        codes, one line says how many more were noted (a set of 10,000 codes gets a
        readable answer)."""
        listed = list(notes)
        for n in listed[:MAX_CODE_NOTES]:
            self.note(n)
        if len(listed) > MAX_CODE_NOTES:
            self.note(
                f"{path}: {len(listed) - MAX_CODE_NOTES:,} more notes on codes of this criterion "
                "are left out (not in this node's vocabulary, non-standard ...)"
            )

    def row_filters(
        self, e: EventCriterion, x: _Target, alias: str, birth: exp.Expr | None
    ) -> list[exp.Expr]:
        t, s = x.table, x.stored
        match: list[exp.Expr] = []
        if x.concept_ids:
            match.append(value_set(self.col(s, t.concept, alias), x.concept_ids, self.dialect))
        if x.source_values and t.source_value:
            src: exp.Expr = self.col(s, t.source_value, alias)
            if not s.is_text(t.source_value):  # real exports type some of these as numbers
                src = exp.cast(src, "VARCHAR")
            match.append(value_set(src, x.source_values, self.dialect))
        conds: list[exp.Expr] = [
            exp.paren(exp.or_(*match), copy=False) if len(match) > 1 else match[0]
        ]
        start = self._date(s, t.start, alias)
        if e.during is not None:
            for bound, op in ((e.during.from_, exp.GTE), (e.during.to, exp.LTE)):
                if bound is not None:
                    day = exp.cast(exp.Literal.string(bound.isoformat()), "DATE")
                    conds.append(op(this=start.copy(), expression=day))
        if e.value is not None and t.value:
            conds.append(self._value(e, x, alias))
        if e.age is not None and birth is not None:
            conds.append(age_in(birth, date_key_expr(start), e.age))
        return conds

    def _value(self, e: EventCriterion, x: _Target, alias: str) -> exp.Expr:
        assert e.value is not None and x.table.value is not None
        value = self._number(x.stored, x.table.value, alias)
        if e.value.unit is None:
            bounds: list[exp.Expr] = []
            if e.value.min is not None:
                bounds.append(value.copy() >= num(e.value.min))
            if e.value.max is not None:
                bounds.append(value.copy() <= num(e.value.max))
            return exp.and_(*bounds)
        unit_col = (
            self.col(x.stored, x.table.unit, alias)
            if x.table.unit and x.stored.col(x.table.unit)
            else None
        )
        # one scan-friendly test for every recorded unit: the unit is one we can convert,
        # and the value lies between per-unit bounds (CASE on the unit)
        lows, highs = exp.Case(this=unit_col), exp.Case(this=unit_col)
        unit_ids: list[int] = []
        for u in compatible_units(e.value.unit):
            ids = self.vocab.units.get(u.code)
            if not ids or unit_col is None:
                continue
            lo, hi = range_in(e.value.min, e.value.max, e.value.unit, u.code)
            for i in ids:
                unit_ids.append(i)
                if lo is not None:
                    lows = lows.when(exp.Literal.number(i), num(lo))
                if hi is not None:
                    highs = highs.when(exp.Literal.number(i), num(hi))
        self.note(
            f"values are compared in units compatible with {e.value.unit!r}; "
            "records without a recognised unit are not counted"
        )
        if not unit_ids or unit_col is None:
            return exp.false()
        conds = [isin(unit_col.copy(), unit_ids)]
        if e.value.min is not None:
            conds.append(value.copy() >= lows)
        if e.value.max is not None:
            conds.append(value.copy() <= highs)
        return exp.and_(*conds)

    def select_rows(self, e: EventCriterion, x: _Target) -> exp.Select:
        """SELECT person_id, start_date FROM <event table> WHERE <filters>."""
        alias = self.alias("e")
        birth = None
        q = exp.select(
            self.col(x.stored, "person_id", alias).as_("person_id"),
            self._date(x.stored, x.table.start, alias).as_("start_date"),
        ).from_(self.table(x.stored, alias))
        if e.age is not None:
            b = self.alias("b")
            q = q.join(
                self.table(self.person, b),
                on=self.col(self.person, "person_id", b).eq(self.col(x.stored, "person_id", alias)),
            )
            birth = self.birth_key(b)
        return q.where(*self.row_filters(e, x, alias, birth))

    def rows(self, e: EventCriterion, targets: list[_Target]) -> exp.Query:
        return union_all([self.select_rows(e, x) for x in targets])

    def events_pred(self, e: EventCriterion, targets: list[_Target], path: str) -> exp.Expr:
        outer_id = self.col(self.person, "person_id", self.outer)
        if e.occurrences is None and e.within is None:
            preds = []
            for x in targets:
                alias = self.alias("e")
                birth = self.birth_key(self.outer) if e.age is not None else None
                sub = (
                    exp.select(exp.Literal.number(1))
                    .from_(self.table(x.stored, alias))
                    .where(
                        self.col(x.stored, "person_id", alias).eq(outer_id.copy()),
                        *self.row_filters(e, x, alias, birth),
                    )
                )
                preds.append(exp.Exists(this=sub))
            return exp.paren(exp.or_(*preds), copy=False) if len(preds) > 1 else preds[0]
        q = self.person_ids(e, targets, path)
        return exp.false() if q is None else outer_id.isin(query=q)

    def person_ids(self, e: EventCriterion, targets: list[_Target], path: str) -> exp.Select | None:
        """SELECT person_id of the persons with matching events (one row per matching
        event, or per person with occurrence counts); None when unsupported or empty."""
        r = self.alias("r")
        rid = exp.column("person_id", table=r)
        q = (
            exp.select(rid.copy())
            .from_(self.rows(e, targets).subquery(r))
            .where(rid.copy().is_(exp.null()).not_())
        )
        if e.within is not None:
            anchor_q = self._anchor(e, rid, r, f"{path}.within.of")
            if anchor_q is None:
                return None
            anchor, near = anchor_q
            if e.occurrences is None:
                # a join: persons may repeat, which IN and COUNT(DISTINCT) absorb
                q = q.join(anchor, on=near)
            else:
                # each matching event counts once, however many anchors it is near
                q = q.where(
                    exp.Exists(this=exp.select(exp.Literal.number(1)).from_(anchor).where(near))
                )
        if e.occurrences is not None:
            count = exp.Count(this=exp.Star())
            having: list[exp.Expr] = [count >= exp.Literal.number(e.occurrences.min)]
            if e.occurrences.max is not None:
                having.append(count.copy() <= exp.Literal.number(e.occurrences.max))
            q = q.group_by(rid.copy()).having(exp.and_(*having))
        return q

    def _anchor(
        self, e: EventCriterion, rid: exp.Column, r: str, path: str
    ) -> tuple[exp.Subquery, exp.Expr] | None:
        """The anchor's rows (a subquery) and the condition that an event lies near one."""
        assert e.within is not None
        of = e.within.of
        binding = event_binding(of, self.bindings)
        if not isinstance(binding, CodesBinding):  # the base admitted only event anchors
            self.reject(path, f"concept {of.concept} does not name events in OMOP")
            return None
        anchor_targets, anchor_gender = self.targets(of, binding.codes, path)
        if anchor_targets is None:
            return None  # reported as unsupported
        if anchor_gender:
            self.reject(path, "a gender code is not an event")
            return None
        if not anchor_targets:
            self.note(f"{path}: no records in this database can match it")
            return None
        a = self.alias("a")
        start = exp.column("start_date", table=r)
        a_start = exp.column("start_date", table=a)
        near = exp.and_(
            exp.column("person_id", table=a).eq(rid.copy()),
            start
            >= exp.DateSub(
                this=a_start.copy(),
                unit=exp.var("DAY"),
                expression=exp.Literal.number(e.within.days_before),
            ),
            start.copy()
            <= exp.DateAdd(
                this=a_start.copy(),
                unit=exp.var("DAY"),
                expression=exp.Literal.number(e.within.days_after),
            ),
        )
        return self.rows(of, anchor_targets).subquery(a), near

    # -- strata --------------------------------------------------------------------------
    def sex_label(self) -> exp.Expr:
        col = self.col(self.person, "gender_concept_id", self.outer)
        case = exp.Case()
        for label in ("male", "female", "other"):
            case = case.when(isin(col.copy(), GENDER_CONCEPTS[label]), exp.Literal.string(label))
        return case.else_(exp.Literal.string("unknown"))

    def age_label(self, s: Stratify) -> exp.Expr:
        birth = self.birth_key(self.outer)
        key = date_key(self.as_of)
        labels = age_band_labels(s.age_bands)
        case = exp.Case().when(
            self.col(self.person, "year_of_birth", self.outer).is_(exp.null()),
            exp.Literal.string("unknown"),
        )
        for upper, label in zip(s.age_bands[1:], labels, strict=False):
            case = case.when(
                birth.copy() > exp.Literal.number(key - upper * 10000), exp.Literal.string(label)
            )
        return case.else_(exp.Literal.string(labels[-1]))
