"""Running a `RestQuery` against a FHIR server: patient-id sets combined in Python where
search alone cannot express the logic.

- A conjunction of criteria that each come down to one search with results (after counting
  every search with ``_summary=count``), and of sex or minimum-age tests, is one request:
  ``Patient?gender=female&birthdate=le1965-01-01&_has:Condition:subject:code=...
  &_summary=count``.
- Otherwise every search is paged (``_elements``: the subject and what the checks read) into
  the events per patient; ``not`` is the Patient list minus the set; ages and sexes come from
  one paged ``Patient?_elements=gender,birthDate``.

Semantics are those of the file path (`hyperfed.adapters.fhir.compiler`): an event's day is
the first day its date allows, ages are whole years from the first day the birth date
allows, an event is a resource (an Observation component; an ImagingStudy made for a
Procedure is that Procedure). Events are attributed to the Patient their reference names.
"""

from __future__ import annotations

import datetime as dt
import re
from calendar import monthrange
from collections.abc import Iterator
from typing import Any

from hyperfed.adapters.base import ExactCount
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.fhir.compiler import UCUM
from hyperfed.adapters.fhir.rest.client import FhirClient
from hyperfed.adapters.fhir.rest.plan import (
    AllOf,
    AnyOf,
    Const,
    Events,
    Node,
    NoneOf,
    PersonTest,
    RestQuery,
    Source,
)
from hyperfed.adapters.hql.model import AgeRange, Code, ValueRange
from hyperfed.adapters.hql.strata import age_band_labels
from hyperfed.adapters.hql.systems import canonical_system
from hyperfed.adapters.sql import date_key
from hyperfed.adapters.units import UNITS, range_in, unit

__all__ = ["Evaluator", "first_day"]

_REF = re.compile(r"(?:^|/)Patient/([A-Za-z0-9.-]{1,64})(?:/_history/[^/]+)?$")
_SEXES = ("female", "male", "other")
Person = tuple[str | None, int | None]  # gender, birth key (yyyymmdd of the first day)


def first_day(text: Any) -> dt.date | None:
    """The first day a FHIR date / dateTime allows (``2019`` -> 2019-01-01)."""
    if not isinstance(text, str):
        return None
    t = text.strip()
    try:
        if len(t) >= 10:
            return dt.date.fromisoformat(t[:10])
        if len(t) == 7:
            return dt.date.fromisoformat(f"{t}-01")
        if len(t) == 4:
            return dt.date(int(t), 1, 1)
    except ValueError:
        return None
    return None


def _patient_id(reference: Any) -> str | None:
    ref = reference.get("reference") if isinstance(reference, dict) else None
    m = _REF.search(ref) if isinstance(ref, str) else None
    return m.group(1) if m else None


def _codings(concept: Any) -> Iterator[tuple[str, str]]:
    """(canonical system, code) of a CodeableConcept or a Coding."""
    items = concept.get("coding", [concept]) if isinstance(concept, dict) else []
    for c in items if isinstance(items, list) else []:
        if isinstance(c, dict) and isinstance(c.get("code"), str):
            try:
                system = canonical_system(str(c.get("system", ""))).uri
            except ValueError:
                system = str(c.get("system"))
            yield system, c["code"]


def _value_ok(q: Any, v: ValueRange) -> bool:
    if not isinstance(q, dict) or not isinstance(q.get("value"), int | float):
        return False
    value, lo, hi = float(q["value"]), v.min, v.max
    if v.unit is not None:
        code = q.get("code")
        if q.get("system") != UCUM or code not in UNITS:
            return False
        if UNITS[code].dimension != unit(v.unit).dimension:
            return False
        lo, hi = range_in(lo, hi, v.unit, str(code))
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def _age_ok(birth: int | None, day: dt.date, r: AgeRange) -> bool:
    if birth is None:
        return False
    key = date_key(day)
    return (r.min is None or birth <= key - r.min * 10000) and (
        r.max is None or birth > key - (r.max + 1) * 10000
    )


def _site(concept: Any, site: Code) -> bool:
    return (canonical_system(site.system).uri, site.code) in set(_codings(concept))


class Evaluator:
    """One run of a `RestQuery` (single use; not shared between threads)."""

    def __init__(self, client: FhirClient, query: RestQuery, deadline: Deadline | None) -> None:
        self.client = client
        self.query = query
        self.deadline = deadline
        self._patients: dict[str, Person] | None = None

    # -- patients ------------------------------------------------------------------------------
    def patients(self) -> dict[str, Person]:
        if self._patients is None:
            found: dict[str, Person] = {}
            for r in self.client.search("Patient", [], ["gender", "birthDate"], self.deadline):
                day = first_day(r.get("birthDate"))
                gender = r.get("gender") if isinstance(r.get("gender"), str) else None
                found[str(r.get("id"))] = (gender, date_key(day) if day else None)
            self._patients = found
        return self._patients

    def _person_ok(self, t: PersonTest, person: Person) -> bool:
        gender, birth = person
        if t.sex is not None:
            if t.sex == "unknown":
                return gender not in _SEXES
            return gender == t.sex
        assert t.age is not None and self.query.as_of is not None
        return _age_ok(birth, self.query.as_of, t.age)

    # -- the count -------------------------------------------------------------------------------
    def count(self) -> ExactCount:
        root = self.query.root
        if not self.query.strata:
            fast = self.fast_count(root)
            if fast is not None:
                return ExactCount(fast)
            return ExactCount(len(self.eval(root)))
        ids = self.eval(root)
        strata: dict[tuple[str, ...], int] = {}
        people = self.patients()
        for pid in ids:
            key = tuple(
                self._label(dim, people.get(pid, (None, None))) for dim in self.query.strata
            )
            strata[key] = strata.get(key, 0) + 1
        return ExactCount(len(ids), strata)

    def _label(self, dim: str, person: Person) -> str:
        gender, birth = person
        if dim == "sex":
            return gender if gender in _SEXES else "unknown"
        assert self.query.as_of is not None
        if birth is None:
            return "unknown"
        bands = list(self.query.stratify_bands)
        labels = age_band_labels(bands)
        key = date_key(self.query.as_of)
        for upper, label in zip(bands[1:], labels, strict=False):
            if birth > key - upper * 10000:
                return label
        return labels[-1]

    # -- one request when search can say it all ---------------------------------------------------
    def _birthdate_le(self, years: int) -> str:
        assert self.query.as_of is not None
        key = date_key(self.query.as_of) - years * 10000
        y, m, d = key // 10000, key // 100 % 100, key % 100
        return dt.date(y, m, min(d, monthrange(y, m)[1])).isoformat()

    def fast_count(self, root: Node) -> int | None:
        parts = root.parts if isinstance(root, AllOf) else (root,)
        params: list[tuple[str, str]] = []
        leaves: list[Events] = []
        for p in parts:
            if isinstance(p, PersonTest) and p.sex in _SEXES:
                params.append(("gender", str(p.sex)))
            elif isinstance(p, PersonTest) and p.age is not None and p.age.max is None:
                assert p.age.min is not None
                params.append(("birthdate", f"le{self._birthdate_le(p.age.min)}"))
            elif isinstance(p, Events) and p.has_able:
                leaves.append(p)
            else:
                return None
        if not leaves:
            return None
        for leaf in leaves:
            found = [s for s in leaf.sources if self._probe(s) > 0]
            if not found:
                return 0
            if len(found) > 1 or not found[0].has_able:
                return None
            s = found[0]
            name, value = s.params[0]
            params.append((f"_has:{s.type.resource}:{s.type.subject}:{name}", value))
        return self.client.count("Patient", params, self.deadline)

    def _probe(self, s: Source) -> int:
        """How many resources a source's search finds (for a Medication reference search: how
        many Medications carry its codes)."""
        if s.medication_codes:
            tokens = ",".join(f"{sy}|{c}" for sy, c in s.medication_codes)
            return self.client.count("Medication", [("code", tokens)], self.deadline)
        return self.client.count(s.type.resource, s.params, self.deadline)

    # -- patient sets ------------------------------------------------------------------------------
    def all_ids(self) -> set[str]:
        return set(self.patients())

    def eval(self, node: Node) -> set[str]:
        if self.deadline is not None:
            self.deadline.check()
        if isinstance(node, Const):
            return self.all_ids() if node.value else set()
        if isinstance(node, PersonTest):
            return {pid for pid, person in self.patients().items() if self._person_ok(node, person)}
        if isinstance(node, NoneOf):
            return self.all_ids() - self.eval(node.part)
        if isinstance(node, AnyOf):
            out: set[str] = set()
            for p in node.parts:
                out |= self.eval(p)
            return out
        if isinstance(node, AllOf):
            positive = [p for p in node.parts if not isinstance(p, NoneOf)]
            negative = [p for p in node.parts if isinstance(p, NoneOf)]
            result: set[str] | None = None
            for p in positive:
                found = self.eval(p)
                result = found if result is None else result & found
                if not result:
                    return set()
            if result is None:
                result = self.all_ids()
            for n in negative:
                assert isinstance(n, NoneOf)
                result = result - self.eval(n.part)
            return result
        return self.matching(node)

    def matching(self, leaf: Events) -> set[str]:
        events = self.events(leaf)
        if leaf.anchor is not None:
            anchors = self.events(leaf.anchor)
            before = dt.timedelta(days=leaf.days_before)
            after = dt.timedelta(days=leaf.days_after)
            near: dict[str, dict[str, dt.date | None]] = {}
            for pid, evs in events.items():
                days = [d for d in anchors.get(pid, {}).values() if d is not None]
                kept: dict[str, dt.date | None] = {
                    k: d
                    for k, d in evs.items()
                    if d is not None and any(a - before <= d <= a + after for a in days)
                }
                if kept:
                    near[pid] = kept
            events = near
        occ = leaf.occurrences
        if occ is None:
            return set(events)
        return {
            pid
            for pid, evs in events.items()
            if len(evs) >= occ.min and (occ.max is None or len(evs) <= occ.max)
        }

    # -- events ---------------------------------------------------------------------------------
    def events(self, leaf: Events) -> dict[str, dict[str, dt.date | None]]:
        """Patient -> {event key: day} of the events `leaf` matches."""
        out: dict[str, dict[str, dt.date | None]] = {}
        people = self.patients() if leaf.age is not None else {}
        for source in leaf.sources:
            for pid, key, day in self._source_events(source):
                if leaf.age is not None:
                    birth = people.get(pid, (None, None))[1]
                    if day is None or not _age_ok(birth, day, leaf.age):
                        continue
                out.setdefault(pid, {})[key] = day
        return out

    def _resources(self, s: Source) -> Iterator[dict[str, Any]]:
        resource = s.type.resource
        if not s.medication_codes:
            yield from self.client.search(resource, s.params, s.elements, self.deadline)
            return
        tokens = ",".join(f"{sy}|{c}" for sy, c in s.medication_codes)
        ids = [
            str(m.get("id"))
            for m in self.client.search("Medication", [("code", tokens)], ["id"], self.deadline)
        ]
        step = self.query.codes_per_request
        for i in range(0, len(ids), step):
            refs = ",".join(f"Medication/{x}" for x in ids[i : i + step])
            params = [("medication", refs), *s.params]
            yield from self.client.search(resource, params, s.elements, self.deadline)

    def _day(self, s: Source, r: dict[str, Any]) -> dt.date | None:
        for element in s.type.dates:
            value = r.get(element)
            if isinstance(value, dict):  # a Period: its start
                value = value.get("start")
            if value is not None:
                return first_day(value)
        return None

    def _source_events(self, s: Source) -> Iterator[tuple[str, str, dt.date | None]]:
        t = s.type
        for r in self._resources(s):
            pid = _patient_id(r.get(t.subject))
            if pid is None:
                continue
            day = self._day(s, r) if s.needs_day else None
            if s.during is not None:
                lo, hi = s.during.from_, s.during.to
                if day is None or (lo is not None and day < lo) or (hi is not None and day > hi):
                    continue
            own = f"{t.resource}/{r.get('id')}"
            if s.part == "component":
                for i, comp in enumerate(r.get("component", []) or []):
                    if not isinstance(comp, dict) or not s.codes & set(_codings(comp.get("code"))):
                        continue
                    if s.value is not None and not _value_ok(comp.get("valueQuantity"), s.value):
                        continue
                    yield pid, f"{own}#{i}", day
                continue
            if s.value is not None and not _value_ok(r.get("valueQuantity"), s.value):
                continue
            if s.body_site is not None and not self._body_site_ok(s, r):
                continue
            made_for = _procedure_id(r) if t.resource == "ImagingStudy" else None
            yield pid, (f"Procedure/{made_for}" if made_for else f"{own}#"), day

    def _body_site_ok(self, s: Source, r: dict[str, Any]) -> bool:
        assert s.body_site is not None
        if s.type.body_site == "bodySite":
            return any(_site(c, s.body_site) for c in r.get("bodySite", []) or [])
        for x in r.get("series", []) or []:  # the series with the modality has the site
            if not isinstance(x, dict) or not _site(x.get("bodySite"), s.body_site):
                continue
            if set(_codings(x.get("modality"))) & s.codes:
                return True
            if set(_codings(x.get("bodySite"))) & s.codes:
                return True
        return False


def _procedure_id(r: dict[str, Any]) -> str | None:
    ref = r.get("procedureReference")
    text = ref.get("reference") if isinstance(ref, dict) else None
    if not isinstance(text, str):
        return None
    m = re.search(r"(?:^|/)Procedure/([A-Za-z0-9.-]{1,64})(?:/_history/[^/]+)?$", text)
    return m.group(1) if m else None
