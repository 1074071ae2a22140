"""Privacy by design in the index: keyed pseudonyms, ages instead of birth dates, and the
attributes a file still carries that the DICOM PS3.15 Basic Application Level Confidentiality
Profile would remove.

The profile is not written out here: `profile()` loads the newest edition of Table E.1-1 that
the `dicom-anonymizer` package ships (`dicomanonymizer.dicom_anonymization_databases`,
generated from the standard's own tables by that project's scraper; 2026c at the time of
writing). Each attribute of the table has an action code: X remove, Z empty, D dummy value,
U new UID, C clean, and combinations such as X/Z/D.

What counts as *still identifying* in a file (`identifying_attributes`):

- a non-empty value of an attribute whose action is X, Z or X/Z (removal or emptying leaves
  nothing to see), unless the operator declares the attribute retained;
- with `strict`, also attributes whose action allows a dummy value (D, Z/D, X/D, X/Z/D: we
  cannot tell a dummy from the real value) and private attributes.

By default the attributes that the standard's *Retain Longitudinal Temporal Information* and
*Retain Patient Characteristics* options keep, and that this index reads (study and series
dates and times, sex, age, size, weight, contrast agent), are retained: research archives
keep them on purpose. Operators change the list in the index options.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import pkgutil
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

__all__ = [
    "DEFAULT_RETAINED",
    "ConfidentialityProfile",
    "age_years",
    "birth_year",
    "identifying_attributes",
    "parse_age",
    "person_key",
    "profile",
]

DEFAULT_RETAINED: tuple[str, ...] = (
    "StudyDate",
    "StudyTime",
    "SeriesDate",
    "SeriesTime",
    "AcquisitionDate",
    "AcquisitionTime",
    "AcquisitionDateTime",
    "ContentDate",
    "ContentTime",
    "PatientSex",
    "PatientAge",
    "PatientSize",
    "PatientWeight",
    "ContrastBolusAgent",
)

_CATEGORY_ACTION = {
    "X_TAGS": "X",
    "Z_TAGS": "Z",
    "X_Z_TAGS": "X/Z",
    "D_TAGS": "D",
    "Z_D_TAGS": "Z/D",
    "X_D_TAGS": "X/D",
    "X_Z_D_TAGS": "X/Z/D",
    "U_TAGS": "U",
    "X_Z_U_STAR_TAGS": "X/Z/U*",
}
_EMPTIED = frozenset({"X", "Z", "X/Z"})
_DUMMY_ALLOWED = frozenset({"D", "Z/D", "X/D", "X/Z/D"})


@dataclass(frozen=True)
class ConfidentialityProfile:
    """Table E.1-1 of PS3.15 as tag -> basic-profile action code (plus masked groups)."""

    edition: str
    exact: dict[int, str]
    masked: tuple[tuple[int, int, str], ...]  # (value, mask, action) over the 32-bit tag

    def action(self, tag: int) -> str | None:
        found = self.exact.get(tag)
        if found is not None:
            return found
        for value, mask, action in self.masked:
            if tag & mask == value:
                return action
        return None

    def __len__(self) -> int:
        return len(self.exact) + len(self.masked)


@lru_cache(maxsize=1)
def profile() -> ConfidentialityProfile:
    """The newest Table E.1-1 edition shipped by `dicom-anonymizer` (cached)."""
    package = importlib.import_module("dicomanonymizer.dicom_anonymization_databases")
    editions = sorted(
        m.name for m in pkgutil.iter_modules(package.__path__) if m.name.startswith("dicomfields_")
    )
    if not editions:
        raise RuntimeError("dicom-anonymizer ships no Table E.1-1 edition")
    module = importlib.import_module(f"{package.__name__}.{editions[-1]}")
    exact: dict[int, str] = {}
    masked: list[tuple[int, int, str]] = []
    for category, action in _CATEGORY_ACTION.items():
        for entry in getattr(module, category, []):
            if len(entry) == 2:
                exact[(entry[0] << 16) | entry[1]] = action
            else:
                group, element, gmask, emask = entry
                mask = (gmask << 16) | emask
                masked.append(((group << 16 | element) & mask, mask, action))
    return ConfidentialityProfile(editions[-1].removeprefix("dicomfields_"), exact, tuple(masked))


def _has_value(element: Any) -> bool:
    length = getattr(element, "length", None)
    if length is not None and not hasattr(element, "VM"):  # a raw (unparsed) element
        return bool(length)
    value = element.value
    if value is None:
        return False
    if isinstance(value, bytes):
        return bool(value.strip(b"\x00 "))
    if isinstance(value, str):
        return bool(value.strip("\x00 "))
    if hasattr(value, "__len__"):
        return len(value) > 0
    return True


def _walk(dataset: Any, depth: int = 0) -> Iterator[tuple[int, Any]]:
    for tag in list(dataset.keys()):
        element = dataset.get_item(tag)
        yield int(tag), element
        if depth < 8 and getattr(element, "VR", None) == "SQ":
            for item in dataset[tag].value or []:
                yield from _walk(item, depth + 1)


def identifying_attributes(
    dataset: Any,
    retained: Iterable[str] = DEFAULT_RETAINED,
    *,
    strict: bool = False,
    table: ConfidentialityProfile | None = None,
) -> list[str]:
    """Keywords (or '(gggg,eeee)' for attributes without one) of the attributes in a pydicom
    dataset, nested sequences included, that the basic profile would remove or empty.

    Sorted and unique. The file meta group (0002) is not part of the dataset and is ignored.
    """
    from pydicom.datadict import keyword_for_tag

    table = table or profile()
    keep = set(retained)
    found: set[str] = set()
    for tag, element in _walk(dataset):
        if tag >> 16 == 0x0002:
            continue
        if tag >> 16 & 1:  # private group
            if strict and (tag & 0xFFFF) >= 0x1000 and _has_value(element):
                found.add("PrivateAttributes")
            continue
        action = table.action(tag)
        if action is None or not (action in _EMPTIED or (strict and action in _DUMMY_ALLOWED)):
            continue
        keyword = keyword_for_tag(tag) or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
        if keyword in keep or not _has_value(element):
            continue
        found.add(keyword)
    return sorted(found)


# ---------------------------------------------------------------------------------------------
# Pseudonyms, ages


def person_key(patient_id: str, secret: bytes | None, scope: str = "") -> str:
    """The index's patient key: HMAC-SHA256 of the PatientID (within `scope`, e.g. the
    dataset) under the node secret, 32 hex digits; with no secret (the operator declared the
    ids pseudonymous) the id itself, prefixed by the scope when there is one."""
    if secret is None:
        return f"{scope}/{patient_id}" if scope else patient_id
    message = b"hyperfed-dicom-person\x00" + scope.encode() + b"\x00" + patient_id.encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


_AGE = re.compile(r"^\s*(\d{1,3})\s*([DWMY])\s*$")
_AGE_DAYS = {"D": 1.0, "W": 7.0, "M": 365.25 / 12, "Y": 365.25}


def parse_age(value: str | None) -> int | None:
    """Whole years of a DICOM Age String ('045Y', '018M', '003W', '012D'); None if invalid."""
    if not value:
        return None
    m = _AGE.match(str(value).upper())
    if not m:
        return None
    number, unit = int(m.group(1)), m.group(2)
    if unit == "Y":
        return number
    return int(number * _AGE_DAYS[unit] // 365.25)


def birth_year(value: date | None) -> int | None:
    return value.year if value is not None else None


def age_years(birth: date | None, on: date | None) -> int | None:
    """Whole years between a birth date and a date (None when either is missing or the
    date is before the birth)."""
    if birth is None or on is None or on < birth:
        return None
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    return years
