"""Ranked text search over labels, alternative labels, notations and codes.

Each equivalence class is one hit. Its rank is the best match of the query against any of
its texts: exact (0) > prefix (1) > word prefix (2) > substring (3); within a rank, classes
with an hf: name (the curated ones, with bindings) come first, then the shorter matching
text, then the class IRI.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from hyperfed.ontology.index import Index
from hyperfed.ontology.vocab import HF, curie

__all__ = ["SearchIndex", "normalise_text"]

_SPACES = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    return _SPACES.sub(" ", text.strip().lower())


@dataclass(frozen=True)
class SearchIndex:
    """Per class, the normalised texts it can be found by."""

    texts: tuple[tuple[str, tuple[str, ...]], ...]

    @classmethod
    def build(cls, index: Index) -> SearchIndex:
        rows: list[tuple[str, tuple[str, ...]]] = []
        for rep, members in sorted(index.members.items()):
            texts: set[str] = set()
            for iri in members:
                texts.add(curie(iri))
                if iri in index.pref_label:
                    texts.add(index.pref_label[iri])
                texts.update(index.alt_labels.get(iri, ()))
                texts.update(index.notations.get(iri, ()))
                codes = index.external_codes.get(iri, ())
                texts.update(code.code for code in codes)
                texts.update(index.search_keys(codes))
            normalised = tuple(sorted({normalise_text(t) for t in texts if t.strip()}))
            rows.append((rep, normalised))
        return cls(tuple(rows))

    def ranked(self, query: str, classes: frozenset[str] | None = None) -> Iterator[str]:
        """Class IRIs matching `query`, best first (restricted to `classes` if given)."""
        needle = normalise_text(query)
        if not needle:
            return
        word_start = re.compile(r"(?:^|[^0-9a-z])" + re.escape(needle))
        hits: list[tuple[int, bool, int, str]] = []
        for rep, texts in self.texts:
            if classes is not None and rep not in classes:
                continue
            best: tuple[int, int] | None = None
            for text in texts:
                if needle not in text:
                    continue
                if text == needle:
                    rank = 0
                elif text.startswith(needle):
                    rank = 1
                elif word_start.search(text):
                    rank = 2
                else:
                    rank = 3
                if best is None or (rank, len(text)) < best:
                    best = (rank, len(text))
            if best is not None:
                hits.append((best[0], not rep.startswith(HF), best[1], rep))
        hits.sort()
        for *_, rep in hits:
            yield rep
