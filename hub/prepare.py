"""Preparing a researcher's query for the federation (pure, given the ontology).

validate -> check codes, units and concepts (naming the JSON path of anything wrong) ->
canonical form -> bindings of every concept for each data model in the federation.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from hyperfed.adapters.errors import UnknownAdapter
from hyperfed.adapters.hql.bindings import (
    Bindings,
    PersonBinding,
    code_key,
    person_concept_misuse,
)
from hyperfed.adapters.hql.canonical import canonicalize, query_key
from hyperfed.adapters.hql.errors import Problem, validation_problems
from hyperfed.adapters.hql.model import Code, Query, dated
from hyperfed.adapters.hql.systems import UnknownSystem, canonical_system
from hyperfed.adapters.hql.walk import iter_events
from hyperfed.adapters.registry import load_adapter_class
from hyperfed.adapters.units import UnknownUnit, unit
from hyperfed.hub.errors import HubError
from hyperfed.ontology import Ontology, UnknownConcept

__all__ = ["Prepared", "QueryRejected", "prepare"]


class QueryRejected(HubError):
    """The query is invalid; `problems` name each offending JSON path and value."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p['path']}: {p['message']}" for p in problems))


@dataclass(frozen=True)
class Prepared:
    query: Query
    key: str
    bindings: dict[str, Bindings]


def _system(code: Code | None, path: str) -> list[Problem]:
    if code is None:
        return []
    try:
        canonical_system(code.system)
    except UnknownSystem as exc:
        return [{"path": f"{path}.system", "message": str(exc), "value": code.system}]
    return []


def _check(query: Query, ontology: Ontology, models: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    for path, e in iter_events(query.criteria):
        problems += _system(e.code, f"{path}.code")
        problems += _system(e.body_site, f"{path}.body_site")
        if e.concept is not None:
            try:
                ontology.expand(e.concept)
            except UnknownConcept as exc:
                problems.append(
                    {
                        "path": f"{path}.concept",
                        "message": str(exc),
                        "value": e.concept,
                        "suggestions": list(exc.suggestions),
                    }
                )
                continue
            person = any(
                isinstance(ontology.resolve(e.concept, m), PersonBinding) for m in ontology.models
            )
            misuse = person_concept_misuse(e) if person else None
            if misuse is not None:
                problems.append({"path": path, "value": e.concept, "message": misuse})
        if e.value is not None and e.value.unit is not None:
            try:
                unit(e.value.unit)
            except UnknownUnit as exc:
                problems.append(
                    {"path": f"{path}.value.unit", "message": str(exc), "value": e.value.unit}
                )
    for model in sorted(models):  # what a node's model refuses (unknown DICOM keywords ...)
        # a model not installed here is judged by its nodes themselves
        with contextlib.suppress(UnknownAdapter):
            problems += load_adapter_class(model).query_problems(query)
    return problems


def _reads(model: str, system: str) -> bool:
    """Whether nodes of `model` read codes of `system` themselves (else the hub translates a
    code through the ontology); unknown models are trusted to."""
    try:
        native = load_adapter_class(model).NATIVE_SYSTEMS
    except UnknownAdapter:
        return True
    return native is None or system in native


def prepare(document: Any, ontology: Ontology, models: set[str], today: dt.date) -> Prepared:
    try:
        query = Query.model_validate(document)
    except ValidationError as exc:
        raise QueryRejected(validation_problems(exc, document)) from exc
    problems = _check(query, ontology, models)
    if problems:
        raise QueryRejected(problems)
    canonical = dated(canonicalize(query, ontology.canonical), today)
    bindings: dict[str, Bindings] = {m: {} for m in models}
    for _, e in iter_events(canonical.criteria):
        for model in models:
            if e.concept is not None:
                bindings[model][e.concept] = ontology.resolve(e.concept, model)
            elif e.code is not None and not _reads(model, e.code.system):
                iri = ontology.concept_for_code(e.code.system, e.code.code)
                if iri is not None:  # "descendants": false -> the concept without narrower ones
                    bindings[model][code_key(e.code, e.descendants)] = ontology.resolve(
                        iri, model, narrower=e.descendants
                    )
    return Prepared(canonical, query_key(canonical), bindings)
