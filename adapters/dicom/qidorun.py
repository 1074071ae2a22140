"""Running a QIDO-RS plan (`hyperfed.adapters.dicom.qidoplan`) against a PACS.

Each search is read page by page (one page in memory at a time); every returned series is
tested against the conditions of the criteria that use the search, and only what counting
needs is kept per patient: the studies (UID, date) of matching series, the series UIDs when
studies and series are reported, the patient's sex and birth year from the study search.
The patients are then combined with set algebra. Patients are told apart by PatientID
(one PACS, one issuer of ids); series without a PatientID are never counted, as in an
index. Person attributes follow the index's rules: the sex all studies agree on, the birth
year (of PatientBirthDate, else the earliest year(StudyDate) - PatientAge), birthdays on
1 January; the age at a study is PatientAge, else from the birth date and the study date.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hyperfed.adapters.base import ExactCount
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.dicom.matching import (
    AgeBetween,
    Between,
    Condition,
    DateBetween,
    Either,
    OneOf,
    Present,
    SeriesMatch,
)
from hyperfed.adapters.dicom.privacy import age_years, parse_age
from hyperfed.adapters.dicom.qido import QidoClient, first_value, values
from hyperfed.adapters.dicom.qidoplan import (
    PAge,
    PAnd,
    PConst,
    PEvent,
    PNode,
    PNot,
    POr,
    PSex,
    QidoQuery,
)
from hyperfed.adapters.hql.strata import age_band_labels

__all__ = ["run_qido", "series_holds"]

_SEX_LABEL = {"F": "female", "M": "male", "O": "other"}


def _da(value: Any) -> dt.date | None:
    text = str(value or "").strip().replace("-", "")
    if len(text) < 8 or not text[:8].isdigit():
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def _numbers(ds: Mapping[str, Any], keyword: str) -> list[float]:
    out = []
    for v in values(ds, keyword):
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            continue
    return out


def _texts(ds: Mapping[str, Any], keyword: str, upper: bool) -> list[str]:
    out = []
    for v in values(ds, keyword):
        if v is None:
            continue
        text = str(v).strip()
        if text:
            out.append(text.upper() if upper else text)
    return out


def _age_at_study(ds: Mapping[str, Any]) -> int | None:
    age = parse_age(first_value(ds, "PatientAge"))
    if age is None:
        age = age_years(_da(first_value(ds, "PatientBirthDate")), _da(first_value(ds, "StudyDate")))
    return age


def series_holds(c: Condition, ds: Mapping[str, Any]) -> bool:
    """Whether one condition holds for a series (a DICOM JSON dataset)."""
    if isinstance(c, Either):
        return any(series_holds(p, ds) for p in c.parts)
    if isinstance(c, AgeBetween):
        age = _age_at_study(ds)
        return age is not None and _within(age, c.lo, c.hi)
    kind = c.attr.kind
    if isinstance(c, OneOf):
        if kind == "number":
            return any(n == float(v) for n in _numbers(ds, c.attr.keyword) for v in c.values)  # type: ignore[arg-type]
        if kind == "date":
            days = {_da(v) for v in values(ds, c.attr.keyword)}
            return any(v in days for v in c.values)
        found = set(_texts(ds, c.attr.keyword, c.attr.upper))
        return any(str(v) in found for v in c.values)
    if isinstance(c, Between):
        nums = _numbers(ds, c.attr.keyword)
        return bool(nums) and _within(max(nums), c.lo, c.hi)
    if isinstance(c, DateBetween):
        day = _da(first_value(ds, c.attr.keyword))
        return day is not None and _within(day, c.lo, c.hi)
    assert isinstance(c, Present)
    return bool(_texts(ds, c.attr.keyword, False) or _numbers(ds, c.attr.keyword)) == c.present


def _within(v: Any, lo: Any, hi: Any) -> bool:
    return (lo is None or v >= lo) and (hi is None or v <= hi)


def _patient(ds: Mapping[str, Any]) -> str | None:
    pid = first_value(ds, "PatientID")
    if pid is None or not str(pid).strip():
        return None
    return str(pid).strip()


@dataclass
class _Found:
    """What one criterion (its conditions over one search) found, per patient."""

    studies: dict[str, dict[str, dt.date | None]] = field(default_factory=lambda: defaultdict(dict))
    series: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


@dataclass
class _Person:
    sexes: set[str] = field(default_factory=set)
    birth_year: int | None = None
    estimates: list[int] = field(default_factory=list)
    studies: dict[str, int] = field(default_factory=dict)  # study UID -> number of series

    @property
    def sex(self) -> str | None:
        return next(iter(self.sexes)) if len(self.sexes) == 1 else None

    @property
    def born(self) -> int | None:
        if self.birth_year is not None:
            return self.birth_year
        return min(self.estimates) if self.estimates else None


class _Run:
    def __init__(self, plan: QidoQuery, client: QidoClient, deadline: Deadline | None,
                 details: bool) -> None:  # fmt: skip
        self.plan, self.client, self.details = plan, client, details
        self.deadline = deadline.at if deadline is not None else None
        self.persons: dict[str, _Person] = {}
        self.found: dict[tuple[int, SeriesMatch], _Found] = {}

    def read(self) -> None:
        users: dict[int, list[SeriesMatch]] = defaultdict(list)
        for event in _events(self.plan.root):
            users[event.search].append(event.match)
            if event.anchor is not None:
                users[event.anchor.search].append(event.anchor.match)
        for i, search in enumerate(self.plan.searches):
            rows = self.client.iter_search(
                search.level, dict(search.filters), includefield=search.includefield,
                deadline=self.deadline,
            )  # fmt: skip
            if i == self.plan.persons:
                for ds in rows:
                    self._person(ds)
                continue
            matches = list(dict.fromkeys(users.get(i, [])))
            for m in matches:
                self.found.setdefault((i, m), _Found())
            for ds in rows:
                pid = _patient(ds)
                if pid is None:
                    continue
                for m in matches:
                    if all(series_holds(c, ds) for c in m.conditions):
                        self._keep(self.found[(i, m)], pid, ds)

    def _keep(self, found: _Found, pid: str, ds: Mapping[str, Any]) -> None:
        study = str(first_value(ds, "StudyInstanceUID") or "")
        found.studies[pid][study] = _da(first_value(ds, "StudyDate"))
        if self.details:
            found.series[pid].add(str(first_value(ds, "SeriesInstanceUID") or ""))

    def _person(self, ds: Mapping[str, Any]) -> None:
        pid = _patient(ds)
        if pid is None:
            return
        p = self.persons.setdefault(pid, _Person())
        sex = str(first_value(ds, "PatientSex") or "").strip().upper()
        if sex in _SEX_LABEL:
            p.sexes.add(sex)
        birth = _da(first_value(ds, "PatientBirthDate"))
        if birth is not None:
            p.birth_year = min(birth.year, p.birth_year or birth.year)
        age, study_day = parse_age(first_value(ds, "PatientAge")), _da(first_value(ds, "StudyDate"))
        if age is not None and study_day is not None:
            p.estimates.append(study_day.year - age)
        uid = str(first_value(ds, "StudyInstanceUID") or "")
        n = first_value(ds, "NumberOfStudyRelatedSeries")
        p.studies[uid] = int(n) if isinstance(n, int | float) else 0

    # -- the combination -------------------------------------------------------------------
    def universe(self) -> set[str]:
        return set(self.persons)

    def eval(self, node: PNode) -> set[str]:
        if isinstance(node, PConst):
            return self.universe() if node.value else set()
        if isinstance(node, PSex):
            return {k for k, p in self.persons.items() if p.sex == node.sex}
        if isinstance(node, PAge):
            year = self.plan.as_of.year if self.plan.as_of else dt.date.today().year
            return {
                k
                for k, p in self.persons.items()
                if p.born is not None and _within(year - p.born, node.lo, node.hi)
            }
        if isinstance(node, PAnd):
            sets = [self.eval(x) for x in node.parts]
            return set.intersection(*sets)
        if isinstance(node, POr):
            return set().union(*[self.eval(x) for x in node.parts])
        if isinstance(node, PNot):
            return self.universe() - self.eval(node.part)
        return self._event(node)

    def _event(self, e: PEvent) -> set[str]:
        found = self.found[(e.search, e.match)]
        out = set()
        anchors = self.found[(e.anchor.search, e.anchor.match)] if e.anchor else None
        for pid, studies in found.studies.items():
            kept = dict(studies)
            if e.anchor is not None and anchors is not None:
                days = [d for d in anchors.studies.get(pid, {}).values() if d is not None]
                before = dt.timedelta(days=e.anchor.days_before)
                after = dt.timedelta(days=e.anchor.days_after)
                kept = {
                    uid: d
                    for uid, d in studies.items()
                    if d is not None and any(a - before <= d <= a + after for a in days)
                }
            n = len(kept)
            occ = e.occurrences
            ok = n >= 1 if occ is None else n >= occ.min and (occ.max is None or n <= occ.max)
            if ok:
                out.add(pid)
        return out

    def strata(self, chosen: set[str]) -> dict[tuple[str, ...], int]:
        plan = self.plan
        assert plan.stratify is not None
        year = plan.as_of.year if plan.as_of else dt.date.today().year
        bands = plan.stratify.age_bands
        labels = age_band_labels(bands)
        out: dict[tuple[str, ...], int] = defaultdict(int)
        for pid in chosen:
            p = self.persons.get(pid, _Person())
            key = []
            for dim in plan.strata:
                if dim == "sex":
                    key.append(_SEX_LABEL.get(p.sex or "", "unknown"))
                elif p.born is None:
                    key.append("unknown")
                else:
                    age = year - p.born
                    key.append(
                        labels[max((i for i, lo in enumerate(bands) if age >= lo), default=0)]
                    )
            out[tuple(key)] += 1
        return dict(out)

    def detail_counts(self, chosen: set[str]) -> dict[str, int]:
        positive = [e for e in _events(self.plan.root) if e.positive]
        studies: set[str] = set()
        series: set[str] = set()
        if positive:
            for e in positive:
                found = self.found[(e.search, e.match)]
                for pid in chosen:
                    studies.update(found.studies.get(pid, {}))
                    series.update(found.series.get(pid, set()))
            return {"studies": len(studies), "series": len(series)}
        n_series = 0
        for pid in chosen:
            p = self.persons.get(pid, _Person())
            studies.update(p.studies)
            n_series += sum(p.studies.values())
        return {"studies": len(studies), "series": n_series}


def _events(node: PNode | None) -> list[PEvent]:
    if isinstance(node, PEvent):
        return [node]
    if isinstance(node, PAnd | POr):
        return [e for p in node.parts for e in _events(p)]
    if isinstance(node, PNot):
        return _events(node.part)
    return []


def run_qido(
    plan: QidoQuery, client: QidoClient, deadline: Deadline | None = None, details: bool = False
) -> ExactCount:
    """Exact counts of a QIDO-RS plan (never leave the node); `details`: also the studies and
    series of the counted patients that match a positive criterion."""
    assert plan.root is not None, "a plan with unsupported criteria does not run"
    run = _Run(plan, client, deadline, details)
    run.read()
    chosen = run.eval(plan.root)
    result = ExactCount(len(chosen))
    if plan.strata:
        result.strata = run.strata(chosen)
    if details:
        result.details = run.detail_counts(chosen)
    return result
