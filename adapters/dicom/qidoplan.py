"""HQL -> a plan of QIDO-RS searches against a PACS (DICOMweb), and what the node combines.

QIDO-RS can match only a few attributes and has no AND across series, OR, NOT, counts or
persons. So every event criterion becomes **one series search** that asks the server for
what it can match for sure (the study date range; one modality; `server_match` keys given
one value) and requests (`includefield`) every attribute the criterion tests; the node then
tests all of the criterion's same-series conditions itself on each returned series — the
same `hyperfed.adapters.dicom.matching` conditions the index sources run as SQL, so a PACS
and an index of the same files count the same persons. Criteria about the person (sex, age
on the reference date), negation and strata need the persons: **one study search** of the
whole PACS (PatientID, PatientSex, PatientBirthDate, PatientAge). Identical searches are
made once. The node combines the searches' patients with set algebra; only the count leaves.

`QidoQuery.text()` lists the requests (first page; paging follows `limit`/`offset`) and what
the node does with each, which `hyperfed node explain` prints.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal
from urllib.parse import urlencode

from hyperfed.adapters.base import NativeQuery
from hyperfed.adapters.compiler import CriterionCompiler, event_binding
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.dicom.bindings import DicomBinding
from hyperfed.adapters.dicom.matching import (
    DCM,
    AgeBetween,
    Between,
    Condition,
    DateBetween,
    Either,
    OneOf,
    Present,
    QidoSpace,
    SeriesMatch,
    SeriesMatcher,
)
from hyperfed.adapters.dicom.qido import DateRange, SearchValue, search_params
from hyperfed.adapters.hql.bindings import BindingBase, Bindings, CodesBinding, SexBinding
from hyperfed.adapters.hql.model import (
    AgeCriterion,
    EventCriterion,
    NotCriterion,
    Occurrences,
    Query,
    Stratify,
)

__all__ = [
    "PAge",
    "PAnchor",
    "PAnd",
    "PConst",
    "PEvent",
    "PNode",
    "PNot",
    "POr",
    "PSex",
    "QidoQuery",
    "Search",
    "compile_qido_count",
    "describe_condition",
]

_SEX_CODE = {"female": "F", "male": "M", "other": "O"}
SERIES_FIELDS = ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "StudyDate")
PERSON_FIELDS = (
    "PatientID",
    "StudyInstanceUID",
    "StudyDate",
    "PatientSex",
    "PatientBirthDate",
    "PatientAge",
    "NumberOfStudyRelatedSeries",
)


@dataclass(frozen=True)
class Search:
    """One QIDO-RS search: its level, what the server matches, what it returns."""

    level: Literal["series", "studies"]
    filters: tuple[tuple[str, SearchValue], ...] = ()
    includefield: tuple[str, ...] = ()

    def params(self) -> list[tuple[str, str]]:
        return search_params(dict(self.filters), self.includefield)

    def url(self, base: str, page_size: int) -> str:
        paging = [("limit", str(page_size)), ("offset", "0")]
        return f"{base.rstrip('/')}/{self.level}?{urlencode([*self.params(), *paging])}"


@dataclass(frozen=True)
class PConst:
    value: bool


@dataclass(frozen=True)
class PSex:
    sex: str | None  # F, M, O; None: unknown


@dataclass(frozen=True)
class PAge:
    lo: int | None
    hi: int | None


@dataclass(frozen=True)
class PAnchor:
    search: int
    match: SeriesMatch
    days_before: int
    days_after: int


@dataclass(frozen=True)
class PEvent:
    search: int
    match: SeriesMatch
    occurrences: Occurrences | None = None
    anchor: PAnchor | None = None
    positive: bool = True


@dataclass(frozen=True)
class PAnd:
    parts: tuple[PNode, ...]


@dataclass(frozen=True)
class POr:
    parts: tuple[PNode, ...]


@dataclass(frozen=True)
class PNot:
    part: PNode


PNode = PConst | PSex | PAge | PEvent | PAnd | POr | PNot


@dataclass
class QidoQuery(NativeQuery):
    """The searches, the combination, and how to report strata."""

    base_url: str = ""
    page_size: int = 100
    searches: list[Search] = field(default_factory=list)
    root: PNode | None = None
    persons: int | None = None
    """the index of the study search that lists every patient, when the plan needs it"""
    as_of: dt.date | None = None
    stratify: Stratify | None = None
    COMMENT: ClassVar[str] = "#"

    def text(self) -> str:
        lines = [
            f"# QIDO-RS searches; each is paged (limit={self.page_size}, offset += "
            f"{self.page_size} until a page comes back short)"
        ]
        tests: dict[int, list[str]] = {}
        for event in _events(self.root):
            tests.setdefault(event.search, []).append(_describe_match(event.match))
            if event.anchor is not None:
                tests.setdefault(event.anchor.search, []).append(
                    _describe_match(event.anchor.match)
                )
        for i, search in enumerate(self.searches, start=1):
            lines.append(f"[{i}] GET {search.url(self.base_url, self.page_size)}")
            if i - 1 == self.persons:
                lines.append("    on this node: every patient's sex and birth year")
            for test in dict.fromkeys(tests.get(i - 1, [])):
                lines.append(f"    on this node, each series: {test}")
        if self.root is not None:
            lines.append(f"# persons counted: {_formula(self.root)}")
        if self.stratify is not None:
            lines.append(f"# strata: {', '.join(self.stratify.by)} (computed on this node)")
        return "\n".join(lines)


def _events(node: PNode | None) -> list[PEvent]:
    if isinstance(node, PEvent):
        return [node]
    if isinstance(node, PAnd | POr):
        return [e for p in node.parts for e in _events(p)]
    if isinstance(node, PNot):
        return _events(node.part)
    return []


def describe_condition(c: Condition) -> str:
    if isinstance(c, Either):
        return "(" + " or ".join(describe_condition(p) for p in c.parts) + ")"
    if isinstance(c, AgeBetween):
        return f"age at the study in [{_bound(c.lo)}, {_bound(c.hi)}]"
    if isinstance(c, OneOf):
        vals = ", ".join(str(v) for v in c.values)
        return (
            f"{c.attr.keyword} = {vals}" if len(c.values) == 1 else f"{c.attr.keyword} in ({vals})"
        )
    if isinstance(c, Between):
        return f"{c.attr.keyword} in [{_bound(c.lo)}, {_bound(c.hi)}]"
    if isinstance(c, DateBetween):
        return f"{c.attr.keyword} in [{_bound(c.lo)}, {_bound(c.hi)}]"
    assert isinstance(c, Present)
    return f"{c.attr.keyword} {'present' if c.present else 'absent'}"


def _bound(v: object) -> str:
    return "-" if v is None else str(v)


def _describe_match(m: SeriesMatch) -> str:
    return " and ".join(describe_condition(c) for c in m.conditions) or "any series"


def _formula(node: PNode) -> str:
    if isinstance(node, PConst):
        return "every patient" if node.value else "nobody"
    if isinstance(node, PSex):
        return f"sex {node.sex or 'unknown'}"
    if isinstance(node, PAge):
        return f"age in [{_bound(node.lo)}, {_bound(node.hi)}]"
    if isinstance(node, PEvent):
        text = f"patients of [{node.search + 1}]"
        if node.anchor is not None:
            a = node.anchor
            text += (
                f" with a study from {a.days_before} days before to {a.days_after} days after "
                f"one of [{a.search + 1}]"
            )
        if node.occurrences is not None:
            hi = f"..{node.occurrences.max}" if node.occurrences.max is not None else "+"
            text += f" ({node.occurrences.min}{hi} studies)"
        return text
    if isinstance(node, PNot):
        return f"not {_formula(node.part)}"
    joiner = " and " if isinstance(node, PAnd) else " or "
    return "(" + joiner.join(_formula(p) for p in node.parts) + ")"


class _Compiler(CriterionCompiler[PNode]):
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
        server_match: Sequence[str],
        deadline: Deadline | None,
    ) -> None:
        super().__init__(query, bindings, features, deadline)
        self.matcher = SeriesMatcher(QidoSpace(), self.reject)
        self.server_match = frozenset(server_match)
        self.searches: list[Search] = []
        self.needs_persons = False
        self._negated = False

    def search(self, s: Search) -> int:
        if s not in self.searches:
            self.searches.append(s)
        return self.searches.index(s)

    def series_search(self, match: SeriesMatch) -> Search:
        filters: dict[str, SearchValue] = {}
        for c in match.conditions:
            if isinstance(c, DateBetween) and c.attr.keyword == "StudyDate":
                filters["StudyDate"] = DateRange(c.lo, c.hi)
            elif (
                isinstance(c, OneOf)
                and c.attr.keyword in self.server_match
                and len(c.values) == 1
                and isinstance(c.values[0], str)
                and c.attr.keyword not in filters
            ):
                filters[c.attr.keyword] = c.values[0]
        fields = [*SERIES_FIELDS, *(a.keyword for a in match.attributes())]
        if match.reads_age():
            fields += ["PatientAge", "PatientBirthDate"]
        return Search("series", tuple(filters.items()), tuple(dict.fromkeys(fields)))

    # -- combinators -----------------------------------------------------------------------
    def conjunction(self, parts: Sequence[PNode]) -> PNode:
        return parts[0] if len(parts) == 1 else PAnd(tuple(parts))

    def disjunction(self, parts: Sequence[PNode]) -> PNode:
        return parts[0] if len(parts) == 1 else POr(tuple(parts))

    def negation(self, part: PNode) -> PNode:
        self.needs_persons = True
        return PNot(part)

    def always(self) -> PNode:
        self.needs_persons = True
        return PConst(True)

    def never(self) -> PNode:
        return PConst(False)

    def none_of(self, c: NotCriterion, path: str) -> PNode:
        self._negated = not self._negated
        try:
            return super().none_of(c, path)
        finally:
            self._negated = not self._negated

    def age_today(self, c: AgeCriterion, path: str) -> PNode:
        self.needs_persons = True
        return PAge(c.age.min, c.age.max)

    def sex(self, e: EventCriterion, binding: SexBinding, path: str) -> PNode:
        self.needs_persons = True
        return PSex(_SEX_CODE.get(binding.sex))

    def coded(self, e: EventCriterion, binding: CodesBinding, path: str) -> PNode:
        return self._series_event(e, binding, path)

    def bound(self, e: EventCriterion, binding: DicomBinding, path: str) -> PNode:
        return self._series_event(e, binding, path)

    def _series_event(self, e: EventCriterion, binding: BindingBase, path: str) -> PNode:
        match = self.matcher.match(e, binding, path)
        if match is None:
            return self.never()
        anchor = None
        if e.within is not None:
            of_binding = event_binding(e.within.of, self.bindings)
            assert of_binding is not None  # the base admitted the anchor
            of = self.matcher.match(e.within.of, of_binding, f"{path}.within.of")
            if of is None:
                return self.never()
            anchor = PAnchor(
                self.search(self.series_search(of)), of, e.within.days_before, e.within.days_after
            )
        index = self.search(self.series_search(match))
        return PEvent(index, match, e.occurrences, anchor, positive=not self._negated)

    def compile(self, base_url: str, page_size: int) -> QidoQuery:
        if not self.gate_query():
            return QidoQuery(self.unsupported, self.notes)
        root = self.criterion(self.query.criteria)
        stratify = self.query.stratify
        if stratify is not None:
            self.needs_persons = True
        dims = tuple(stratify.by) if stratify is not None else ()
        if self.unsupported:
            return QidoQuery(self.unsupported, self.notes, dims)
        persons = None
        if self.needs_persons:
            persons = self.search(Search("studies", (), PERSON_FIELDS))
        return QidoQuery(
            [],
            self.notes,
            dims,
            base_url=base_url,
            page_size=page_size,
            searches=list(self.searches),
            root=root,
            persons=persons,
            as_of=self.as_of,
            stratify=stratify,
        )


def compile_qido_count(
    query: Query,
    bindings: Bindings,
    features: Mapping[str, bool],
    base_url: str,
    *,
    page_size: int = 100,
    server_match: Sequence[str] = ("Modality",),
    deadline: Deadline | None = None,
) -> QidoQuery:
    """The QIDO-RS plan of a dated `query` against the DICOMweb service at `base_url`;
    `server_match`: attributes the PACS is trusted to match (the node re-tests them)."""
    c = _Compiler(query, bindings, features, server_match, deadline)
    return c.compile(base_url, page_size)
