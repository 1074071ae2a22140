"""An in-memory data model, used only in tests: plain Python over a list of patient dicts.

It proves that the adapter contract, the criterion-compiler base, the node service and the
hub work with a model that is not OMOP, and it is an independent oracle: its semantics are
written directly from the README's rules, with no SQL, so the same battery run through it
and through OMOP on one population must agree.

A patient::

    {"id": 7, "sex": "female" | "male" | "other" | "unknown" | None,
     "birth": (year, month | None, day | None) | None,
     "events": [{"codes": {(system, code), ...}, "date": date,
                 "value": float | None, "unit": "g/dL" | None}, ...]}

The vocabulary: `descendants[(system, code)]` (the code and every code below it) and
`maps_to[(system, code)]` (non-standard -> standard codes), as an OMOP node's would be.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hyperfed.adapters.base import Adapter, ExactCount, NativeQuery
from hyperfed.adapters.compiler import CriterionCompiler, event_binding
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.hql.bindings import Bindings, CodesBinding, SexBinding
from hyperfed.adapters.hql.model import AgeCriterion, AgeRange, EventCriterion, Query
from hyperfed.adapters.hql.strata import age_band_labels
from hyperfed.adapters.hql.systems import canonical_system
from hyperfed.adapters.units import compatible_units, range_in

__all__ = ["MemoryAdapter", "Patient", "Vocabulary"]

Patient = dict[str, Any]
CodeKey = tuple[str, str]
Pred = Callable[[Patient], bool]


@dataclass
class Vocabulary:
    descendants: dict[CodeKey, set[CodeKey]] = field(default_factory=dict)
    maps_to: dict[CodeKey, set[CodeKey]] = field(default_factory=dict)

    def matching(self, code: CodeKey, with_descendants: bool) -> set[CodeKey]:
        """The codes an event may carry to match `code`: the code (or its standard codes)
        and, with descendants, everything below them."""
        roots = {code} | self.maps_to.get(code, set())
        found = set(roots)
        if with_descendants:
            for r in roots:
                found |= self.descendants.get(r, set())
        return found


def age_on(birth: tuple[int, int | None, int | None] | None, day: dt.date) -> int | None:
    if birth is None:
        return None
    year, month, dom = birth[0], birth[1] or 1, birth[2] or 1
    return day.year - year - ((day.month, day.day) < (month, dom))


def _in_range(age: int | None, r: AgeRange) -> bool:
    if age is None:
        return False
    return (r.min is None or age >= r.min) and (r.max is None or age <= r.max)


@dataclass
class MemoryQuery(NativeQuery):
    predicate: Pred | None = None
    query: Query | None = None

    def text(self) -> str:
        return "python predicate over patients"


class _Compiler(CriterionCompiler[Pred]):
    MODEL = "memory"

    def __init__(self, query: Query, bindings: Bindings, features: Mapping[str, bool],
                 vocab: Vocabulary, deadline: Deadline | None) -> None:  # fmt: skip
        super().__init__(query, bindings, features, deadline)
        self.vocab = vocab

    def conjunction(self, parts: Sequence[Pred]) -> Pred:
        return lambda p: all(f(p) for f in parts)

    def disjunction(self, parts: Sequence[Pred]) -> Pred:
        return lambda p: any(f(p) for f in parts)

    def negation(self, part: Pred) -> Pred:
        return lambda p: not part(p)

    def always(self) -> Pred:
        return lambda p: True

    def never(self) -> Pred:
        return lambda p: False

    def age_today(self, c: AgeCriterion, path: str) -> Pred:
        return lambda p: _in_range(age_on(p["birth"], self.as_of), c.age)

    def sex(self, e: EventCriterion, binding: SexBinding, path: str) -> Pred:
        if binding.sex == "unknown":
            return lambda p: p["sex"] in (None, "unknown")
        return lambda p: p["sex"] == binding.sex

    def _codes(self, e: EventCriterion, binding: CodesBinding) -> set[CodeKey]:
        found: set[CodeKey] = set()
        for c in binding.codes:
            found |= self.vocab.matching((canonical_system(c.system).uri, c.code), e.descendants)
        return found

    def _matching_events(self, e: EventCriterion, codes: set[CodeKey]) -> Callable[
        [Patient], list[dict[str, Any]]
    ]:  # fmt: skip
        def ok(p: Patient, ev: dict[str, Any]) -> bool:
            if not (ev["codes"] & codes):
                return False
            day: dt.date = ev["date"]
            if e.during is not None and (
                (e.during.from_ is not None and day < e.during.from_)
                or (e.during.to is not None and day > e.during.to)
            ):
                return False
            if e.age is not None and not _in_range(age_on(p["birth"], day), e.age):
                return False
            return e.value is None or self._value_ok(e, ev)

        return lambda p: [ev for ev in p["events"] if ok(p, ev)]

    def _value_ok(self, e: EventCriterion, ev: dict[str, Any]) -> bool:
        assert e.value is not None
        value = ev.get("value")
        if value is None:
            return False
        lo, hi = e.value.min, e.value.max
        if e.value.unit is not None:
            units = {u.code for u in compatible_units(e.value.unit)}
            if ev.get("unit") not in units:
                return False
            lo, hi = range_in(lo, hi, e.value.unit, ev["unit"])
        return (lo is None or value >= lo) and (hi is None or value <= hi)

    def coded(self, e: EventCriterion, binding: CodesBinding, path: str) -> Pred:
        events = self._matching_events(e, self._codes(e, binding))
        anchors: Callable[[Patient], list[dict[str, Any]]] | None = None
        if e.within is not None:
            of = e.within.of
            of_binding = event_binding(of, self.bindings)
            assert isinstance(of_binding, CodesBinding)  # the base admitted only events
            anchors = self._matching_events(of, self._codes(of, of_binding))
        w = e.within
        occ = e.occurrences

        def holds(p: Patient) -> bool:
            found = events(p)
            if anchors is not None and w is not None:
                days = [a["date"] for a in anchors(p)]
                found = [
                    ev
                    for ev in found
                    if any(
                        d - dt.timedelta(days=w.days_before)
                        <= ev["date"]
                        <= d + dt.timedelta(days=w.days_after)
                        for d in days
                    )
                ]
            n = len(found)
            if occ is None:
                return n >= 1
            return n >= occ.min and (occ.max is None or n <= occ.max)

        return holds


class MemoryAdapter(Adapter):
    MODEL: ClassVar[str] = "memory"
    SUPPORTS_TEMPORAL = True
    SUPPORTS_RELATIVE_WINDOWS = True
    SUPPORTS_VALUES = True
    SUPPORTS_OCCURRENCES = True
    SUPPORTS_DESCENDANTS = True
    SUPPORTS_STRATIFY = True

    def __init__(self, patients: Iterable[Patient], vocab: Vocabulary | None = None) -> None:
        self.patients = list(patients)
        self.vocab = vocab or Vocabulary()

    @classmethod
    def from_source(cls, source: str, **options: Any) -> MemoryAdapter:
        raise NotImplementedError("build a MemoryAdapter from patient dicts")

    def compile(
        self, query: Query, bindings: Bindings, deadline: Deadline | None = None
    ) -> MemoryQuery:
        c = _Compiler(query, bindings, self.features(), self.vocab, deadline)
        if not c.gate_query():
            return MemoryQuery(c.unsupported, c.notes)
        pred = c.criterion(query.criteria)
        dims = tuple(query.stratify.by) if query.stratify else ()
        return MemoryQuery(c.unsupported, c.notes, dims, pred, query)

    def run(self, native: NativeQuery, deadline: Deadline | None = None) -> ExactCount:
        assert isinstance(native, MemoryQuery) and native.predicate and native.query
        chosen = [p for p in self.patients if native.predicate(p)]
        if not native.strata:
            return ExactCount(len(chosen))
        query = native.query
        assert query.stratify is not None and query.as_of is not None
        bands, labels = query.stratify.age_bands, age_band_labels(query.stratify.age_bands)
        strata: dict[tuple[str, ...], int] = {}
        for p in chosen:
            key = []
            for dim in native.strata:
                if dim == "sex":
                    key.append(p["sex"] if p["sex"] in ("female", "male", "other") else "unknown")
                else:
                    age = age_on(p["birth"], query.as_of)
                    band = (
                        "unknown"
                        if age is None
                        else labels[max((i for i, lo in enumerate(bands) if age >= lo), default=0)]
                    )
                    key.append(band)
            strata[tuple(key)] = strata.get(tuple(key), 0) + 1
        return ExactCount(len(chosen), strata)

    def describe(self) -> list[str]:
        return [f"in-memory test data, {len(self.patients)} patients"]
