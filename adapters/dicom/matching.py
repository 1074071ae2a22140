"""What one imaging criterion means on one DICOM series: the same-series conditions.

Everything an HQL event criterion says about its event — the code or concept, `body_site`,
`attributes`, `during`, `age` — holds for **one series** ("a chest CT by Siemens with slices
of at most 1.5 mm" is one series, not a CT somewhere and a chest somewhere). `SeriesMatcher`
turns a criterion and its binding into a `SeriesMatch`, a conjunction of model-neutral
conditions on series attributes; the SQL compiler (index sources) and the QIDO-RS planner
(DICOMweb) each render the same conditions, so both sources mean the same thing.

- `code` DCM `CT` (a CID 33 modality): `OneOf(Modality, CT)`;
- `code` or `body_site` SNOMED CT region (CID 4031): `OneOf(BodyPartExamined, the region's
  term and the terms of the regions covering it)`;
- a concept bound to a `dicom` keyword + values: `OneOf(keyword, values)`;
- `attributes` `{"K": "v"}`, `["v", "w"]`, `{"min", "max"}`, `true`/`false`: `OneOf`,
  `OneOf`, `Between`, `Present`;
- `during`: `DateBetween(StudyDate)`; `age`: `AgeBetween` (the age at the study: PatientAge,
  else from the birth date and the study date).

What a source cannot answer (an attribute its index does not hold, a code of another system)
is rejected through the compiler's `reject(path, reason)`, never dropped. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Protocol

from hyperfed.adapters.dicom.bindings import DicomBinding
from hyperfed.adapters.dicom.bodyparts import SNOMED, body_part_terms
from hyperfed.adapters.dicom.errors import UnknownKeyword
from hyperfed.adapters.dicom.keywords import keyword_vr, validate_keyword
from hyperfed.adapters.dicom.layout import SERIES_COLUMNS, SERIES_KEYWORD_COLUMNS
from hyperfed.adapters.hql.bindings import BindingBase, CodesBinding
from hyperfed.adapters.hql.model import AttributeRange, AttributeValue, Code, EventCriterion
from hyperfed.adapters.hql.systems import UnknownSystem, canonical_system

__all__ = [
    "DCM",
    "AgeBetween",
    "Attribute",
    "AttributeSpace",
    "Between",
    "Condition",
    "DateBetween",
    "Either",
    "IndexSpace",
    "OneOf",
    "Present",
    "QidoSpace",
    "SeriesMatch",
    "SeriesMatcher",
    "modality_codes",
]

DCM = "http://dicom.nema.org/resources/ontology/DCM"
Kind = Literal["text", "number", "date"]
Scalar = str | float | int | dt.date

_NUMERIC_VRS = frozenset({"DS", "IS", "FL", "FD", "US", "UL", "SS", "SL", "UV", "SV"})
_TEXT_VRS = frozenset({"CS", "LO", "SH", "PN", "UI", "ST", "LT", "UT", "UC", "AE", "AS"})


@lru_cache(maxsize=1)
def modality_codes() -> frozenset[str]:
    """The DCM codes of DICOM CID 33 "Modality" (pydicom's copy of PS3.16)."""
    from pydicom.sr import codes
    from pydicom.sr._cid_dict import cid_concepts

    return frozenset(getattr(codes.DCM, name).value for name in cid_concepts[33]["DCM"])


@dataclass(frozen=True)
class Attribute:
    """A series attribute a query can test, as one source holds it."""

    keyword: str
    """the DICOM keyword (what a query names)"""
    kind: Kind
    column: str | None = None
    """the series-table column (index sources)"""
    upper: bool = False
    """a code string (VR CS): compared in upper case"""
    multi: bool = False
    """several values (joined by '\\' in the index); a value matches when any is equal"""
    presence: str | None = None
    """a boolean column saying whether the attribute has a value (ContrastBolusAgent)"""


@dataclass(frozen=True)
class OneOf:
    attr: Attribute
    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class Between:
    """A number in [lo, hi] (inclusive; None: open); a multi-valued number uses its largest
    value (PixelSpacing: the larger of the row and column spacing)."""

    attr: Attribute
    lo: float | None
    hi: float | None


@dataclass(frozen=True)
class DateBetween:
    attr: Attribute
    lo: dt.date | None
    hi: dt.date | None


@dataclass(frozen=True)
class Present:
    """The attribute has a value (True) or none (False)."""

    attr: Attribute
    present: bool


@dataclass(frozen=True)
class AgeBetween:
    """The patient's age in whole years at the study lies in [lo, hi]."""

    lo: int | None
    hi: int | None


@dataclass(frozen=True)
class Either:
    parts: tuple[Condition, ...]


Condition = OneOf | Between | DateBetween | Present | AgeBetween | Either


@dataclass(frozen=True)
class SeriesMatch:
    """Conditions that all hold for one series."""

    conditions: tuple[Condition, ...]

    def attributes(self) -> list[Attribute]:
        """Every attribute the conditions read, in order, once."""
        found: dict[str, Attribute] = {}

        def walk(c: Condition) -> None:
            if isinstance(c, Either):
                for p in c.parts:
                    walk(p)
            elif not isinstance(c, AgeBetween):
                found.setdefault(c.attr.keyword, c.attr)

        for c in self.conditions:
            walk(c)
        return list(found.values())

    def reads_age(self) -> bool:
        def walk(c: Condition) -> bool:
            if isinstance(c, Either):
                return any(walk(p) for p in c.parts)
            return isinstance(c, AgeBetween)

        return any(walk(c) for c in self.conditions)


class AttributeSpace(Protocol):
    """The attributes one source holds."""

    def attribute(self, keyword: str) -> Attribute | None:
        """The attribute of a dictionary keyword; None when this source does not hold it."""

    def missing(self, keyword: str) -> str:
        """Why `keyword` cannot be tested here (for the unsupported reason)."""

    def can_age(self) -> bool:
        """Whether ages at the study can be told (PatientAge, or birth year and study date)."""


def _kind_of_column(type_: str) -> Kind | None:
    if type_ == "VARCHAR":
        return "text"
    if type_ in ("DOUBLE", "INTEGER", "BIGINT"):
        return "number"
    if type_ == "DATE":
        return "date"
    return None


def _is_cs(keyword: str) -> bool:
    try:
        return keyword_vr(keyword) == "CS"
    except (KeyError, UnknownKeyword):
        return False


# keywords the series table holds under a derived column
_DERIVED: dict[str, tuple[str, Kind]] = {
    "NumberOfSeriesRelatedInstances": ("n_instances", "number")
}


class IndexSpace:
    """The attributes of a series table (`dicom_series`): its keyword columns, minus those the
    source's column mapping leaves empty (`available`: the mapped columns)."""

    def __init__(self, available: Iterable[str], source: str = "this node's index") -> None:
        self.available = frozenset(available)
        self.source = source
        types = {c.name: c.type for c in SERIES_COLUMNS}
        self._attrs: dict[str, Attribute] = {}
        columns = {**SERIES_KEYWORD_COLUMNS, **{k: c for k, (c, _) in _DERIVED.items()}}
        for keyword, column in columns.items():
            kind = _DERIVED[keyword][1] if keyword in _DERIVED else _kind_of_column(types[column])
            if kind is None or column not in self.available:
                continue
            self._attrs[keyword] = Attribute(
                keyword,
                kind,
                column=column,
                upper=_is_cs(keyword),
                multi=keyword == "ConvolutionKernel",
                presence=(
                    "contrast"
                    if keyword == "ContrastBolusAgent" and "contrast" in self.available
                    else None
                ),
            )

    def attribute(self, keyword: str) -> Attribute | None:
        return self._attrs.get(keyword)

    def missing(self, keyword: str) -> str:
        held = ", ".join(sorted(self._attrs))
        if keyword in SERIES_KEYWORD_COLUMNS or keyword in _DERIVED:
            return f"{self.source} does not hold {keyword} (its column mapping leaves it empty)"
        return f"{self.source} does not hold {keyword}; it holds {held}"

    def can_age(self) -> bool:
        return "age_years" in self.available or {"birth_year", "StudyDate"} <= self.available


class QidoSpace:
    """A PACS searched with QIDO-RS: every dictionary keyword can be requested (`includefield`)
    and tested on the node; its kind follows its value representation."""

    def attribute(self, keyword: str) -> Attribute | None:
        try:
            vr = keyword_vr(keyword)
        except (KeyError, UnknownKeyword):
            return None
        if vr in _NUMERIC_VRS:
            kind: Kind = "number"
        elif vr == "DA":
            kind = "date"
        elif vr in _TEXT_VRS:
            kind = "text"
        else:
            return None
        return Attribute(keyword, kind, upper=vr == "CS", multi=True)

    def missing(self, keyword: str) -> str:
        try:
            vr = keyword_vr(keyword)
        except (KeyError, UnknownKeyword):
            vr = "?"
        return f"{keyword} (VR {vr}) cannot be compared: only text, number and date attributes"

    def can_age(self) -> bool:
        return True


def _system(code: Code) -> str | None:
    try:
        return canonical_system(code.system).uri
    except UnknownSystem:
        return None


class SeriesMatcher:
    """Builds the `SeriesMatch` of event criteria for one source; `reject(path, reason)` is
    the compiler's (it records the criterion as unsupported)."""

    def __init__(self, space: AttributeSpace, reject: Callable[[str, str], object]) -> None:
        self.space = space
        self._reject = reject
        self._failed = False

    def reject(self, path: str, reason: str) -> None:
        self._failed = True
        self._reject(path, reason)

    def _attr(self, keyword: str, path: str) -> Attribute | None:
        attr = self.space.attribute(keyword)
        if attr is None:
            self.reject(path, self.space.missing(keyword))
        return attr

    def match(self, e: EventCriterion, binding: BindingBase, path: str) -> SeriesMatch | None:
        """The conditions of `e` (bound to `binding`), or None when something was rejected."""
        self._failed = False
        conditions: list[Condition] = []
        what = self._binding(binding, e, path)
        if what is not None:
            conditions.append(what)
        if e.body_site is not None:
            site = self._body_site(e.body_site, f"{path}.body_site")
            if site is not None:
                conditions.append(site)
        for keyword, value in (e.attributes or {}).items():
            cond = self._attribute(keyword, value, f"{path}.attributes.{keyword}")
            if cond is not None:
                conditions.append(cond)
        if e.during is not None:
            attr = self._attr("StudyDate", f"{path}.during")
            if attr is not None:
                conditions.append(DateBetween(attr, e.during.from_, e.during.to))
        if e.age is not None:
            if self.space.can_age():
                conditions.append(AgeBetween(e.age.min, e.age.max))
            else:
                self.reject(f"{path}.age", "this node's index holds neither ages nor birth years")
        return None if self._failed else SeriesMatch(tuple(conditions))

    # -- what the criterion names ------------------------------------------------------------
    def _binding(self, binding: BindingBase, e: EventCriterion, path: str) -> Condition | None:
        if isinstance(binding, DicomBinding):
            return self._keyword_values(binding.keyword, binding.values, path)
        if isinstance(binding, CodesBinding):
            return self._codes(binding.codes, path)
        self.reject(path, f"a dicom node cannot read {binding.kind} bindings")
        return None

    def _keyword_values(self, keyword: str, values: list[str], path: str) -> Condition | None:
        try:
            validate_keyword(keyword)
        except UnknownKeyword as exc:
            self.reject(path, f"the ontology binds this concept to {exc}")
            return None
        attr = self._attr(keyword, path)
        if attr is None:
            return None
        return self._one_of(attr, values, path)

    def _codes(self, codes: list[Code], path: str) -> Condition | None:
        modalities: list[str] = []
        terms: list[str] = []
        for code in codes:
            system = _system(code)
            if system == DCM:
                if code.code.upper() not in modality_codes():
                    self.reject(
                        path,
                        f"DCM code {code.code!r} is not a DICOM modality (CID 33: CT, MR, PT, "
                        "MG, DX, US ...)",
                    )
                    continue
                modalities.append(code.code.upper())
            elif system == SNOMED:
                found = body_part_terms(code.code)
                if not found:
                    self.reject(path, self._not_imaging(code))
                    continue
                terms += found
            else:
                self.reject(path, self._not_imaging(code))
        parts: list[Condition] = []
        if modalities:
            attr = self._attr("Modality", path)
            if attr is not None:
                parts.append(OneOf(attr, tuple(sorted(set(modalities)))))
        if terms:
            attr = self._attr("BodyPartExamined", path)
            if attr is not None:
                parts.append(OneOf(attr, tuple(sorted(set(terms)))))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else Either(tuple(parts))

    @staticmethod
    def _not_imaging(code: Code) -> str:
        return (
            f"{code.system}|{code.code} is not an imaging code a DICOM index can match: it reads "
            "DCM modality codes (CID 33) and SNOMED CT anatomic regions (CID 4031)"
        )

    def _body_site(self, code: Code, path: str) -> Condition | None:
        if _system(code) != SNOMED:
            self.reject(path, f"a body site is a SNOMED CT code (CID 4031), not {code.system}")
            return None
        terms = body_part_terms(code.code)
        if not terms:
            self.reject(
                path,
                f"SNOMED CT {code.code} is not an anatomic region this node maps to "
                "BodyPartExamined (CID 4031, PS3.16 Annex L)",
            )
            return None
        attr = self._attr("BodyPartExamined", path)
        return None if attr is None else OneOf(attr, tuple(terms))

    # -- attributes ----------------------------------------------------------------------------
    def _attribute(self, keyword: str, value: AttributeValue, path: str) -> Condition | None:
        try:
            validate_keyword(keyword)
        except UnknownKeyword as exc:
            self.reject(path, str(exc))
            return None
        attr = self._attr(keyword, path)
        if attr is None:
            return None
        if isinstance(value, bool):
            return Present(attr, value)
        if isinstance(value, AttributeRange):
            if attr.kind != "number":
                self.reject(path, f"{keyword} is not a number: give a value or a list of values")
                return None
            return Between(attr, value.min, value.max)
        if isinstance(value, int | float):
            if attr.kind != "number":
                self.reject(path, f"{keyword} holds {attr.kind}, not a number")
                return None
            return OneOf(attr, (value,))
        values = [value] if isinstance(value, str) else list(value)
        return self._one_of(attr, values, path)

    def _one_of(self, attr: Attribute, values: list[str], path: str) -> Condition | None:
        if attr.kind == "number":
            self.reject(path, f"{attr.keyword} is a number: give a number or {{min, max}}")
            return None
        if attr.kind == "date":
            days: list[Scalar] = []
            for v in values:
                try:
                    days.append(_parse_date(v))
                except ValueError:
                    self.reject(path, f"{attr.keyword}: {v!r} is not a date (YYYY-MM-DD)")
                    return None
            return OneOf(attr, tuple(days))
        cleaned = [v.strip().upper() if attr.upper else v.strip() for v in values]
        return OneOf(attr, tuple(dict.fromkeys(cleaned)))


def _parse_date(value: str) -> dt.date:
    text = value.strip()
    if len(text) == 8 and text.isdigit():
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    return dt.date.fromisoformat(text)
