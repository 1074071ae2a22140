"""Assembling SDTM predicates into one count, as a person writing SQL by hand would:

- **driven**: a positive event criterion of the top-level conjunction (without occurrence
  counts) drives the query — its rows, joined to `subjects` only when the rest of the
  question reads subject attributes or the count is stratified — and distinct subjects are
  counted;
- **general**: otherwise, subjects filtered by EXISTS per event criterion.

Both count the same subjects (the cross-model battery runs through both); they differ only
in speed.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp

from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.hql.bindings import Bindings, PersonBinding
from hyperfed.adapters.hql.model import AllCriterion, EventCriterion, Query
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

    def compile(self) -> SqlQuery:
        if not self.gate_query():
            return SqlQuery(self.unsupported, self.notes)
        plan = self._driven()
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
