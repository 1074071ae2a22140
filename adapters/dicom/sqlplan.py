"""HQL -> DuckDB SQL over the series table (`dicom_series`): the count of an index source.

The unit of counting is the person (`person_key`); an event criterion is "the person has a
series matching all of its same-series conditions" (`hyperfed.adapters.dicom.matching`),
`occurrences` counts the person's distinct **studies** with such a series, `within` compares
study dates. Person attributes come from the person's series:

- sex: the PatientSex all of the person's series agree on (NULL — unknown — when they
  disagree or none has one);
- birth year: the birth_year of the series, else the earliest `year(StudyDate) - age_years`;
  birth month and day are never kept, so ages on the reference date count the birthday as
  1 January (HQL's rule for a missing birth month and day).

Plans, as a person writing the SQL would choose them:

- **one criterion** (the common imaging question): `COUNT(DISTINCT person_key)` over the
  matching series — one scan, filters pushed into the Parquet reader;
- **event logic** (and/or of criteria, `not` beside a positive one): INTERSECT / UNION /
  EXCEPT of the persons of each criterion;
- **anything else** (person attributes, negation alone, strata): the persons (one GROUP BY
  over the series) filtered by `person_key IN (...)` per criterion.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from sqlglot import exp

from hyperfed.adapters.compiler import CriterionCompiler, event_binding
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.dicom.bindings import DicomBinding
from hyperfed.adapters.dicom.layout import SERIES_TABLE
from hyperfed.adapters.dicom.matching import (
    DCM,
    AgeBetween,
    Between,
    Condition,
    DateBetween,
    Either,
    IndexSpace,
    OneOf,
    Present,
    SeriesMatch,
    SeriesMatcher,
)
from hyperfed.adapters.hql.bindings import (
    BindingBase,
    Bindings,
    CodesBinding,
    PersonBinding,
    SexBinding,
)
from hyperfed.adapters.hql.model import (
    AgeCriterion,
    AllCriterion,
    AnyCriterion,
    Criterion,
    EventCriterion,
    NotCriterion,
    Query,
    Stratify,
)
from hyperfed.adapters.hql.strata import age_band_labels
from hyperfed.adapters.sql import SqlQuery, isin, num

__all__ = ["DicomSqlQuery", "compile_index_count", "sql_condition"]

_SEX_CODE = {"female": "F", "male": "M", "other": "O"}
KEY = "person_key"


@dataclass
class DicomSqlQuery(SqlQuery):
    """The count, and (`details`) the studies and series of the counted persons that match
    a positive criterion of the query (all their series when none names one)."""

    details: exp.Select | None = field(default=None, kw_only=True)

    def text(self) -> str:
        body = super().text()
        if self.details is None:
            return body
        details = self.details.sql(dialect=self.dialect, pretty=True)
        return f"{body}\n-- studies and series (node count --exact):\n{details};"


def _col(alias: str, name: str) -> exp.Column:
    return exp.column(name, table=alias, quoted=True)


def _date(d: object) -> exp.Expr:
    return exp.cast(exp.Literal.string(str(d)), "DATE")


def _lit(v: object) -> exp.Expr:
    if isinstance(v, bool):
        return exp.true() if v else exp.false()
    if isinstance(v, int | float):
        return num(v)
    if hasattr(v, "isoformat"):
        return _date(v)
    return exp.Literal.string(str(v))


def age_at_study(alias: str, space: IndexSpace) -> exp.Expr:
    """Age in whole years at the study: age_years, else year(StudyDate) - birth_year."""
    parts: list[exp.Expr] = []
    if "age_years" in space.available:
        parts.append(_col(alias, "age_years"))
    if {"birth_year", "StudyDate"} <= space.available:
        parts.append(exp.Year(this=_col(alias, "StudyDate")) - _col(alias, "birth_year"))
    return parts[0] if len(parts) == 1 else exp.func("COALESCE", *parts)


def sql_condition(c: Condition, alias: str, space: IndexSpace) -> exp.Expr:
    """One same-series condition on the series row `alias`."""
    if isinstance(c, Either):
        return exp.paren(exp.or_(*[sql_condition(p, alias, space) for p in c.parts]), copy=False)
    if isinstance(c, AgeBetween):
        return _bounds(age_at_study(alias, space), c.lo, c.hi)
    assert c.attr.column is not None
    col = _col(alias, c.attr.column)
    if isinstance(c, OneOf):
        if c.attr.multi:
            parts = exp.Anonymous(this="string_split", expressions=[col, exp.Literal.string("\\")])
            wanted = exp.Array(expressions=[_lit(v) for v in c.values])
            return exp.Anonymous(this="list_has_any", expressions=[parts, wanted])
        if all(isinstance(v, str) for v in c.values):
            return isin(col, [str(v) for v in c.values])
        lits = [_lit(v) for v in c.values]
        return col.eq(lits[0]) if len(lits) == 1 else col.isin(*lits)
    if isinstance(c, Between):
        return _bounds(col, c.lo, c.hi)
    if isinstance(c, DateBetween):
        conds: list[exp.Expr] = []
        if c.lo is not None:
            conds.append(col >= _date(c.lo))
        if c.hi is not None:
            conds.append(col.copy() <= _date(c.hi))
        return exp.and_(*conds)
    assert isinstance(c, Present)
    if c.attr.presence is not None:
        flag = _col(alias, c.attr.presence)
        return (
            flag.is_(exp.true()) if c.present else exp.not_(exp.func("COALESCE", flag, exp.false()))
        )
    has = exp.and_(col.is_(exp.null()).not_(), col.copy().neq(exp.Literal.string("")))
    return has if c.present else exp.not_(exp.func("COALESCE", has, exp.false()))


def _bounds(value: exp.Expr, lo: float | None, hi: float | None) -> exp.Expr:
    conds: list[exp.Expr] = []
    if lo is not None:
        conds.append(value.copy() >= num(lo))
    if hi is not None:
        conds.append(value.copy() <= num(hi))
    return exp.and_(*conds)


class _Compiler(CriterionCompiler[exp.Expr]):
    MODEL = "dicom"
    FLAT_SYSTEMS = frozenset({DCM})  # modality codes have no descendants
    BINDINGS: ClassVar[dict[type[BindingBase], str]] = {
        **CriterionCompiler.BINDINGS,
        DicomBinding: "bound",
    }

    def __init__(
        self,
        query: Query,
        bindings: Bindings,
        features: Mapping[str, bool],
        space: IndexSpace,
        table: str,
        deadline: Deadline | None,
    ) -> None:
        super().__init__(query, bindings, features, deadline)
        self.space = space
        self.table_name = table
        self.matcher = SeriesMatcher(space, self.reject)
        self.person_columns: set[str] = set()
        self.positive: list[SeriesMatch] = []
        self._negated = False
        self._n = 0

    # -- helpers -------------------------------------------------------------------------
    def alias(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def table(self, alias: str) -> exp.Table:
        return exp.table_(exp.to_identifier(self.table_name, quoted=True), alias=alias)

    def conditions(self, match: SeriesMatch, alias: str) -> list[exp.Expr]:
        return [sql_condition(c, alias, self.space) for c in match.conditions]

    # -- combinators -----------------------------------------------------------------------
    def conjunction(self, parts: Sequence[exp.Expr]) -> exp.Expr:
        return exp.and_(*parts, wrap=True)

    def disjunction(self, parts: Sequence[exp.Expr]) -> exp.Expr:
        return exp.paren(exp.or_(*parts), copy=False)

    def negation(self, part: exp.Expr) -> exp.Expr:
        # an unknown sex or birth year is NULL: "not" makes it TRUE (README: the negation
        # of an unknown attribute holds); IN (...) over non-NULL keys is never NULL
        return exp.not_(exp.func("COALESCE", exp.paren(part, copy=False), exp.false()))

    def always(self) -> exp.Expr:
        return exp.true()

    def never(self) -> exp.Expr:
        return exp.false()

    def none_of(self, c: NotCriterion, path: str) -> exp.Expr:
        self._negated = not self._negated
        try:
            return super().none_of(c, path)
        finally:
            self._negated = not self._negated

    # -- person attributes ----------------------------------------------------------------
    def _needs(self, column: str, path: str, what: str) -> bool:
        have = self.space.available
        ok = (
            "PatientSex" in have
            if column == "sex"
            else "birth_year" in have or {"age_years", "StudyDate"} <= have
        )
        if not ok:
            self.reject(path, f"{self.space.source} holds no {what}")
            return False
        self.person_columns.add(column)
        return True

    def age_today(self, c: AgeCriterion, path: str) -> exp.Expr:
        if not self._needs("birth_year", path, "birth years or ages"):
            return self.never()
        birth, year = exp.column("birth_year", table="p"), self.as_of.year
        conds: list[exp.Expr] = []
        if c.age.min is not None:  # age = year - birth (birthday on 1 January)
            conds.append(birth <= num(year - c.age.min))
        if c.age.max is not None:
            conds.append(birth.copy() >= num(year - c.age.max))
        return exp.and_(*conds)

    def sex(self, e: EventCriterion, binding: SexBinding, path: str) -> exp.Expr:
        if not self._needs("sex", path, "PatientSex"):
            return self.never()
        col = exp.column("sex", table="p")
        if binding.sex == "unknown":
            return col.is_(exp.null())
        return col.eq(exp.Literal.string(_SEX_CODE[binding.sex]))

    # -- events --------------------------------------------------------------------------
    def coded(self, e: EventCriterion, binding: CodesBinding, path: str) -> exp.Expr:
        return self._in(self.persons_of(e, binding, path))

    def bound(self, e: EventCriterion, binding: DicomBinding, path: str) -> exp.Expr:
        return self._in(self.persons_of(e, binding, path))

    def _in(self, persons: exp.Select | None) -> exp.Expr:
        if persons is None:
            return self.never()
        return exp.column(KEY, table="p").isin(query=persons)

    def persons_of(self, e: EventCriterion, binding: BindingBase, path: str) -> exp.Select | None:
        """SELECT person_key of the persons with a series matching `e` (admitted by the
        base); None when something in `e` was rejected."""
        match = self.matcher.match(e, binding, path)
        if match is None:
            return None
        s = self.alias("s")
        # no "person_key IS NOT NULL": COUNT(DISTINCT) and the set operations ignore a NULL
        # key, and under `not` the COALESCE of `negation` makes "x IN (..., NULL)" false
        q = exp.select(_col(s, KEY)).from_(self.table(s)).where(*self.conditions(match, s))
        if e.within is not None:
            near = self._near(e, s, f"{path}.within")
            if near is None:
                return None
            q = q.where(near)
        if e.occurrences is not None:
            if "StudyInstanceUID" not in self.space.available:
                self.reject(f"{path}.occurrences", f"{self.space.source} holds no study keys")
                return None
            studies = exp.Count(this=exp.Distinct(expressions=[_col(s, "StudyInstanceUID")]))
            having: list[exp.Expr] = [studies >= num(e.occurrences.min)]
            if e.occurrences.max is not None:
                having.append(studies.copy() <= num(e.occurrences.max))
            q = q.group_by(_col(s, KEY)).having(exp.and_(*having))
        if not self._negated:
            self.positive.append(match)
        return q

    def _near(self, e: EventCriterion, s: str, path: str) -> exp.Expr | None:
        assert e.within is not None
        of = e.within.of
        binding = event_binding(of, self.bindings)
        assert binding is not None  # the base admitted the anchor
        anchor = self.matcher.match(of, binding, f"{path}.of")
        if anchor is None:
            return None
        if "StudyDate" not in self.space.available:
            self.reject(path, f"{self.space.source} holds no study dates")
            return None
        a = self.alias("a")
        day, a_day = _col(s, "StudyDate"), _col(a, "StudyDate")
        window = [
            day >= exp.DateSub(this=a_day, unit=exp.var("DAY"),
                               expression=exp.Literal.number(e.within.days_before)),
            day.copy() <= exp.DateAdd(this=a_day.copy(), unit=exp.var("DAY"),
                                      expression=exp.Literal.number(e.within.days_after)),
        ]  # fmt: skip
        inner = (
            exp.select(exp.Literal.number(1))
            .from_(self.table(a))
            .where(_col(a, KEY).eq(_col(s, KEY)), *self.conditions(anchor, a), *window)
        )
        return exp.Exists(this=inner)

    # -- the persons table and strata ------------------------------------------------------
    def persons(self) -> exp.Select:
        x = "x"
        cols: list[exp.Expr] = [_col(x, KEY)]
        if "sex" in self.person_columns:
            lo, hi = exp.Min(this=_col(x, "PatientSex")), exp.Max(this=_col(x, "PatientSex"))
            sex = exp.Case(ifs=[exp.If(this=lo.eq(hi), true=lo.copy())])
            cols.append(sex.as_("sex"))
        if "birth_year" in self.person_columns:
            births: list[exp.Expr] = []
            if "birth_year" in self.space.available:
                births.append(exp.Min(this=_col(x, "birth_year")))
            if {"age_years", "StudyDate"} <= self.space.available:
                est = exp.Year(this=_col(x, "StudyDate")) - _col(x, "age_years")
                births.append(exp.Min(this=est))
            birth = births[0] if len(births) == 1 else exp.func("COALESCE", *births)
            cols.append(birth.as_("birth_year"))
        return (
            exp.select(*cols)
            .from_(self.table(x))
            .where(_col(x, KEY).is_(exp.null()).not_())
            .group_by(_col(x, KEY))
        )

    def sex_label(self) -> exp.Expr:
        col = exp.column("sex", table="p")
        case = exp.Case()
        for label, code in _SEX_CODE.items():
            case = case.when(col.copy().eq(exp.Literal.string(code)), exp.Literal.string(label))
        return case.else_(exp.Literal.string("unknown"))

    def age_label(self, s: Stratify) -> exp.Expr:
        birth, year = exp.column("birth_year", table="p"), self.as_of.year
        labels = age_band_labels(s.age_bands)
        case = exp.Case().when(birth.is_(exp.null()), exp.Literal.string("unknown"))
        for upper, label in zip(s.age_bands[1:], labels, strict=False):
            # age < upper  <=>  year - birth < upper  <=>  birth > year - upper
            case = case.when(birth.copy() > num(year - upper), exp.Literal.string(label))
        return case.else_(exp.Literal.string(labels[-1]))

    # -- plans ---------------------------------------------------------------------------
    def _is_event(self, c: Criterion) -> bool:
        if not isinstance(c, EventCriterion):
            return False
        return not isinstance(event_binding(c, self.bindings), PersonBinding)

    def _settable(self, c: Criterion) -> bool:
        """Pure event logic: events under and/or, `not` only beside a positive sibling."""
        if self._is_event(c):
            return True
        if isinstance(c, AnyCriterion):
            return all(self._settable(x) for x in c.any)
        if isinstance(c, AllCriterion):
            pos = [x for x in c.all if not isinstance(x, NotCriterion)]
            neg = [x.not_ for x in c.all if isinstance(x, NotCriterion)]
            return bool(pos) and all(self._settable(x) for x in [*pos, *neg])
        return False

    def _wrapped(self, q: exp.Query) -> exp.Select:
        if isinstance(q, exp.Select):
            return q
        w = self.alias("w")
        return exp.select(exp.column(KEY, table=w)).from_(q.subquery(w))

    def _set(self, c: Criterion, path: str) -> exp.Select | None:
        if isinstance(c, EventCriterion):
            binding = self.admit(c, path)
            if binding is None:
                return None
            if type(binding) not in self.BINDINGS:
                self.reject(path, self._unread(c, binding))
                return None
            return self.persons_of(c, binding, path)
        kids = c.any if isinstance(c, AnyCriterion) else c.all  # type: ignore[union-attr]
        key = "any" if isinstance(c, AnyCriterion) else "all"
        pos: list[exp.Select] = []
        neg: list[exp.Select] = []
        for i, x in enumerate(kids):
            here = f"{path}.{key}[{i}]"
            if isinstance(x, NotCriterion):
                self._negated = not self._negated
                try:
                    q = self._set(x.not_, f"{here}.not")
                finally:
                    self._negated = not self._negated
                if q is not None:
                    neg.append(q)
            else:
                q = self._set(x, here)
                if q is not None:
                    pos.append(q)
        if self.rejected or not pos:
            return None
        if key == "any":
            return self._wrapped(pos[0] if len(pos) == 1 else exp.union(*pos, distinct=True))
        out: exp.Select = pos[0]
        for q in pos[1:]:
            out = self._wrapped(exp.intersect(out, q, distinct=True))
        for q in neg:
            out = self._wrapped(exp.except_(out, q, distinct=True))
        return out

    def compile(self, with_details: bool = False) -> DicomSqlQuery:
        if not self.gate_query():
            return DicomSqlQuery(self.unsupported, self.notes)
        root = self.query.criteria
        stratify = self.query.stratify
        main: exp.Select | None = None
        chosen: exp.Select | None = None
        dims: tuple[str, ...] = ()
        if stratify is None and self._settable(root):
            chosen = self._set(root, "criteria")
            if (
                chosen is not None
                and isinstance(root, EventCriterion)
                and not chosen.args.get("group")
            ):
                count = exp.Count(this=exp.Distinct(expressions=[chosen.selects[0].copy()]))
                main = chosen.copy().select(count.as_("n"), append=False)
            elif chosen is not None:
                q = self.alias("q")
                count = exp.Count(this=exp.Distinct(expressions=[exp.column(KEY, table=q)]))
                main = exp.select(count.as_("n")).from_(chosen.subquery(q))
        else:
            pred = self.criterion(root)
            if stratify is not None:
                if "sex" in stratify.by:
                    self._needs("sex", "stratify", "PatientSex")
                if "age" in stratify.by:
                    self._needs("birth_year", "stratify", "birth years or ages")
            persons = self.persons()
            base = exp.select().from_("p").where(pred).with_("p", as_=persons)
            chosen = exp.select(exp.column(KEY, table="p")).from_("p").where(pred.copy())
            chosen = chosen.with_("p", as_=persons.copy())
            if stratify is not None:
                labels = {"sex": self.sex_label, "age": lambda: self.age_label(stratify)}
                for dim in stratify.by:
                    base = base.select(labels[dim]().as_(dim))
                dims = tuple(stratify.by)
                base = base.group_by(*[exp.Literal.number(i + 1) for i in range(len(dims))])
            main = base.select(exp.Count(this=exp.Star()).as_("n"))
        if self.unsupported or main is None or chosen is None:
            return DicomSqlQuery(self.unsupported, self.notes, dims)
        details = self._details(chosen) if with_details else None
        return DicomSqlQuery([], self.notes, dims, main, details=details)

    def _details(self, chosen: exp.Select) -> exp.Select:
        s = self.alias("s")
        where: list[exp.Expr] = [_col(s, KEY).isin(query=chosen)]
        matches = list({id(m): m for m in self.positive}.values())
        if matches:
            alternatives = [exp.and_(*self.conditions(m, s)) for m in matches]
            where.append(exp.paren(exp.or_(*alternatives), copy=False))
        studies = exp.Count(this=exp.Distinct(expressions=[_col(s, "StudyInstanceUID")]))
        series = exp.Count(this=exp.Distinct(expressions=[_col(s, "SeriesInstanceUID")]))
        select = exp.select(studies.as_("studies"), series.as_("series"))
        return select.from_(self.table(s)).where(*where)


def compile_index_count(
    query: Query,
    bindings: Bindings,
    space: IndexSpace,
    features: Mapping[str, bool],
    deadline: Deadline | None = None,
    *,
    table: str = SERIES_TABLE,
    with_details: bool = False,
) -> DicomSqlQuery:
    """The SQL count of a dated `query` over the series table `table` of one index source
    (`space`: the attributes it holds); `with_details` adds the studies-and-series query."""
    return _Compiler(query, bindings, features, space, table, deadline).compile(with_details)
