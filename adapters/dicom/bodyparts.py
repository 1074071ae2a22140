"""Body parts: SNOMED CT codes (CID 4031 and PS3.16 Annex L) <-> Body Part Examined terms.

The table is package data (`data/body_parts.toml`, see its header for the sources). A query's
`body_site` (a SNOMED CT code) matches a series whose BodyPartExamined is the code's term or
the term of any region that covers it (transitively): lung (39607008) matches LUNG, CHEST,
NECKCHEST, CHESTABDOMEN, CHESTABDPELVIS and WHOLEBODY.

    >>> body_part_terms("39607008")[:3]
    ['CHEST', 'CHESTABDOMEN', 'CHESTABDPELVIS']
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

__all__ = ["SNOMED", "BodyPart", "body_part", "body_part_terms", "body_parts", "term_code"]

SNOMED = "http://snomed.info/sct"


@dataclass(frozen=True)
class BodyPart:
    term: str  # Body Part Examined defined term
    code: str  # SNOMED CT
    meaning: str
    cid4031: bool
    previous: tuple[str, ...] = ()  # retired SNOMED codes (CP 1962)
    covers: tuple[str, ...] = ()  # terms of the regions this one images too


@lru_cache(maxsize=1)
def body_parts() -> dict[str, BodyPart]:
    """Every body part of the table, by term."""
    text = resources.files("hyperfed.adapters.dicom").joinpath("data/body_parts.toml").read_text()
    parts = {}
    for entry in tomllib.loads(text)["part"]:
        part = BodyPart(
            term=entry["term"],
            code=entry["code"],
            meaning=entry["meaning"],
            cid4031=bool(entry.get("cid4031", False)),
            previous=tuple(entry.get("previous", ())),
            covers=tuple(entry.get("covers", ())),
        )
        parts[part.term] = part
    return parts


@lru_cache(maxsize=1)
def _by_code() -> dict[str, BodyPart]:
    out: dict[str, BodyPart] = {}
    for part in body_parts().values():
        for code in (part.code, *part.previous):
            out[code] = part
    return out


def body_part(code: str, system: str = SNOMED) -> BodyPart | None:
    """The body part of a SNOMED CT code (current or retired), None when unknown."""
    if system != SNOMED:
        return None
    return _by_code().get(str(code))


def term_code(term: str) -> str | None:
    """The SNOMED CT code of a Body Part Examined term (case-insensitive), None if unknown."""
    part = body_parts().get(term.strip().upper())
    return part.code if part else None


def body_part_terms(code: str, system: str = SNOMED, *, containing: bool = True) -> list[str]:
    """The BodyPartExamined values that match a SNOMED CT body-site code, sorted.

    With `containing` (default) the terms of every region covering it are included. An
    unknown code gives [] (the caller reports the criterion unsupported).
    """
    part = body_part(code, system)
    if part is None:
        return []
    terms = {part.term}
    if containing:
        parents: dict[str, set[str]] = {}
        for other in body_parts().values():
            for child in other.covers:
                parents.setdefault(child, set()).add(other.term)
        todo = [part.term]
        while todo:
            for parent in parents.get(todo.pop(), ()):
                if parent not in terms:
                    terms.add(parent)
                    todo.append(parent)
    return sorted(terms)
