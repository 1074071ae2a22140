"""Choosing the plan of an OMOP count, as a person writing SQL by hand would:

- **driven**: a positive event of the top-level conjunction drives the query — its rows,
  joined to PERSON only when the rest of the question reads person attributes (age, sex)
  or the count is stratified — and distinct persons are counted;
- **set algebra**: pure event logic (no age, no sex, no strata) becomes INTERSECT / UNION /
  EXCEPT over person ids;
- **general**: otherwise, persons filtered by EXISTS per event criterion.

All three count the same persons (tests/adapters/omop run every battery question through
them against hand-written SQL); they differ only in speed.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp

from hyperfed.adapters.deadline import Deadline
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
from hyperfed.adapters.omop.compiler import OmopPredicates
from hyperfed.adapters.omop.schema import CdmSchema
from hyperfed.adapters.omop.vocab import VocabLookup
from hyperfed.adapters.sql import SqlQuery

__all__ = ["compile_count"]


class _Planner(OmopPredicates):
    _unlinked = False

    def _driven(self) -> tuple[exp.Select, exp.Expr] | None:
        """The plan hand-written SQL would use, when the question allows it: start from
        the events of one positive criterion of the top-level conjunction, join the
        person only if the rest of the question reads person attributes, count distinct
        persons. Returns the query and the person id to count; None: the general plan
        (persons filtered by EXISTS), which is the faster one for pure event logic."""
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
                return None
            binding = self.admit(c, paths[i])
            if not isinstance(binding, CodesBinding):
                return None
            targets, gender = self.targets(c, binding.codes, paths[i])
            if not targets or gender:
                return None
            linked = all(x.table.table in self.schema.linked for x in targets)
            join = bool(rest) or self.query.stratify is not None or c.age is not None
            join = join or not linked
            person = self.table(self.person, outer)
            pid = self.col(self.person, "person_id", outer)
            if len(targets) == 1 and c.within is None:
                x, alias = targets[0], self.alias("e")
                eid = self.col(x.stored, "person_id", alias)
                q = exp.select().from_(self.table(x.stored, alias))
                if join:
                    q = q.join(person, on=pid.eq(eid.copy()))
                birth = self.birth_key(outer) if c.age is not None else None
                q = q.where(*self.row_filters(c, x, alias, birth))
            else:
                ids = self.person_ids(c, targets, paths[i])
                if ids is None:
                    return None
                d = self.alias("d")
                eid = exp.column("person_id", table=d)
                q = exp.select().from_(ids.subquery(d))
                if join:
                    q = q.join(person, on=pid.eq(eid.copy()))
            q = q.where(*rest) if rest else q
            return q, (pid if join else eid)
        return None

    def _persons(self) -> exp.Select:
        p = self.alias("p")
        return exp.select(self.col(self.person, "person_id", p).as_("person_id")).from_(
            self.table(self.person, p)
        )

    def _wrapped(self, q: exp.Query) -> exp.Select:
        """A set operation as a plain SELECT, so that nesting never depends on the
        dialect's precedence of UNION / INTERSECT / EXCEPT."""
        if isinstance(q, exp.Select):
            return q
        s = self.alias("s")
        return exp.select(exp.column("person_id", table=s)).from_(q.subquery(s))

    def _set(self, c: Criterion, path: str) -> exp.Select | None:
        """The persons satisfying `c` as a SELECT of person ids, built with set algebra
        (INTERSECT / UNION / EXCEPT); None when `c` reads person attributes (age, sex)."""
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
            out = pos[0] if pos else self._persons()
            for q in pos[1:]:
                out = self._wrapped(exp.intersect(out, q, distinct=True))
            for q in neg:
                out = self._wrapped(exp.except_(out, q, distinct=True))
            return self._wrapped(out)
        if isinstance(c, NotCriterion):
            inner_q = self._set(c.not_, f"{path}.not")
            return (
                None
                if inner_q is None
                else self._wrapped(exp.except_(self._persons(), inner_q, distinct=True))
            )
        if isinstance(c, AgeCriterion):
            return None
        assert isinstance(c, EventCriterion)
        binding = self.bindings.get(c.concept) if c.concept is not None else None
        if isinstance(binding, EveryoneBinding) and not c.has_filters:
            return self._persons()
        if c.concept is not None and not isinstance(binding, CodesBinding):
            return None
        admitted = self.admit(c, path)
        if not isinstance(admitted, CodesBinding):
            return None
        targets, gender = self.targets(c, admitted.codes, path)
        if targets is None or gender:
            return None
        if not targets:
            self.note(f"{path}: no records in this database can match this criterion")
            q = self._persons()
            return q.where(exp.false())
        if any(x.table.table not in self.schema.linked for x in targets):
            self._unlinked = True
        return self.person_ids(c, targets, path)

    def _set_plan(self) -> tuple[exp.Select, exp.Expr] | None:
        """For questions of pure event logic (no age, no sex, no strata): count the
        persons of a set expression, as hand-written SQL with EXCEPT would."""
        if self.query.stratify is not None:
            return None
        self._unlinked = False
        q = self._set(self.query.criteria, "criteria")
        if q is None:
            return None
        s = self.alias("s")
        sid = exp.column("person_id", table=s)
        plan = exp.select().from_(q.subquery(s))
        if self._unlinked:  # a table may hold events of persons missing from PERSON
            p = self.alias("p")
            plan = plan.join(
                self.table(self.person, p),
                on=self.col(self.person, "person_id", p).eq(sid.copy()),
            )
        return plan, sid

    def compile(self) -> SqlQuery:
        if not self.gate_query():
            return SqlQuery(self.unsupported, self.notes, dialect=self.dialect)
        plan = self._driven() or self._set_plan()
        base, counted = plan if plan is not None else (None, None)
        if base is None:
            pred = self.criterion(self.query.criteria)
            base = exp.select().from_(self.table(self.person, self.outer))
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
            return SqlQuery(self.unsupported, self.notes, tuple(dims), dialect=self.dialect)
        return SqlQuery([], self.notes, tuple(dims), base, dialect=self.dialect)


def compile_count(
    query: Query,
    bindings: Bindings,
    schema: CdmSchema,
    vocab: VocabLookup,
    dialect: str = "duckdb",
    features: Mapping[str, bool] | None = None,
    deadline: Deadline | None = None,
) -> SqlQuery:
    """Compile a dated `query` into a person count over this OMOP database (with the
    features the OMOP model declares, unless narrower ones are given)."""
    if features is None:
        from hyperfed.adapters.omop.adapter import OmopAdapter

        features = OmopAdapter.declared_features()
    return _Planner(query, bindings, features, schema, vocab, dialect, deadline).compile()
