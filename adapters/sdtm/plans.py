"""Assembling SDTM predicates into one count, as a person writing SQL by hand would:

- **driven**: a positive event criterion of the top-level conjunction (without occurrence
  counts) drives the query — its rows, joined to `subjects` only when the rest of the
  question reads subject attributes or the count is stratified — and distinct subjects are
  counted;
- **set algebra**: pure event logic (no age, no sex, no strata) becomes INTERSECT / UNION /
  EXCEPT over subject ids (layout rows belong to DM subjects, so no join is needed);
- **general**: otherwise, subjects filtered by EXISTS per event criterion.

All three count the same subjects (the cross-model battery and the count tests run through
them); they differ only in speed.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp

from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.hql.bindings import Bindings, EveryoneBinding, PersonBinding
from hyperfed.adapters.hql.model import (
    AgeCriterion,
    AllCriterion,
    AnyCriterion,
    Criterion,
    EventCriterion,
    NotCriterion,
    Query,
)
from hyperfed.adapters.sdtm.compiler import SdtmPredicates
from hyperfed.adapters.sdtm.schema import SdtmSchema
from hyperfed.adapters.sql import SqlQuery

__all__ = ["compile_count"]


class _Planner(SdtmPredicates):
    def _driven(self) -> tuple[exp.Select, exp.Expr] | None:
        root = self.query.criteria
        children = root.all if isinstance(root, AllCriterion) else [root]
        paths = (
            [f"criteria.all[{i}]" for i in range(len(children))]
            if isinstance(root, AllCriterion)
            else ["criteria"]
        )
        for i, c in enumerate(children):
            if not isinstance(c, EventCriterion) or c.occurrences is not None:
                continue
            if isinstance(self.bindings.get(c.concept or ""), PersonBinding):
                continue
            rest = [self.criterion(x, paths[j]) for j, x in enumerate(children) if j != i]
            if self.rejected:
                return None
            if rest and not any(self.reads_person(r) for r in rest):
                return None  # pure event logic: EXISTS per criterion is the faster plan
            binding = self.admit(c, paths[i])
            if binding is None or isinstance(binding, PersonBinding):
                return None
            targets = self.targets(c, binding, paths[i])
            if targets is None:
                return None
            join = bool(rest) or self.query.stratify is not None
            subjects = self.table("subjects", self.outer)
            sid = self.col(self.outer, "usubjid")
            if len(targets) == 1 and c.within is None:
                t, alias = targets[0], self.alias("e")
                eid = self.col(alias, "usubjid")
                q = exp.select().from_(self.table(t.table, alias))
                if join or c.age is not None:
                    q = q.join(subjects, on=sid.eq(eid.copy()))
                birth = self.birth(self.outer) if c.age is not None else None
                q = q.where(*self.row_filters(c, t, alias, birth, paths[i]))
            else:
                ids = self.person_ids(c, targets, paths[i])
                if ids is None:
                    return None
                d = self.alias("d")
                eid = exp.column("usubjid", table=d)
                q = exp.select().from_(ids.subquery(d))
                if join:
                    q = q.join(subjects, on=sid.eq(eid.copy()))
            q = q.where(*rest) if rest else q
            return q, (sid if join else eid)
        return None

    def _subjects(self) -> exp.Select:
        a = self.alias("p")
        return exp.select(self.col(a, "usubjid").as_("usubjid")).from_(self.table("subjects", a))

    def _wrapped(self, q: exp.Query) -> exp.Select:
        """A set operation as a plain SELECT (nesting never depends on set-operator
        precedence)."""
        if isinstance(q, exp.Select):
            return q
        a = self.alias("u")
        return exp.select(exp.column("usubjid", table=a)).from_(q.subquery(a))

    def _set(self, c: Criterion, path: str) -> exp.Select | None:
        """The subjects satisfying `c` as a SELECT of ids, by set algebra; None when `c`
        reads subject attributes (age, sex) or cannot be counted."""
        if isinstance(c, AllCriterion | AnyCriterion):
            kids = c.all if isinstance(c, AllCriterion) else c.any
            key = "all" if isinstance(c, AllCriterion) else "any"
            pos: list[exp.Select] = []
            neg: list[exp.Select] = []
            for i, x in enumerate(kids):
                inner = x.not_ if isinstance(x, NotCriterion) and key == "all" else x
                q = self._set(inner, f"{path}.{key}[{i}]" + (".not" if inner is not x else ""))
                if q is None:
                    return None
                (neg if inner is not x else pos).append(q)
            if key == "any":
                return self._wrapped(pos[0] if len(pos) == 1 else exp.union(*pos))
            out: exp.Query = pos[0] if pos else self._subjects()
            for q in pos[1:]:
                out = self._wrapped(exp.intersect(out, q, distinct=True))
            for q in neg:
                out = self._wrapped(exp.except_(out, q, distinct=True))
            return self._wrapped(out)
        if isinstance(c, NotCriterion):
            inner_q = self._set(c.not_, f"{path}.not")
            if inner_q is None:
                return None
            return self._wrapped(exp.except_(self._subjects(), inner_q, distinct=True))
        if isinstance(c, AgeCriterion):
            return None
        assert isinstance(c, EventCriterion)
        known = self.bindings.get(c.concept) if c.concept is not None else None
        if isinstance(known, EveryoneBinding) and not c.has_filters:
            return self._subjects()
        if isinstance(known, PersonBinding):
            return None
        binding = self.admit(c, path)
        if binding is None or isinstance(binding, PersonBinding) or self.rejected:
            return None
        targets = self.targets(c, binding, path)
        if targets is None:
            return None if self.rejected else self._subjects().where(exp.false())
        return self.person_ids(c, targets, path)

    @staticmethod
    def _unique(q: exp.Select) -> bool:
        """Whether `q` yields each subject id once: grouped by it, a distinct set operation,
        or the subjects table itself."""
        if q.args.get("group") is not None:
            return True
        clause = q.args.get("from_") or q.args.get("from")  # sqlglot renamed the key
        if clause is None:
            return False
        source = clause.this
        if isinstance(source, exp.Subquery):
            inner = source.this
            return isinstance(inner, exp.Union | exp.Intersect | exp.Except) and bool(
                inner.args.get("distinct")
            )
        return isinstance(source, exp.Table) and source.name == "subjects"

    def _set_plan(self) -> tuple[exp.Select, exp.Expr | None] | None:
        """For pure event logic: count the subjects of a set expression (COUNT(*) when its
        ids are unique already)."""
        if self.query.stratify is not None:
            return None
        q = self._set(self.query.criteria, "criteria")
        if q is None:
            return None
        a = self.alias("x")
        counted = None if self._unique(q) else exp.column("usubjid", table=a)
        return exp.select().from_(q.subquery(a)), counted

    def compile(self) -> SqlQuery:
        if not self.gate_query():
            return SqlQuery(self.unsupported, self.notes)
        plan: tuple[exp.Select, exp.Expr | None] | None = self._driven()
        if plan is None and not self.rejected:
            plan = self._set_plan()
        if self.rejected:
            return SqlQuery(self.unsupported, self.notes)
        base, counted = plan if plan is not None else (None, None)
        if base is None:
            pred = self.criterion(self.query.criteria)
            base = exp.select().from_(self.table("subjects", self.outer))
            if not isinstance(pred, exp.Boolean) or pred.this is not True:
                base = base.where(pred)
        dims: list[str] = []
        if self.query.stratify is not None:
            for dim in self.query.stratify.by:
                label = self.sex_label() if dim == "sex" else self.age_label(self.query.stratify)
                base = base.select(label.as_(dim))
                dims.append(dim)
            base = base.group_by(*[exp.Literal.number(i + 1) for i in range(len(dims))])
        count = (
            exp.Count(this=exp.Distinct(expressions=[counted]))
            if counted is not None
            else exp.Count(this=exp.Star())
        )
        base = base.select(count.as_("n"))
        if self.unsupported:
            return SqlQuery(self.unsupported, self.notes, tuple(dims))
        return SqlQuery([], self.notes, tuple(dims), base)


def compile_count(
    query: Query,
    bindings: Bindings,
    schema: SdtmSchema,
    features: Mapping[str, bool] | None = None,
    deadline: Deadline | None = None,
) -> SqlQuery:
    """Compile a dated `query` into a subject count over the SDTM layout (with the features
    the SDTM model declares, unless narrower ones are given)."""
    if features is None:
        from hyperfed.adapters.sdtm.adapter import SdtmAdapter

        features = SdtmAdapter.declared_features()
    return _Planner(query, bindings, features, schema, deadline).compile()
