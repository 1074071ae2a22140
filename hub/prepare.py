"""Preparing a researcher's query for the federation (pure, given the ontology).

validate -> check codes, units and concepts (naming the JSON path of anything wrong) ->
canonical form -> bindings of every concept for each data model in the federation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from hyperfed.adapters.hql.bindings import Bindings, EveryoneBinding, SexBinding
from hyperfed.adapters.hql.canonical import canonicalize, query_key
from hyperfed.adapters.hql.errors import Problem, validation_problems
from hyperfed.adapters.hql.model import Query
from hyperfed.adapters.hql.systems import UnknownSystem, canonical_system
from hyperfed.adapters.hql.walk import iter_events
from hyperfed.adapters.units import UnknownUnit, unit
from hyperfed.ontology import Ontology, UnknownConcept

__all__ = ["Prepared", "QueryRejected", "prepare"]


class QueryRejected(Exception):
    """The query is invalid; `problems` name each offending JSON path and value."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p['path']}: {p['message']}" for p in problems))


@dataclass(frozen=True)
class Prepared:
    query: Query
    key: str
    bindings: dict[str, Bindings]


def _check(query: Query, ontology: Ontology) -> list[Problem]:
    problems: list[Problem] = []
    for path, e in iter_events(query.criteria):
        if e.code is not None:
            try:
                canonical_system(e.code.system)
            except UnknownSystem as exc:
                problems.append(
                    {"path": f"{path}.code.system", "message": str(exc), "value": e.code.system}
                )
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
            demographic = isinstance(
                ontology.resolve(e.concept, "omop"), SexBinding | EveryoneBinding
            )
            if demographic and e.has_filters:
                problems.append(
                    {
                        "path": path,
                        "value": e.concept,
                        "message": f"{e.concept} describes a person, not an event: it takes no "
                        "value, during, age, occurrences or within",
                    }
                )
        if e.value is not None and e.value.unit is not None:
            try:
                unit(e.value.unit)
            except UnknownUnit as exc:
                problems.append(
                    {"path": f"{path}.value.unit", "message": str(exc), "value": e.value.unit}
                )
    return problems


def prepare(document: Any, ontology: Ontology, models: set[str], today: dt.date) -> Prepared:
    try:
        query = Query.model_validate(document)
    except ValidationError as exc:
        raise QueryRejected(validation_problems(exc, document)) from exc
    problems = _check(query, ontology)
    if problems:
        raise QueryRejected(problems)
    canonical = canonicalize(query, ontology.expand)
    if canonical.as_of is None:
        canonical = canonical.model_copy(update={"as_of": today})
    bindings: dict[str, Bindings] = {m: {} for m in models}
    for _, e in iter_events(canonical.criteria):
        if e.concept is not None:
            for model in models:
                bindings[model][e.concept] = ontology.resolve(e.concept, model)
    return Prepared(canonical, query_key(canonical), bindings)
