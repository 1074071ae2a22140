"""DICOM attribute keywords, validated against pydicom's data dictionary.

The hub and the compiler call `validate_keyword` on every keyword a query names (`attributes`
of an imaging criterion, a DICOM binding of the ontology): an unknown keyword is an
`UnknownKeyword` error that names it and the closest dictionary keywords, which the hub turns
into a 422. pydicom is imported on first use, not when this module is imported.
"""

from __future__ import annotations

import difflib
from functools import lru_cache

from hyperfed.adapters.dicom.errors import UnknownKeyword

__all__ = ["close_keywords", "keyword_tag", "keyword_vr", "validate_keyword"]


@lru_cache(maxsize=1)
def _keywords() -> dict[str, int]:
    from pydicom.datadict import DicomDictionary

    return {entry[4]: tag for tag, entry in DicomDictionary.items() if entry[4]}


@lru_cache(maxsize=1)
def _by_lower() -> dict[str, str]:
    return {k.lower(): k for k in _keywords()}


def close_keywords(keyword: str, n: int = 3) -> list[str]:
    """Up to `n` dictionary keywords closest to `keyword` (case-insensitive, best first)."""
    lower = _by_lower()
    exact = lower.get(keyword.lower())
    if exact is not None:
        return [exact]
    matches = difflib.get_close_matches(keyword.lower(), list(lower), n=n, cutoff=0.6)
    return [lower[m] for m in matches]


def validate_keyword(keyword: str, where: str = "") -> str:
    """`keyword` if it is a keyword of the DICOM data dictionary, else `UnknownKeyword`.

    Matching is exact (DICOM keywords are case-sensitive); a keyword that differs only in
    case is rejected with the right spelling as its first suggestion. `where` (a JSON path,
    a config field) prefixes the message.
    """
    if not isinstance(keyword, str) or keyword not in _keywords():
        text = keyword if isinstance(keyword, str) else repr(keyword)
        raise UnknownKeyword(text, close_keywords(text) if isinstance(keyword, str) else [], where)
    return keyword


def keyword_tag(keyword: str) -> int:
    """The tag of a dictionary keyword as an int (0x00080060 for Modality)."""
    return _keywords()[validate_keyword(keyword)]


def keyword_vr(keyword: str) -> str:
    """The value representation of a dictionary keyword ('CS' for Modality)."""
    from pydicom.datadict import dictionary_VR

    return str(dictionary_VR(keyword_tag(keyword)))
