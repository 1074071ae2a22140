"""HQL -> FHIR searches (pure): a `CriterionCompiler[Node]` whose criteria become patient-set
nodes (`hyperfed.adapters.fhir.rest.plan`). The base walks, gates and keeps paths and notes;
this class says which searches find each criterion's events."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from hyperfed.adapters.compiler import CriterionCompiler, event_binding
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.fhir.compiler import UCUM
from hyperfed.adapters.fhir.rest.plan import (
    AllOf,
    AnyOf,
    Const,
    Events,
    Node,
    NoneOf,
    PersonTest,
    RestQuery,
    RestType,
    Source,
)
from hyperfed.adapters.fhir.vocab import CodeRef, Expansion, identity
from hyperfed.adapters.hql.bindings import Bindings, CodesBinding, SexBinding
from hyperfed.adapters.hql.model import AgeCriterion, Code, EventCriterion, Query
from hyperfed.adapters.units import compatible_units, range_in

__all__ = ["RestCompiler", "ServerSearch", "compile_rest"]


@dataclass(frozen=True)
class ServerSearch:
    """What the server searches (from its CapabilityStatement) and how requests are cut."""

    types: tuple[RestType, ...]
    params: Mapping[str, frozenset[str]]
    """resource type -> the search parameters it declares"""
    page_size: int = 1000
    codes_per_request: int = 50
    below: bool = False
    """the server expands descendants itself (`:below` on token parameters)"""

    def supports(self, resource: str, param: str | None) -> bool:
        return param is not None and param in self.params.get(resource, frozenset())


def _number(x: float) -> str:
    return f"{x:.12g}"


def _pair(token: str) -> tuple[str, str]:
    system, _, code = token.partition("|")
    return system, code


def _chunks(values: Sequence[str], size: int) -> Iterator[str]:
    for i in range(0, len(values), size):
        yield ",".join(values[i : i + size])


class RestCompiler(CriterionCompiler[Node]):
    MODEL = "fhir"

    def __init__(
        self,
        query: Query,
        bindings: Bindings,
        features: Mapping[str, bool],
        server: ServerSearch,
        expansions: Mapping[CodeRef, Expansion],
        deadline: Deadline | None = None,
    ) -> None:
        super().__init__(query, bindings, features, deadline)
        self.server = server
        self.expansions = expansions

    # -- combinators -------------------------------------------------------------------------
    def conjunction(self, parts: Sequence[Node]) -> Node:
        if any(isinstance(p, Const) and not p.value for p in parts):
            return Const(False)
        kept = tuple(p for p in parts if not isinstance(p, Const))
        return kept[0] if len(kept) == 1 else (AllOf(kept) if kept else Const(True))

    def disjunction(self, parts: Sequence[Node]) -> Node:
        if any(isinstance(p, Const) and p.value for p in parts):
            return Const(True)
        kept = tuple(p for p in parts if not isinstance(p, Const))
        return kept[0] if len(kept) == 1 else (AnyOf(kept) if kept else Const(False))

    def negation(self, part: Node) -> Node:
        return Const(not part.value) if isinstance(part, Const) else NoneOf(part)

    def always(self) -> Node:
        return Const(True)

    def never(self) -> Node:
        return Const(False)

    def age_today(self, c: AgeCriterion, path: str) -> Node:
        return PersonTest(age=c.age)

    def sex(self, e: EventCriterion, binding: SexBinding, path: str) -> Node:
        return PersonTest(sex=binding.sex)

    # -- events ------------------------------------------------------------------------------
    def coded(self, e: EventCriterion, binding: CodesBinding, path: str) -> Node:
        anchor = None
        if e.within is not None:
            of = e.within.of
            of_binding = event_binding(of, self.bindings)
            assert isinstance(of_binding, CodesBinding)  # the base admitted only event anchors
            anchor = self.leaf(of, of_binding.codes, f"{path}.within.of", anchor=True)
        leaf = self.leaf(e, binding.codes, path, anchor=False)
        if anchor is not None:
            leaf = Events(
                path,
                leaf.sources,
                e.age,
                e.occurrences,
                anchor,
                e.within.days_before if e.within else 0,
                e.within.days_after if e.within else 0,
            )
        return leaf

    def tokens(self, e: EventCriterion, codes: Sequence[Code]) -> tuple[list[str], bool]:
        """Token values (``system|code``) to search, and whether they carry `:below`."""
        if self.server.below and e.descendants:
            return sorted({f"{c.system}|{c.code}" for c in codes}), True
        wanted: set[tuple[str, str]] = set()
        for c in codes:
            ref = CodeRef(c.system, c.code, e.descendants)
            expansion = self.expansions.get(ref) or identity(ref)
            for n in expansion.notes:
                self.note(n)
            wanted |= expansion.codes
        return sorted(f"{s}|{c}" for s, c in wanted), False

    def leaf(self, e: EventCriterion, codes: Sequence[Code], path: str, anchor: bool) -> Events:
        tokens, below = self.tokens(e, codes)
        pairs = frozenset(_pair(t) for t in tokens)
        needs_day = anchor or e.during is not None or e.age is not None or e.within is not None
        needs_key = e.occurrences is not None
        sources: list[Source] = []
        skipped_value = skipped_site = False
        for t in self.server.types:
            if e.value is not None and t.value_param is None:
                skipped_value = True
                continue
            if e.body_site is not None and t.body_site is None:
                skipped_site = True
                continue
            common: list[tuple[str, str]] = []
            if e.during is not None and self.server.supports(t.resource, t.date_param):
                assert t.date_param is not None
                if e.during.from_ is not None:
                    common.append((t.date_param, f"ge{e.during.from_.isoformat()}"))
                if e.during.to is not None:
                    common.append((t.date_param, f"le{e.during.to.isoformat()}"))
            elements = [t.subject, *(t.dates if needs_day else ())]
            if e.body_site is not None:
                elements += ["series", "modality"] if t.body_site == "series" else ["bodySite"]
            if needs_key and t.resource == "ImagingStudy":
                elements.append("procedureReference")
            for param, part in t.codes:
                kind: Literal["resource", "component"] = (
                    "component" if part == "component" else "resource"
                )
                if not self.server.supports(t.resource, param):
                    continue
                name = f"{param}:below" if below else param
                els = [*elements, *(["component"] if part == "component" else [])]
                for value_params, value_el in self._value_params(e, t, part):
                    for chunk in _chunks(tokens, self.server.codes_per_request):
                        sources.append(
                            Source(
                                t,
                                ((name, chunk), *common, *value_params),
                                tuple(dict.fromkeys([*els, *value_el])),
                                kind,
                                pairs,
                                value=e.value,
                                during=e.during,
                                body_site=e.body_site,
                                needs_day=needs_day,
                                needs_key=needs_key,
                            )
                        )
            if t.medication and self.server.supports(t.resource, "medication") and not below:
                for i in range(0, len(tokens), self.server.codes_per_request):
                    chunk_pairs = tuple(
                        _pair(x) for x in tokens[i : i + self.server.codes_per_request]
                    )
                    sources.append(
                        Source(
                            t,
                            tuple(common),
                            tuple(dict.fromkeys(elements)),
                            "resource",
                            pairs,
                            medication_codes=chunk_pairs,
                            during=e.during,
                            needs_day=needs_day,
                            needs_key=needs_key,
                        )
                    )
        if skipped_value:
            self.note(
                f"{path}: a value constraint applies to Observations (and their components); "
                "other matching resources are not counted"
            )
        if skipped_site:
            self.note(
                f"{path}: a body site is recorded on ImagingStudy series, Procedures and "
                "Conditions; other matching resources are not counted"
            )
        return Events(path, tuple(sources), e.age, e.occurrences)

    def _value_params(
        self, e: EventCriterion, t: RestType, part: str
    ) -> list[tuple[tuple[tuple[str, str], ...], tuple[str, ...]]]:
        """(quantity parameters, extra elements) per search: one search per compatible UCUM
        unit for an Observation's own value; components' values are checked on the
        fetched components."""
        if e.value is None:
            return [((), ())]
        if e.value.unit is not None:
            self.note(
                f"values are compared in units compatible with {e.value.unit!r}; "
                "records without a recognised unit are not counted"
            )
        if part == "component" or not self.server.supports(t.resource, t.value_param):
            return [((), ("valueQuantity",) if part == "resource" else ())]
        assert t.value_param is not None
        v = e.value
        if v.unit is None:
            params = [(t.value_param, f"ge{_number(v.min)}")] if v.min is not None else []
            params += [(t.value_param, f"le{_number(v.max)}")] if v.max is not None else []
            return [(tuple(params), ("valueQuantity",))]
        out: list[tuple[tuple[tuple[str, str], ...], tuple[str, ...]]] = []
        for u in compatible_units(v.unit):
            lo, hi = range_in(v.min, v.max, v.unit, u.code)
            params = [(t.value_param, f"ge{_number(lo)}|{UCUM}|{u.code}")] if lo is not None else []
            if hi is not None:
                params.append((t.value_param, f"le{_number(hi)}|{UCUM}|{u.code}"))
            out.append((tuple(params), ("valueQuantity",)))
        return out


def compile_rest(
    query: Query,
    bindings: Bindings,
    features: Mapping[str, bool],
    server: ServerSearch,
    expansions: Mapping[CodeRef, Expansion],
    base: str,
    deadline: Deadline | None = None,
) -> RestQuery:
    c = RestCompiler(query, bindings, features, server, expansions, deadline)
    dims = tuple(query.stratify.by) if query.stratify is not None else ()
    bands = tuple(query.stratify.age_bands) if query.stratify is not None else ()
    if not c.gate_query():
        return RestQuery(c.unsupported, c.notes, dims, base=base)
    root = c.criterion(query.criteria)
    return RestQuery(
        c.unsupported,
        c.notes,
        dims,
        base=base,
        root=root,
        page_size=server.page_size,
        codes_per_request=server.codes_per_request,
        stratify_bands=bands,
        as_of=query.as_of,
    )
