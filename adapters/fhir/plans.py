"""Choosing the plan of a FHIR count, as a person writing SQL over the view tables would (the
same three plans as the OMOP adapter's):

- **driven**: a positive event of the top-level conjunction drives the query — its rows,
  joined to ``v_patient`` only when the rest of the question reads patient attributes (age,
  sex), the count is stratified or the view has events of Patients not loaded — and
  distinct patients are counted;
- **set algebra**: pure event logic becomes INTERSECT / UNION / EXCEPT over patient ids;
- **general**: patients filtered by EXISTS per event criterion.

All three count the same patients (tests run the battery through each); they differ in speed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlglot import exp

from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.fhir.compiler import FhirPredicates
from hyperfed.adapters.fhir.events import EVENT_TABLES, EventTable
from hyperfed.adapters.fhir.index import StoreIndex
from hyperfed.adapters.fhir.vocab import CodeRef, Expansion
from hyperfed.adapters.hql.bindings import Bindings, CodesBinding, EveryoneBinding
from hyperfed.adapters.hql.model import (
    AgeCriterion,
    AllCriterion,
    AnyCriterion,
    Criterion,
    EventCriterion,
    NotCriterion,
    Query,
)
from hyperfed.adapters.sql import SqlQuery

__all__ = ["PLANS", "compile_count"]

PLANS = ("auto", "general")
"""`general` forces the EXISTS plan (tests compare it with the chosen one)."""


class _Planner(FhirPredicates):
    _unlinked = False
    _distinct: set[int]
    """ids of SELECTs whose rows are distinct patient ids (set operations)"""

    def _driven(self) -> tuple[exp.Select, exp.Expr] | None:
        root = self.query.criteria
        children = root.all if isinstance(root, AllCriterion) else [root]
        paths = (
            [f"criteria.all[{i}]" for i in range(len(children))]
            if isinstance(root, AllCriterion)
            else ["criteria"]
        )
        outer = self.outer
        for i, c in enumerate(children):
            if not isinstance(c, EventCriterion) or c.occurrences is not None:
                continue
            if c.concept is not None and not isinstance(self.bindings.get(c.concept), CodesBinding):
                continue
            rest = [self.criterion(x, paths[j]) for j, x in enumerate(children) if j != i]
            if rest and not any(self.reads_person(r) for r in rest):
                return None  # pure event logic: set algebra is faster
            binding = self.admit(c, paths[i])
            if not isinstance(binding, CodesBinding):
                return None
            targets = self.targets(c, binding.codes, paths[i])
            if not targets:
                return None
            linked = all(x.table.view not in self.index.unlinked for x in targets)
            join = bool(rest) or self.query.stratify is not None or c.age is not None
            join = join or not linked
            patient = self.table("patient", outer)
            pid = self.col(outer, "id")
            if len(targets) == 1 and c.within is None:
                x, a = targets[0], self.alias("e")
                eid = self.col(a, "patient_id")
                q = exp.select().from_(self.table(x.table.view, a))
                if join:
                    q = q.join(patient, on=pid.eq(eid.copy()))
                birth = self.birth_key(outer) if c.age is not None else None
                q = q.where(*self.row_filters(c, x, a, birth))
            else:
                ids = self.patient_ids(c, targets, paths[i])
                if ids is None:
                    return None
                d = self.alias("d")
                eid = exp.column("patient_id", table=d)
                q = exp.select().from_(ids.subquery(d))
                if join:
                    q = q.join(patient, on=pid.eq(eid.copy()))
            q = q.where(*rest) if rest else q
            return q, eid  # the join keeps only loaded patients: count their ids
        return None

    def _patients(self) -> exp.Select:
        p = self.alias("p")
        out = exp.select(self.col(p, "id").as_("patient_id")).from_(self.table("patient", p))
        self._distinct.add(id(out))
        return out

    def _wrapped(self, q: exp.Query) -> exp.Select:
        if isinstance(q, exp.Select):
            return q
        s = self.alias("s")
        out = exp.select(exp.column("patient_id", table=s)).from_(
            q.subquery(s, copy=False), copy=False
        )
        self._distinct.add(id(out))  # UNION / INTERSECT / EXCEPT return distinct rows
        return out

    def _set(self, c: Criterion, path: str) -> exp.Select | None:
        """The patients satisfying `c` as a SELECT of ids built with set algebra; None when
        `c` reads patient attributes (age, sex)."""
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
            out = pos[0] if pos else self._patients()
            for q in pos[1:]:
                out = self._wrapped(exp.intersect(out, q, distinct=True))
            for q in neg:
                out = self._wrapped(exp.except_(out, q, distinct=True))
            return self._wrapped(out)
        if isinstance(c, NotCriterion):
            inner_q = self._set(c.not_, f"{path}.not")
            if inner_q is None:
                return None
            return self._wrapped(exp.except_(self._patients(), inner_q, distinct=True))
        if isinstance(c, AgeCriterion):
            return None
        assert isinstance(c, EventCriterion)
        binding = self.bindings.get(c.concept) if c.concept is not None else None
        if isinstance(binding, EveryoneBinding) and not c.has_filters:
            return self._patients()
        if c.concept is not None and not isinstance(binding, CodesBinding):
            return None
        admitted = self.admit(c, path)
        if not isinstance(admitted, CodesBinding):
            return None
        targets = self.targets(c, admitted.codes, path)
        if not targets:
            self.note(f"{path}: no records in this FHIR source can match this criterion")
            return self._patients().where(exp.false())
        if any(x.table.view in self.index.unlinked for x in targets):
            self._unlinked = True
        return self.patient_ids(c, targets, path)

    def _set_plan(self) -> tuple[exp.Select, exp.Expr | None] | None:
        if self.query.stratify is not None:
            return None
        self._unlinked = False
        self._distinct = set()
        q = self._set(self.query.criteria, "criteria")
        if q is None:
            return None
        s = self.alias("s")
        sid = exp.column("patient_id", table=s)
        plan = exp.select().from_(q.subquery(s, copy=False), copy=False)
        if self._unlinked:
            p = self.alias("p")
            plan = plan.join(self.table("patient", p), on=self.col(p, "id").eq(sid.copy()))
        if id(q) in self._distinct:
            return plan, None  # already one row per patient: COUNT(*)
        return plan, sid

    def compile(self, plan: str = "auto") -> SqlQuery:
        if not self.gate_query():
            return SqlQuery(self.unsupported, self.notes)
        self._distinct = set()
        chosen = (self._driven() or self._set_plan()) if plan == "auto" else None
        if self.rejected:  # a planning attempt found unsupported criteria: report them all
            chosen = None
        base, counted = chosen if chosen is not None else (None, None)
        if base is None:
            pred = self.criterion(self.query.criteria)
            base = exp.select().from_(self.table("patient", self.outer))
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
    index: StoreIndex,
    expansions: Mapping[CodeRef, Expansion],
    features: Mapping[str, bool],
    usable: Sequence[EventTable] = EVENT_TABLES,
    deadline: Deadline | None = None,
    plan: str = "auto",
) -> SqlQuery:
    """Compile a dated `query` into a patient count over a loaded FHIR store."""
    if plan not in PLANS:
        raise ValueError(f"plan must be one of {PLANS}, not {plan!r}")
    planner = _Planner(query, bindings, features, index, expansions, usable, deadline)
    return planner.compile(plan)
