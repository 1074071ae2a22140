"""Canonical form of an HQL query: equivalent spellings become one value.

- code systems are written as canonical URIs (aliases such as "SNOMED" are accepted);
- concept references are expanded to IRIs by the caller's `expand` (the ontology's);
- nested `all`/`all` and `any`/`any` are flattened, one-child groups unwrapped,
  `not`/`not` removed, duplicate children dropped and children sorted;
- default values are dropped (`descendants: true`, `occurrences: {min: 1}`).

`query_key()` is the SHA-256 of the canonical JSON: the identity of a question for the
audit log and caches.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from hyperfed.adapters.hql.model import (
    AgeCriterion,
    AllCriterion,
    AnyCriterion,
    Code,
    Criterion,
    EventCriterion,
    NotCriterion,
    Occurrences,
    Query,
    Within,
)
from hyperfed.adapters.hql.systems import canonical_system

__all__ = ["canonical_json", "canonicalize", "criterion_json", "query_key"]

Expand = Callable[[str], str]


def _identity(ref: str) -> str:
    return ref


def _event(c: EventCriterion, expand: Expand) -> EventCriterion:
    code = None
    if c.code is not None:
        code = Code(system=canonical_system(c.code.system).uri, code=c.code.code.strip())
    occurrences = c.occurrences
    if occurrences is not None and occurrences == Occurrences():
        occurrences = None
    within = None
    if c.within is not None:
        within = Within(
            of=_event(c.within.of, expand),
            days_before=c.within.days_before,
            days_after=c.within.days_after,
        )
    body_site = None
    if c.body_site is not None:
        body_site = Code(
            system=canonical_system(c.body_site.system).uri, code=c.body_site.code.strip()
        )
    return c.model_copy(
        update={
            "concept": expand(c.concept) if c.concept is not None else None,
            "code": code,
            "body_site": body_site,
            "occurrences": occurrences,
            "within": within,
        }
    )


def criterion_json(c: Criterion) -> str:
    """Compact, key-sorted JSON of a criterion without default values."""
    data = _dump(c)
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)


def _group(children: list[Criterion], kind: type[AllCriterion] | type[AnyCriterion]) -> Criterion:
    flat: list[Criterion] = []
    for child in children:
        if isinstance(child, kind):
            flat.extend(child.all if isinstance(child, AllCriterion) else child.any)
        else:
            flat.append(child)
    unique: dict[str, Criterion] = {}
    for child in flat:
        unique.setdefault(criterion_json(child), child)
    ordered = [unique[k] for k in sorted(unique)]
    if len(ordered) == 1:
        return ordered[0]
    if kind is AllCriterion:
        return AllCriterion(all=ordered)
    return AnyCriterion(any=ordered)


def _criterion(c: Criterion, expand: Expand) -> Criterion:
    if isinstance(c, AllCriterion):
        return _group([_criterion(x, expand) for x in c.all], AllCriterion)
    if isinstance(c, AnyCriterion):
        return _group([_criterion(x, expand) for x in c.any], AnyCriterion)
    if isinstance(c, NotCriterion):
        inner = _criterion(c.not_, expand)
        if isinstance(inner, NotCriterion):
            return inner.not_
        return NotCriterion(not_=inner)
    if isinstance(c, AgeCriterion):
        return c
    return _event(c, expand)


def canonicalize(query: Query, expand: Expand | None = None) -> Query:
    """The canonical form of `query`. `expand` maps a concept reference to its IRI and
    raises for unknown concepts; without it, concept references are kept as written."""
    return query.model_copy(update={"criteria": _criterion(query.criteria, expand or _identity)})


def canonical_json(query: Query) -> str:
    return json.dumps(_dump(query), sort_keys=True, separators=(",", ":"))


def query_key(query: Query) -> str:
    return hashlib.sha256(canonical_json(query).encode()).hexdigest()
