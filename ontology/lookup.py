"""Turning a concept reference into a concept IRI, and suggesting close matches.

Accepted references (surrounding whitespace and ``<...>`` are ignored):

- CURIEs ``hf:LungCancer``, ``eucaim:CLIN1000065`` (prefix in any case; the local part
  exact, or in any case when that names a single concept);
- full IRIs in the hf: namespace and in both EUCAIM namespaces
  (``https://cancerimage.eu/ontology/EUCAIM#`` and ``https://hyperontology.eucaim.cancerimage.eu/#``);
- bare EUCAIM codes (``CLIN1000065``, any case);
- EUCAIM federated-search keys (``SNOMEDCT363358000``, ``RID10321``, ``C200140``,
  ``birnlex_3066``);
- codes as ``system|code`` (``http://snomed.info/sct|363358000``) or ``alias:code``
  (``snomed:363358000``, ``loinc:718-7``, ``icd10:C18``, ``dcm:CT``).
"""

from __future__ import annotations

import difflib

from hyperfed.adapters.hql.systems import UnknownSystem, canonical_system
from hyperfed.ontology.index import Index
from hyperfed.ontology.vocab import EUCAIM, EXTERNAL_SYSTEMS, HF, curie, normalise_iri

__all__ = ["find_iri", "suggestion_candidates", "suggestions"]

_NAMESPACES = {"hf": HF, "eucaim": EUCAIM}


def _system(name: str) -> str | None:
    if name.lower() in EXTERNAL_SYSTEMS:
        return EXTERNAL_SYSTEMS[name.lower()]
    try:
        return canonical_system(name).uri
    except UnknownSystem:
        return None


def _concept_iri(index: Index, iri: str) -> str | None:
    iri = normalise_iri(iri)
    if iri in index.concepts:
        return iri
    candidates = index.by_lower_iri.get(iri.lower(), [])
    return candidates[0] if len(candidates) == 1 else None


def _code(index: Index, system_name: str, code: str) -> str | None:
    system = _system(system_name)
    if system is None:
        return None
    return index.by_code.get((system, code.strip()))


def find_iri(index: Index, ref: str) -> str | None:
    """The concept IRI `ref` names, or None."""
    text = ref.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if not text:
        return None
    if "|" in text:
        system, _, code = text.rpartition("|")
        found = _code(index, system, code)
        if found is not None:
            return found
    if "://" in text:
        return _concept_iri(index, text)
    if ":" in text:
        prefix, _, local = text.partition(":")
        namespace = _NAMESPACES.get(prefix.strip().lower())
        if namespace is not None:
            return _concept_iri(index, namespace + local.strip()) if local.strip() else None
        return _code(index, prefix.strip(), local)
    lowered = text.lower()
    return index.by_notation.get(lowered) or index.by_key.get(lowered)


def suggestion_candidates(index: Index) -> dict[str, str]:
    """Lower-cased CURIEs, labels, notations and search keys -> the CURIE they name."""
    candidates: dict[str, str] = {}
    for iri in sorted(index.concepts):
        name = curie(iri)
        candidates.setdefault(name.lower(), name)
        if iri in index.pref_label:
            candidates.setdefault(index.pref_label[iri].lower(), name)
        for alt in index.alt_labels.get(iri, ()):
            candidates.setdefault(alt.lower(), name)
    for table in (index.by_notation, index.by_key):
        for key, iri in table.items():
            candidates.setdefault(key, curie(iri))
    return candidates


def suggestions(candidates: dict[str, str], ref: str, limit: int = 5) -> list[str]:
    """CURIEs whose CURIE, label, notation or search key is close to `ref` (difflib)."""
    text = ref.strip().lower()
    queries = [text]
    if ":" in text and "://" not in text:
        queries.append(text.partition(":")[2])
    found: list[str] = []
    for query in queries:
        for match in difflib.get_close_matches(query, list(candidates), n=limit * 2, cutoff=0.6):
            name = candidates[match]
            if name not in found:
                found.append(name)
    return found[:limit]
