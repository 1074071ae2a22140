"""HQL -> OMOP CDM SQL predicates, built as sqlglot expression trees (never by string
formatting). `adapters.omop.plans` chooses how they are assembled into one count.

Pure: takes the query, the concept bindings, the node's `CdmSchema` and a `VocabLookup`,
returns a `Compiled` whose `sql` renders for any sqlglot dialect. Every code and value is
a sqlglot literal, so an injected code is a literal, never SQL.

Predicates: each event criterion is an ``EXISTS`` over the event tables of its concepts'
domains (or, with occurrence counts or relative windows, ``p.person_id IN (SELECT ...
GROUP BY ... HAVING ...)``); person attributes compare integer yyyymmdd birth keys;
strata are sex and age-band labels for ``GROUP BY``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlglot import exp

from hyperfed.adapters.hql.bindings import (
    Bindings,
    CodesBinding,
    EveryoneBinding,
    SexBinding,
    Unexpressible,
)
from hyperfed.adapters.hql.model import (
    AgeCriterion,
    AgeRange,
    AllCriterion,
    AnyCriterion,
    Criterion,
    EventCriterion,
    NotCriterion,
    Query,
    Stratify,
)
from hyperfed.adapters.hql.strata import age_band_labels
from hyperfed.adapters.omop.schema import CdmSchema, Table, table_expr, union_all
from hyperfed.adapters.omop.tables import EVENT_TABLES, GENDER_CONCEPTS, EventTable
from hyperfed.adapters.omop.vocab import CodeRef, VocabLookup, event_codes
from hyperfed.adapters.protocol import UnsupportedCriterion
from hyperfed.adapters.units import compatible_units, range_in

__all__ = ["Compiled"]

_DOMAINS = {t.domain for t in EVENT_TABLES}


@dataclass
class Compiled:
    sql: exp.Select | None
    unsupported: list[UnsupportedCriterion] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    strata: tuple[str, ...] = ()

    def render(self, dialect: str, pretty: bool = False) -> str:
        if self.sql is None:
            raise ValueError("the query has unsupported criteria and compiles to no SQL")
        return self.sql.sql(dialect=dialect, pretty=pretty)


def _date_key(d: dt.date) -> int:
    return d.year * 10000 + d.month * 100 + d.day


def _isin(col: exp.Expr, values: Iterable[int | str]) -> exp.Expr:
    """col = v for one value (engines push equalities down better), col IN (...) else."""
    lits: list[exp.Expr] = [
        exp.Literal.string(v) if isinstance(v, str) else exp.Literal.number(v) for v in values
    ]
    return col.eq(lits[0]) if len(lits) == 1 else col.isin(*lits)


def _num(v: float | int) -> exp.Expr:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    lit = exp.Literal.number(abs(v))
    return exp.Neg(this=lit) if v < 0 else lit


@dataclass(frozen=True)
class _Target:
    table: EventTable
    stored: Table
    concept_ids: tuple[int, ...] = ()
    source_values: tuple[str, ...] = ()


class _Compiler:
    def __init__(
        self,
        query: Query,
        bindings: Bindings,
        schema: CdmSchema,
        vocab: VocabLookup,
        as_of: dt.date,
        dialect: str,
    ) -> None:
        self.query = query
        self.bindings = bindings
        self.schema = schema
        self.vocab = vocab
        self.as_of = as_of
        self.dialect = dialect
        self.unsupported: list[UnsupportedCriterion] = []
        self.notes: list[str] = list(vocab.notes)
        person = schema.table("person")
        if person is None:
            raise ValueError("this database has no usable PERSON table")
        self.person = person
        self._alias_n = 0

    # -- helpers -------------------------------------------------------------------------
    def _alias(self, prefix: str) -> str:
        self._alias_n += 1
        return f"{prefix}{self._alias_n}"

    def _table(self, t: Table, alias: str) -> exp.Table:
        return table_expr(self.schema.schema, t.name, alias)

    def _col(self, t: Table, logical: str, alias: str) -> exp.Column:
        real = t.col(logical)
        if real is None:
            raise KeyError(f"{t.name}.{logical}")
        return exp.column(real, table=alias, quoted=True)

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def _unsupported(self, path: str, reason: str) -> exp.Expr:
        self.unsupported.append(UnsupportedCriterion(path=path, reason=reason))
        return exp.false()

    def _number(self, t: Table, logical: str, alias: str) -> exp.Expr:
        col = self._col(t, logical, alias)
        if not t.is_text(logical):
            return col
        self._note(f"{t.name}.{t.col(logical)} is stored as text: values are converted to numbers")
        if self.dialect == "duckdb":
            return exp.TryCast(this=col, to=exp.DataType.build("DOUBLE"))
        pattern = exp.Literal.string(r"^\s*[-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?\s*$")
        return exp.Case(
            ifs=[
                exp.If(
                    this=exp.RegexpLike(this=col, expression=pattern), true=exp.cast(col, "DOUBLE")
                )
            ]
        )

    def _date(self, t: Table, logical: str, alias: str) -> exp.Expr:
        col = self._col(t, logical, alias)
        if t.is_text(logical):
            self._note(f"{t.name}.{t.col(logical)} is stored as text: dates are converted")
            if self.dialect == "duckdb":
                return exp.TryCast(this=col, to=exp.DataType.build("DATE"))
            iso = exp.Literal.string(r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}")
            return exp.Case(
                ifs=[
                    exp.If(
                        this=exp.RegexpLike(this=col, expression=iso),
                        true=exp.cast(
                            exp.Substring(
                                this=exp.func("TRIM", col.copy()),
                                start=exp.Literal.number(1),
                                length=exp.Literal.number(10),
                            ),
                            "DATE",
                        ),
                    )
                ]
            )
        return exp.cast(col, "DATE") if "TIME" in t.types.get(logical, "").upper() else col

    def _birth_key(self, alias: str) -> exp.Expr:
        p = self.person
        year = self._col(p, "year_of_birth", alias)
        month = (
            exp.func("COALESCE", self._col(p, "month_of_birth", alias), exp.Literal.number(1))
            if p.col("month_of_birth")
            else exp.Literal.number(1)
        )
        day = (
            exp.func("COALESCE", self._col(p, "day_of_birth", alias), exp.Literal.number(1))
            if p.col("day_of_birth")
            else exp.Literal.number(1)
        )
        return exp.paren(
            year * exp.Literal.number(10000) + month * exp.Literal.number(100) + day, copy=False
        )

    @staticmethod
    def _date_key_expr(d: exp.Expr) -> exp.Expr:
        return exp.paren(
            exp.Year(this=d.copy()) * exp.Literal.number(10000)
            + exp.Month(this=d.copy()) * exp.Literal.number(100)
            + exp.Day(this=d.copy()),
            copy=False,
        )

    def _age(self, birth: exp.Expr, key: exp.Expr | int, r: AgeRange) -> exp.Expr:
        """Age in whole years from `birth` key to date `key` lies in r (inclusive):
        age >= a  <=>  birth <= key - a*10000 (keys are yyyymmdd integers)."""

        def minus(years: int) -> exp.Expr:
            if isinstance(key, int):
                return exp.Literal.number(key - years * 10000)
            return key.copy() - exp.Literal.number(years * 10000)

        conds: list[exp.Expr] = []
        if r.min is not None:
            conds.append(birth.copy() <= minus(r.min))
        if r.max is not None:
            conds.append(birth.copy() > minus(r.max + 1))
        return exp.and_(*conds)

    # -- criteria ------------------------------------------------------------------------
    def criterion(self, c: Criterion, path: str, outer: str) -> exp.Expr:
        if isinstance(c, AllCriterion):
            return exp.and_(
                *[self.criterion(x, f"{path}.all[{i}]", outer) for i, x in enumerate(c.all)],
                wrap=True,
            )
        if isinstance(c, AnyCriterion):
            return exp.paren(
                exp.or_(
                    *[self.criterion(x, f"{path}.any[{i}]", outer) for i, x in enumerate(c.any)]
                ),
                copy=False,
            )
        if isinstance(c, NotCriterion):
            inner = self.criterion(c.not_, f"{path}.not", outer)
            if not self._person_attributes(inner, outer):  # EXISTS is never NULL
                return exp.not_(exp.paren(inner, copy=False))
            return exp.not_(exp.func("COALESCE", exp.paren(inner, copy=False), exp.false()))
        if isinstance(c, AgeCriterion):
            return self._person_attr(
                self._age(self._birth_key(outer), _date_key(self.as_of), c.age)
            )
        return self.event(c, path, outer)

    def _person_attr(self, pred: exp.Expr) -> exp.Expr:
        # A person attribute may be NULL (unknown). Outside "not", NULL excludes the person
        # as FALSE would; "not" wraps its operand in COALESCE(..., FALSE), so a person of
        # unknown age satisfies "not age >= 60". Keeping positive predicates plain lets the
        # engine push them down.
        return exp.paren(pred, copy=False)

    def _person_attributes(self, e: exp.Expr, outer: str) -> bool:
        """Whether `e` reads a person attribute (anything but the person id)."""
        pid = self.person.col("person_id")
        return any(c.table == outer and c.name != pid for c in e.find_all(exp.Column))

    def _sex(self, sex: str, outer: str) -> exp.Expr:
        ids = GENDER_CONCEPTS[sex]
        col = self._col(self.person, "gender_concept_id", outer)
        pred: exp.Expr = _isin(col, ids)
        if sex == "unknown":
            pred = exp.or_(pred, col.is_(exp.null()))
        return self._person_attr(pred)

    def event(self, e: EventCriterion, path: str, outer: str) -> exp.Expr:
        binding = self.bindings.get(e.concept) if e.concept is not None else None
        if e.concept is not None:
            if binding is None:
                return self._unsupported(path, f"concept {e.concept} was not resolved for OMOP")
            if isinstance(binding, Unexpressible):
                return self._unsupported(path, binding.reason)
            if isinstance(binding, SexBinding | EveryoneBinding):
                if e.has_filters:
                    return self._unsupported(
                        path,
                        f"{e.concept} describes a person, not an event: it takes no "
                        "value, during, age, occurrences or within",
                    )
                if isinstance(binding, EveryoneBinding):
                    return exp.true()
                return self._sex(binding.sex, outer)
            if not isinstance(binding, CodesBinding):
                return self._unsupported(
                    path, f"concept {e.concept} is bound to {binding.kind} data, not OMOP"
                )
        targets, gender_ids = self._targets(e, path)
        if targets is None:
            return exp.false()
        preds: list[exp.Expr] = []
        if gender_ids:
            if e.has_filters:
                return self._unsupported(path, "a gender code takes no event filters")
            col = self._col(self.person, "gender_concept_id", outer)
            preds.append(self._person_attr(_isin(col, gender_ids)))
        if targets:
            preds.append(self._events_pred(e, targets, path, outer))
        if not preds:
            self._note(f"{path}: no records in this database can match this criterion")
            return exp.false()
        return exp.paren(exp.or_(*preds), copy=False) if len(preds) > 1 else preds[0]

    def _targets(
        self, e: EventCriterion, path: str
    ) -> tuple[list[_Target] | None, tuple[int, ...]]:
        codes = event_codes(e, self.bindings)
        if codes is None:  # a concept bound to anything but codes (only events can anchor)
            binding = self.bindings.get(e.concept or "")
            reason = (
                binding.reason
                if isinstance(binding, Unexpressible)
                else f"concept {e.concept} does not name events in OMOP"
            )
            self._unsupported(path, reason)
            return None, ()
        by_domain: dict[str, set[int]] = {}
        anywhere: set[int] = set()
        sources: set[str] = set()
        for code in codes:
            rc = self.vocab.codes.get(CodeRef(code.system, code.code, e.descendants))
            if rc is None:
                self._unsupported(path, f"code {code.system}|{code.code} was not looked up")
                return None, ()
            if rc.unsupported:
                self._unsupported(path, rc.unsupported)
                return None, ()
            for n in rc.notes:
                self._note(n)
            for dom, ids in rc.by_domain.items():
                if dom in _DOMAINS or dom == "Gender":
                    by_domain.setdefault(dom, set()).update(ids)
                else:
                    self._note(f"{path}: concepts of domain {dom!r} are searched in every table")
                    anywhere.update(ids)
            anywhere.update(rc.any_domain)
            sources.update(rc.source_values)
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
            self._note(f"{path}: this database has no usable table for the {d} domain")
        if e.value is not None:
            with_values = [x for x in targets if x.table.value and x.stored.col(x.table.value)]
            if len(with_values) < len(targets):
                self._note(
                    f"{path}: a value constraint only applies to measurements and "
                    "observations; other matching records are not counted"
                )
            targets = with_values
            if e.value.unit is not None and targets:
                known = any(self.vocab.units.get(u.code) for u in compatible_units(e.value.unit))
                has_unit = any(x.table.unit and x.stored.col(x.table.unit) for x in targets)
                if not (known and has_unit):
                    # a silent FALSE would turn into "everyone" under "not"
                    self._unsupported(
                        path,
                        f"this node records no unit compatible with "
                        f"{e.value.unit!r} (no UCUM units in its vocabulary)",
                    )
                    return None, ()
        return targets, tuple(sorted(by_domain.get("Gender", ())))

    def _row_filters(
        self, e: EventCriterion, x: _Target, alias: str, birth: exp.Expr | None
    ) -> list[exp.Expr]:
        t, s = x.table, x.stored
        match: list[exp.Expr] = []
        if x.concept_ids:
            match.append(_isin(self._col(s, t.concept, alias), x.concept_ids))
        if x.source_values and t.source_value:
            src: exp.Expr = self._col(s, t.source_value, alias)
            if not s.is_text(t.source_value):  # real exports type some of these as numbers
                src = exp.cast(src, "VARCHAR")
            match.append(src.isin(*[exp.Literal.string(v) for v in x.source_values]))
        conds: list[exp.Expr] = [
            exp.paren(exp.or_(*match), copy=False) if len(match) > 1 else match[0]
        ]
        start = self._date(s, t.start, alias)
        if e.during is not None:
            if e.during.from_ is not None:
                conds.append(
                    start.copy() >= exp.cast(exp.Literal.string(e.during.from_.isoformat()), "DATE")
                )
            if e.during.to is not None:
                conds.append(
                    start.copy() <= exp.cast(exp.Literal.string(e.during.to.isoformat()), "DATE")
                )
        if e.value is not None and t.value:
            conds.append(self._value(e, x, alias))
        if e.age is not None and birth is not None:
            conds.append(self._age(birth, self._date_key_expr(start), e.age))
        return conds

    def _value(self, e: EventCriterion, x: _Target, alias: str) -> exp.Expr:
        assert e.value is not None and x.table.value is not None
        value = self._number(x.stored, x.table.value, alias)

        def between(lo: float | None, hi: float | None) -> list[exp.Expr]:
            out: list[exp.Expr] = []
            if lo is not None:
                out.append(value.copy() >= _num(lo))
            if hi is not None:
                out.append(value.copy() <= _num(hi))
            return out

        if e.value.unit is None:
            return exp.and_(*between(e.value.min, e.value.max))
        unit_col = (
            self._col(x.stored, x.table.unit, alias)
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
                    lows = lows.when(exp.Literal.number(i), _num(lo))
                if hi is not None:
                    highs = highs.when(exp.Literal.number(i), _num(hi))
        self._note(
            f"values are compared in units compatible with {e.value.unit!r}; "
            "records without a recognised unit are not counted"
        )
        if not unit_ids or unit_col is None:
            return exp.false()
        conds = [_isin(unit_col.copy(), unit_ids)]
        if e.value.min is not None:
            conds.append(value.copy() >= lows)
        if e.value.max is not None:
            conds.append(value.copy() <= highs)
        return exp.and_(*conds)

    def _select_rows(self, e: EventCriterion, x: _Target) -> exp.Select:
        """SELECT person_id, start_date FROM <event table> WHERE <filters>."""
        alias = self._alias("e")
        birth = None
        q = exp.select(
            self._col(x.stored, "person_id", alias).as_("person_id"),
            self._date(x.stored, x.table.start, alias).as_("start_date"),
        ).from_(self._table(x.stored, alias))
        if e.age is not None:
            b = self._alias("b")
            q = q.join(
                self._table(self.person, b),
                on=self._col(self.person, "person_id", b).eq(
                    self._col(x.stored, "person_id", alias)
                ),
            )
            birth = self._birth_key(b)
        return q.where(*self._row_filters(e, x, alias, birth))

    def _rows(self, e: EventCriterion, targets: list[_Target]) -> exp.Query:
        return union_all([self._select_rows(e, x) for x in targets])

    def _events_pred(
        self, e: EventCriterion, targets: list[_Target], path: str, outer: str
    ) -> exp.Expr:
        outer_id = self._col(self.person, "person_id", outer)
        if e.occurrences is None and e.within is None:
            preds = []
            for x in targets:
                alias = self._alias("e")
                birth = self._birth_key(outer) if e.age is not None else None
                sub = (
                    exp.select(exp.Literal.number(1))
                    .from_(self._table(x.stored, alias))
                    .where(
                        self._col(x.stored, "person_id", alias).eq(outer_id.copy()),
                        *self._row_filters(e, x, alias, birth),
                    )
                )
                preds.append(exp.Exists(this=sub))
            return exp.paren(exp.or_(*preds), copy=False) if len(preds) > 1 else preds[0]
        q = self._person_ids(e, targets, path)
        return exp.false() if q is None else outer_id.isin(query=q)

    def _person_ids(
        self, e: EventCriterion, targets: list[_Target], path: str
    ) -> exp.Select | None:
        """SELECT person_id of the persons with matching events (one row per matching
        event, or per person with occurrence counts); None when unsupported or empty."""
        r = self._alias("r")
        rid = exp.column("person_id", table=r)
        q = (
            exp.select(rid.copy())
            .from_(self._rows(e, targets).subquery(r))
            .where(rid.copy().is_(exp.null()).not_())
        )
        if e.within is not None:
            of = e.within.of
            if of.occurrences is not None or of.within is not None:
                self._unsupported(
                    f"{path}.within.of", "an anchor takes no 'occurrences' or 'within' of its own"
                )
                return None
            anchor_targets, anchor_gender = self._targets(of, f"{path}.within.of")
            if anchor_targets is None:
                return None  # reported as unsupported
            if anchor_gender:
                self._unsupported(f"{path}.within.of", "a gender code is not an event")
                return None
            if not anchor_targets:
                self._note(f"{path}.within.of: no records in this database can match it")
                return None
            a = self._alias("a")
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
            anchor = self._rows(e.within.of, anchor_targets).subquery(a)
            if e.occurrences is None:
                # a join: persons may repeat, which IN and COUNT(DISTINCT) absorb
                q = q.join(anchor, on=near)
            else:
                # each matching event counts once, however many anchors it is near
                q = q.where(
                    exp.Exists(this=exp.select(exp.Literal.number(1)).from_(anchor).where(near))
                )
        if e.occurrences is not None:
            having: list[exp.Expr] = [
                exp.Count(this=exp.Star()) >= exp.Literal.number(e.occurrences.min)
            ]
            if e.occurrences.max is not None:
                having.append(exp.Count(this=exp.Star()) <= exp.Literal.number(e.occurrences.max))
            q = q.group_by(rid.copy()).having(exp.and_(*having))
        return q

    # -- strata --------------------------------------------------------------------------
    def _sex_label(self, outer: str) -> exp.Expr:
        col = self._col(self.person, "gender_concept_id", outer)
        case = exp.Case()
        for label in ("male", "female", "other"):
            case = case.when(
                _isin(col.copy(), GENDER_CONCEPTS[label]),
                exp.Literal.string(label),
            )
        return case.else_(exp.Literal.string("unknown"))

    def _age_label(self, outer: str, s: Stratify) -> exp.Expr:
        birth = self._birth_key(outer)
        key = _date_key(self.as_of)
        labels = age_band_labels(s.age_bands)
        case = exp.Case().when(
            self._col(self.person, "year_of_birth", outer).is_(exp.null()),
            exp.Literal.string("unknown"),
        )
        for upper, label in zip(s.age_bands[1:], labels, strict=False):
            case = case.when(
                birth.copy() > exp.Literal.number(key - upper * 10000), exp.Literal.string(label)
            )
        return case.else_(exp.Literal.string(labels[-1]))
