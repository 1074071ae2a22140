"""What a query becomes for a FHIR server: a tree of patient sets whose leaves are FHIR
searches (pure data, no I/O), and `RestQuery`, the native query whose `text()` lists the
requests.

A leaf `Events` is the patients with a matching event: the union of its `Source` searches —
one per resource type and code element that can carry its codes (``Condition?code=...``,
``Observation?component-code=...``, ``MedicationRequest?medication=`` the Medications found
by ``Medication?code=...``), code lists split over several requests when long. Each search
filters on the server as far as FHIR search can say it exactly (token lists, date prefixes
where the parameter covers the event's date, quantity prefixes per UCUM unit); what it
cannot say (age at the event, components' values, body sites, occurrences, windows around
another event, partial dates) is checked on the few elements fetched (`_elements`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import ClassVar, Literal
from urllib.parse import urlencode

from hyperfed.adapters.base import NativeQuery
from hyperfed.adapters.hql.model import AgeRange, Code, DateWindow, Occurrences, ValueRange

__all__ = [
    "REST_TYPES",
    "AllOf",
    "AnyOf",
    "Const",
    "Events",
    "Node",
    "NoneOf",
    "PersonTest",
    "RestQuery",
    "RestType",
    "Source",
]


@dataclass(frozen=True)
class RestType:
    """How one resource type is searched (FHIR R4 search parameter names)."""

    resource: str
    subject: str
    """the reference to the Patient: element and search parameter"""
    codes: tuple[tuple[str, str], ...]
    """(search parameter, what it matches: resource | component) of the main code elements"""
    dates: tuple[str, ...]
    """top-level elements with the event's date, in order of preference (`_elements`)"""
    date_param: str | None = None
    """a date parameter covering exactly the event's date (a superset is rechecked)"""
    value_param: str | None = None
    medication: bool = False
    body_site: Literal["bodySite", "series"] | None = None


REST_TYPES: tuple[RestType, ...] = (
    RestType(
        "Condition",
        "subject",
        (("code", "resource"),),
        ("onsetDateTime", "onsetPeriod", "recordedDate"),
        body_site="bodySite",
    ),
    RestType(
        "Observation",
        "subject",
        (("code", "resource"), ("component-code", "component")),
        ("effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued"),
        value_param="value-quantity",
    ),
    RestType(
        "Procedure",
        "subject",
        (("code", "resource"),),
        ("performedDateTime", "performedPeriod"),
        date_param="date",
        body_site="bodySite",
    ),
    RestType(
        "MedicationRequest",
        "subject",
        (("code", "resource"),),
        ("authoredOn",),
        date_param="authoredon",
        medication=True,
    ),
    RestType(
        "MedicationStatement",
        "subject",
        (("code", "resource"),),
        ("effectiveDateTime", "effectivePeriod"),
        date_param="effective",
        medication=True,
    ),
    RestType(
        "MedicationAdministration",
        "subject",
        (("code", "resource"),),
        ("effectiveDateTime", "effectivePeriod"),
        date_param="effective-time",
        medication=True,
    ),
    RestType(
        "Immunization",
        "patient",
        (("vaccine-code", "resource"),),
        ("occurrenceDateTime",),
        date_param="date",
    ),
    RestType("Encounter", "subject", (("type", "resource"),), ("period",), date_param="date"),
    RestType(
        "ImagingStudy",
        "subject",
        (("modality", "resource"), ("bodysite", "resource")),
        ("started",),
        date_param="started",
        body_site="series",
    ),
    RestType(
        "DiagnosticReport",
        "subject",
        (("code", "resource"),),
        ("effectiveDateTime", "effectivePeriod", "issued"),
    ),
    RestType(
        "AllergyIntolerance",
        "patient",
        (("code", "resource"),),
        ("onsetDateTime", "onsetPeriod", "recordedDate"),
    ),
)


@dataclass(frozen=True)
class Source:
    """One search of an event leaf, and what is checked on its results."""

    type: RestType
    params: tuple[tuple[str, str], ...]
    """criteria (token list, date and quantity prefixes)"""
    elements: tuple[str, ...]
    """the elements fetched (`_elements`): the subject and what the checks read"""
    part: Literal["resource", "component"] = "resource"
    codes: frozenset[tuple[str, str]] = frozenset()
    """the codes matched (rechecked on components and ImagingStudy series)"""
    medication_codes: tuple[tuple[str, str], ...] = ()
    """codes of the Medication to find first (``Medication?code=...``), for `medication=`"""
    value: ValueRange | None = None
    during: DateWindow | None = None
    body_site: Code | None = None
    needs_day: bool = False
    needs_key: bool = False
    """occurrences count resources: an ImagingStudy made for a Procedure is that Procedure"""

    @property
    def has_able(self) -> bool:
        """Whether ``_has:Type:subject:param=value`` alone says what this source finds."""
        if self.medication_codes or len(self.params) != 1 or self.value or self.body_site:
            return False
        return self.during is None

    def request(self, page_size: int) -> str:
        if self.medication_codes:
            meds = ",".join(f"{s}|{c}" for s, c in self.medication_codes)
            head = f"{self.type.resource}?medication={{ids of Medication?code={meds}}}"
            rest = urlencode([*self.params, ("_elements", ",".join(self.elements))])
            return f"{head}&{rest}&_count={page_size}"
        query = [*self.params, ("_elements", ",".join(self.elements)), ("_count", str(page_size))]
        return f"{self.type.resource}?{urlencode(query, safe='|,:/')}"


@dataclass(frozen=True)
class Events:
    path: str
    sources: tuple[Source, ...]
    age: AgeRange | None = None
    occurrences: Occurrences | None = None
    anchor: Events | None = None
    days_before: int = 0
    days_after: int = 0

    @property
    def has_able(self) -> bool:
        return self.age is None and self.occurrences is None and self.anchor is None


@dataclass(frozen=True)
class PersonTest:
    sex: str | None = None
    age: AgeRange | None = None


@dataclass(frozen=True)
class Const:
    value: bool


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class NoneOf:
    part: Node


Node = Events | PersonTest | Const | AllOf | AnyOf | NoneOf


def _leaves(node: Node) -> list[Events]:
    if isinstance(node, Events):
        return [node, *(_leaves(node.anchor) if node.anchor is not None else [])]
    if isinstance(node, AllOf | AnyOf):
        return [leaf for p in node.parts for leaf in _leaves(p)]
    if isinstance(node, NoneOf):
        return _leaves(node.part)
    return []


def needs_patients(node: Node, stratified: bool) -> bool:
    """Whether evaluating `node` reads the Patient list (ids, gender, birth date)."""
    if stratified:
        return True
    if isinstance(node, PersonTest | NoneOf):
        return True
    if isinstance(node, Const):
        return node.value
    if isinstance(node, AllOf | AnyOf):
        return any(needs_patients(p, False) for p in node.parts)
    return any(leaf.age is not None for leaf in _leaves(node))


@dataclass
class RestQuery(NativeQuery):
    base: str = ""
    root: Node = field(default_factory=lambda: Const(False))
    page_size: int = 1000
    codes_per_request: int = 50
    stratify_bands: tuple[int, ...] = ()
    as_of: dt.date | None = None
    COMMENT: ClassVar[str] = "#"

    def text(self) -> str:
        lines = [f"# FHIR search requests to {self.base} (GET, each paged with next links)"]
        if needs_patients(self.root, bool(self.strata)):
            lines.append(f"Patient?_elements=gender,birthDate&_count={self.page_size}")
        for leaf in _leaves(self.root):
            lines.append(f"# {leaf.path}: patients with a resource any of these finds")
            lines += [s.request(self.page_size) for s in leaf.sources] or ["# (none)"]
        lines.append(
            "# searches are first counted (_summary=count); when each criterion of a "
            "conjunction has one search with results, one Patient?_has:...&_summary=count "
            "request counts the patients"
        )
        return "\n".join(lines)
