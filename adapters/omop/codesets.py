"""Large code sets: many sibling code criteria of an `any` become one criterion over all
their codes, so that a query over thousands of codes compiles in time linear in their
number (one event subquery per table with one set of concept ids, not one per code).

`any: [{code: A}, {code: B}, {concept: C}, ...]` holds for a person with an event coded A,
or one coded B, or one in C's codes — exactly when the person has an event coded with any
code of A, B or codes(C), as long as the events carry the same filters and no per-criterion
counting (`occurrences`) or anchoring (`within`). `merge_code_sets()` merges each group of
at least `MERGE_AT` such siblings into one event criterion that names a code set
(`urn:hyperfed:code-set:N`, bound to the union of the codes), and returns a `PathMap` that
turns the paths of the rewritten query back into the paths the researcher wrote.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from hyperfed.adapters.compiler import event_binding
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.hql.bindings import BindingBase, CodesBinding
from hyperfed.adapters.hql.model import (
    AllCriterion,
    AnyCriterion,
    Code,
    Criterion,
    EventCriterion,
    NotCriterion,
    Query,
)

__all__ = ["CODE_SET_PREFIX", "MERGE_AT", "PathMap", "merge_code_sets"]

MERGE_AT = 8
"""the fewest sibling code criteria merged into one (smaller `any`s compile as written)."""

CODE_SET_PREFIX = "urn:hyperfed:code-set:"

_INDEX = re.compile(r"\[(\d+)\]")


@dataclass
class PathMap:
    """Paths of the rewritten query -> paths of the query as written."""

    anys: dict[str, tuple[str, list[int]]] = field(default_factory=dict)
    """rewritten path of a rewritten `any` -> (its original path, original index of each
    child)."""
    members: dict[str, dict[tuple[str, str], str]] = field(default_factory=dict)
    """code set IRI -> (system, code) -> original path of the first criterion naming it."""

    def original(self, path: str) -> str:
        """The path as the researcher wrote it."""
        if not self.anys:
            return path
        best = ""
        for key in self.anys:
            if len(key) > len(best) and path.startswith(key + ".any["):
                best = key
        if not best:
            return path
        rest = path[len(best) + len(".any") :]
        found = _INDEX.match(rest)
        assert found is not None
        origin, indexes = self.anys[best]
        i = indexes[int(found.group(1))]
        return f"{origin}.any[{i}]{rest[found.end() :]}"

    def note(self, text: str) -> str:
        """A note that starts with a rewritten path, with the original path."""
        head, sep, tail = text.partition(": ")
        if sep and head.startswith("criteria"):
            return f"{self.original(head)}: {tail}"
        return text

    def code_path(self, concept: str | None, code: Code, path: str) -> str:
        """The original path of the criterion that named `code` (inside a code set)."""
        found = self.members.get(concept or "", {}).get((code.system, code.code))
        return found if found is not None else self.original(path)


def _signature(e: EventCriterion) -> str | None:
    """What the members of one code set share (everything but what names the codes);
    None for a criterion that cannot join one."""
    if e.occurrences is not None or e.within is not None:
        return None
    return e.model_copy(update={"concept": None, "code": None}).model_dump_json()


@dataclass
class _Rewrite:
    bindings: dict[str, BindingBase]
    deadline: Deadline | None
    paths: PathMap = field(default_factory=PathMap)
    n: int = 0

    def criterion(self, c: Criterion, new: str, old: str) -> Criterion:
        if self.deadline is not None:
            self.deadline.check()
        if isinstance(c, AllCriterion):
            kids = [
                self.criterion(x, f"{new}.all[{i}]", f"{old}.all[{i}]") for i, x in enumerate(c.all)
            ]
            return (
                c
                if all(a is b for a, b in zip(kids, c.all, strict=True))
                else AllCriterion(all=kids)
            )
        if isinstance(c, NotCriterion):
            inner = self.criterion(c.not_, f"{new}.not", f"{old}.not")
            return c if inner is c.not_ else NotCriterion(not_=inner)
        if isinstance(c, AnyCriterion):
            return self.any_of(c, new, old)
        return c

    def any_of(self, c: AnyCriterion, new: str, old: str) -> Criterion:
        groups: dict[str, list[int]] = {}
        for i, x in enumerate(c.any):
            if isinstance(x, EventCriterion) and isinstance(
                event_binding(x, self.bindings), CodesBinding
            ):
                sig = _signature(x)
                if sig is not None:
                    groups.setdefault(sig, []).append(i)
        merged = {ix[0]: ix for ix in groups.values() if len(ix) >= MERGE_AT}
        if not merged:
            kids = [
                self.criterion(x, f"{new}.any[{i}]", f"{old}.any[{i}]") for i, x in enumerate(c.any)
            ]
            return (
                c
                if all(a is b for a, b in zip(kids, c.any, strict=True))
                else AnyCriterion(any=kids)
            )
        absorbed = {i for ix in merged.values() for i in ix[1:]}
        children: list[Criterion] = []
        origin: list[int] = []
        for i, x in enumerate(c.any):
            if i in absorbed:
                continue
            j = len(children)
            if i in merged:
                children.append(self.code_set(c, merged[i], old))
            else:
                children.append(self.criterion(x, f"{new}.any[{j}]", f"{old}.any[{i}]"))
            origin.append(i)
        self.paths.anys[new] = (old, origin)
        return AnyCriterion(any=children)

    def code_set(self, c: AnyCriterion, members: list[int], old: str) -> EventCriterion:
        self.n += 1
        iri = f"{CODE_SET_PREFIX}{self.n}"
        codes: dict[tuple[str, str], Code] = {}
        where: dict[tuple[str, str], str] = {}
        for i in members:
            e = c.any[i]
            assert isinstance(e, EventCriterion)
            binding = event_binding(e, self.bindings)
            assert isinstance(binding, CodesBinding)
            for code in binding.codes:
                key = (code.system, code.code)
                codes.setdefault(key, code)
                where.setdefault(key, f"{old}.any[{i}]")
        self.bindings[iri] = CodesBinding(codes=list(codes.values()))
        self.paths.members[iri] = where
        first = c.any[members[0]]
        assert isinstance(first, EventCriterion)
        return first.model_copy(update={"concept": iri, "code": None})


def merge_code_sets(
    query: Query, bindings: Mapping[str, BindingBase], deadline: Deadline | None = None
) -> tuple[Query, dict[str, BindingBase], PathMap]:
    """`query` with large sibling code sets merged (see the module doc), the bindings with
    the code sets added, and the map back to the paths as written."""
    rewrite = _Rewrite(dict(bindings), deadline)
    criteria = rewrite.criterion(query.criteria, "criteria", "criteria")
    if criteria is query.criteria:
        return query, rewrite.bindings, rewrite.paths
    return query.model_copy(update={"criteria": criteria}), rewrite.bindings, rewrite.paths
