"""`ConceptInfo`: what the ontology knows about one concept (JSON-serialisable)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from hyperfed.adapters.hql.bindings import Binding
from hyperfed.adapters.hql.model import Code

__all__ = ["ConceptInfo"]


class ConceptInfo(BaseModel):
    """One concept as seen through its equivalence class (``skos:exactMatch``).

    `broader`, `narrower` and `exact_matches` hold IRIs; `bindings` maps every data model
    to the binding `Ontology.resolve` returns for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    iri: str
    curie: str
    label: str
    alt_labels: tuple[str, ...] = ()
    notation: str | None = None
    category: str | None = None
    broader: tuple[str, ...] = ()
    narrower: tuple[str, ...] = ()
    exact_matches: tuple[str, ...] = ()
    external_codes: tuple[Code, ...] = ()
    search_keys: tuple[str, ...] = ()
    bindings: dict[str, Binding] = {}
