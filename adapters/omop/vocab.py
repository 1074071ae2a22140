"""Resolving terminology codes to this node's OMOP concept ids, through its own CONCEPT,
CONCEPT_RELATIONSHIP ('Maps to') and CONCEPT_ANCESTOR tables.

`code_refs()` and `unit_codes()` (pure) list what a query needs; `lookup()` (I/O) asks
the database once per batch and returns a `VocabLookup` the pure compiler reads.
Partial vocabularies are handled and reported: a code missing from CONCEPT is matched on
source values; when CONCEPT_ANCESTOR is missing or empty, descendants are derived from
CONCEPT_RELATIONSHIP ('Subsumes', and 'Is a' read backwards), transitively; without either,
descendants are not expanded. Every such decision is a note.

Large sets are looked up in batches of `BATCH` values (the deadline is checked between
batches) and matched to what comes back through indexes, so a look-up of thousands of codes
takes time linear in their number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from hyperfed.adapters.compiler import event_binding
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.hql.bindings import Bindings, CodesBinding
from hyperfed.adapters.hql.model import Query
from hyperfed.adapters.hql.systems import OMOP_CONCEPT_SYSTEM, canonical_system
from hyperfed.adapters.hql.walk import iter_events
from hyperfed.adapters.omop.schema import CdmSchema
from hyperfed.adapters.omop.tables import GENDER_CONCEPTS, OMOP_VOCABULARIES
from hyperfed.adapters.sql import Runner, Table, fetch_query, table_expr
from hyperfed.adapters.sql.build import value_set
from hyperfed.adapters.units import compatible_units

_GENDER_IDS = {i for ids in GENDER_CONCEPTS.values() for i in ids if i}

__all__ = [
    "BATCH",
    "CodeRef",
    "ResolvedCode",
    "VocabLookup",
    "code_refs",
    "lookup",
    "unit_codes",
]

BATCH = 2000
"""values per look-up query (the deadline is checked between batches)."""


def _batches(values: Iterable[Any], deadline: Deadline | None) -> Iterator[list[Any]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), BATCH):
        if deadline is not None:
            deadline.check()
        yield ordered[start : start + BATCH]


@dataclass(frozen=True, order=True)
class CodeRef:
    system: str
    code: str
    descendants: bool


@dataclass(frozen=True)
class ResolvedCode:
    """How one code is matched in this database."""

    by_domain: dict[str, tuple[int, ...]] = field(default_factory=dict)
    any_domain: tuple[int, ...] = ()
    source_values: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    unsupported: str | None = None


@dataclass(frozen=True)
class VocabLookup:
    codes: dict[CodeRef, ResolvedCode]
    units: dict[str, tuple[int, ...]]
    notes: tuple[str, ...] = ()


def _vocabulary(system: str) -> str | None:
    return OMOP_VOCABULARIES.get(canonical_system(system).uri)


def code_refs(query: Query, bindings: Bindings) -> set[CodeRef]:
    """The codes `query` names (its own and its concepts'), as looked up here."""
    refs: set[CodeRef] = set()
    for _, e in iter_events(query.criteria):
        binding = event_binding(e, bindings)
        if isinstance(binding, CodesBinding):
            for code in binding.codes:
                refs.add(CodeRef(code.system, code.code, e.descendants))
    return refs


def unit_codes(query: Query) -> set[str]:
    units: set[str] = set()
    for _, e in iter_events(query.criteria):
        if e.value is not None and e.value.unit is not None:
            units.update(u.code for u in compatible_units(e.value.unit))
    return units


def _t(schema: CdmSchema, t: Table) -> exp.Table:
    return table_expr(schema.schema, t.name)


def _c(t: Table, name: str) -> exp.Column:
    real = t.col(name)
    if real is None:
        raise KeyError(f"{t.name}.{name}")
    return exp.column(real, quoted=True)


def _ints(values: Iterable[int]) -> list[exp.Expr]:
    return [exp.Literal.number(int(v)) for v in sorted(set(values))]


def _strs(values: Iterable[str]) -> list[exp.Expr]:
    return [exp.Literal.string(v) for v in sorted(set(values))]


@dataclass
class _Concept:
    concept_id: int
    vocabulary: str
    code: str
    domain: str
    standard: str | None


def lookup(
    runner: Runner,
    schema: CdmSchema,
    refs: Iterable[CodeRef],
    units: Iterable[str],
    deadline: Deadline | None = None,
) -> VocabLookup:
    """How each code and unit is matched in this database (a few batched queries)."""
    refs = sorted(set(refs))
    concept = schema.table("concept") if schema.has_rows("concept") else None
    notes: list[str] = []
    if concept is None:
        notes.append("this node has no usable CONCEPT table: codes are matched on source values")

    def fetch(q: exp.Expr) -> list[tuple]:
        return fetch_query(runner, q, deadline)

    def fetch_in(query: Callable[[list[Any]], exp.Expr], values: Iterable[Any]) -> list[tuple]:
        """The rows of `query(batch)` for every batch of `values`."""
        return [row for batch in _batches(values, deadline) for row in fetch(query(batch))]

    def concepts_where(cond: exp.Expr) -> list[_Concept]:
        assert concept is not None
        cols = ["concept_id", "vocabulary_id", "concept_code", "domain_id", "standard_concept"]
        q = exp.select(*[_c(concept, c) for c in cols]).from_(_t(schema, concept)).where(cond)
        return [_Concept(int(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4]) for r in fetch(q)]

    # 1. codes -> concepts
    found: dict[CodeRef, list[_Concept]] = {r: [] for r in refs}
    by_vocab: dict[str, set[str]] = {}
    ids: set[int] = set()
    for r in refs:
        if canonical_system(r.system).uri == OMOP_CONCEPT_SYSTEM:
            if r.code.isdigit():
                ids.add(int(r.code))
        else:
            vocab = _vocabulary(r.system)
            if vocab is not None:
                by_vocab.setdefault(vocab, set()).add(r.code)
    known: list[_Concept] = []
    if concept is not None:
        for v, codes in sorted(by_vocab.items()):
            for batch in _batches(codes, deadline):
                known += concepts_where(
                    exp.and_(
                        _c(concept, "vocabulary_id").isin(*_strs([v])),
                        value_set(_c(concept, "concept_code"), batch, runner.dialect),
                    )
                )
        for id_batch in _batches(ids, deadline):
            known += concepts_where(value_set(_c(concept, "concept_id"), id_batch, runner.dialect))
    by_id: dict[str, list[_Concept]] = {}
    by_code: dict[tuple[str, str], list[_Concept]] = {}
    # a concept found by both look-ups is listed once
    for c in {c.concept_id: c for c in known}.values():
        by_id.setdefault(str(c.concept_id), []).append(c)
        by_code.setdefault((c.vocabulary.lower(), c.code), []).append(c)
    for r in refs:
        if canonical_system(r.system).uri == OMOP_CONCEPT_SYSTEM:
            matches = by_id.get(r.code, [])
        else:
            matches = by_code.get(((_vocabulary(r.system) or "").lower(), r.code), [])
        found[r].extend(matches)

    # 2. non-standard -> standard via 'Maps to'
    nonstandard = {
        c.concept_id for cs in found.values() for c in cs if c.standard not in ("S", "C")
    }
    maps: dict[int, list[_Concept]] = {}
    rel = schema.table("concept_relationship") if schema.has_rows("concept_relationship") else None
    if nonstandard and rel is not None and concept is not None:
        relation, vocabulary = rel, concept

        def maps_to(batch: list[int]) -> exp.Expr:
            return (
                exp.select(_c(relation, "concept_id_1"), _c(relation, "concept_id_2"))
                .from_(_t(schema, relation))
                .where(_c(relation, "relationship_id").eq(exp.Literal.string("Maps to")))
                .where(
                    _c(relation, "invalid_reason").is_(exp.null())
                    if relation.col("invalid_reason")
                    else exp.true()
                )
                .where(value_set(_c(relation, "concept_id_1"), batch, runner.dialect))
            )

        mapped = [(int(a), int(b)) for a, b in fetch_in(maps_to, nonstandard)]
        target_concepts = {
            c.concept_id: c
            for batch in _batches({b for _, b in mapped}, deadline)
            for c in concepts_where(value_set(_c(vocabulary, "concept_id"), batch, runner.dialect))
        }
        for a, b in mapped:
            if b in target_concepts:
                maps.setdefault(a, []).append(target_concepts[b])

    # 3. descendants through CONCEPT_ANCESTOR
    anc = schema.table("concept_ancestor") if schema.has_rows("concept_ancestor") else None
    standard_roots: set[int] = set()
    for r, cs in found.items():
        if r.descendants:
            for c in cs:
                for s in maps.get(c.concept_id, [c]) if c.standard not in ("S", "C") else [c]:
                    standard_roots.add(s.concept_id)
    pairs: list[tuple[int, int]] = []
    if standard_roots and anc is not None:
        ancestor = anc

        def below(batch: list[int]) -> exp.Expr:
            return (
                exp.select(
                    _c(ancestor, "ancestor_concept_id"), _c(ancestor, "descendant_concept_id")
                )
                .from_(_t(schema, ancestor))
                .where(value_set(_c(ancestor, "ancestor_concept_id"), batch, runner.dialect))
            )

        pairs = [(int(a), int(d)) for a, d in fetch_in(below, standard_roots)]
    elif standard_roots and rel is not None and _has_hierarchy(fetch, schema, rel):
        pairs = _subsumed(fetch, schema, rel, standard_roots, runner.dialect)
        notes.append(
            "this node's CONCEPT_ANCESTOR table is missing or empty: descendants of codes "
            "are derived from CONCEPT_RELATIONSHIP ('Subsumes', 'Is a')"
        )
    elif standard_roots:
        notes.append(
            "this node's CONCEPT_ANCESTOR table is missing or empty: descendants of codes are "
            "not included, so counts may be lower than with a full vocabulary"
        )
    descendants: dict[int, list[tuple[int, str | None]]] = {}
    desc_ids = {d for _, d in pairs}
    domains: dict[int, str] = {}
    if desc_ids and concept is not None:
        table = concept

        def domain_of(batch: list[int]) -> exp.Expr:
            return (
                exp.select(_c(table, "concept_id"), _c(table, "domain_id"))
                .from_(_t(schema, table))
                .where(value_set(_c(table, "concept_id"), batch, runner.dialect))
            )

        domains = {int(i): str(d) for i, d in fetch_in(domain_of, desc_ids)}
    for a, d in pairs:
        descendants.setdefault(a, []).append((d, domains.get(d)))

    resolved = {r: _resolve_one(r, found[r], maps, descendants) for r in refs}

    # 4. units
    unit_ids: dict[str, tuple[int, ...]] = {}
    units = sorted(set(units))
    if units and concept is not None:
        q = (
            exp.select(_c(concept, "concept_id"), _c(concept, "concept_code"))
            .from_(_t(schema, concept))
            .where(_c(concept, "vocabulary_id").eq(exp.Literal.string("UCUM")))
            .where(value_set(_c(concept, "concept_code"), units, runner.dialect))
        )
        acc: dict[str, list[int]] = {}
        for cid, code in fetch(q):
            acc.setdefault(str(code), []).append(int(cid))
        unit_ids = {k: tuple(sorted(v)) for k, v in acc.items()}
    return VocabLookup(resolved, unit_ids, tuple(notes))


_MAX_LEVELS = 100  # deeper than any terminology's hierarchy


def _hierarchy_rows(rel: Table) -> exp.Expr:
    valid = _c(rel, "invalid_reason").is_(exp.null()) if rel.col("invalid_reason") else exp.true()
    kinds = _c(rel, "relationship_id").isin(*_strs(["Subsumes", "Is a"]))
    return exp.and_(valid, kinds)


def _has_hierarchy(fetch: Callable[[exp.Expr], list[tuple]], schema: CdmSchema, rel: Table) -> bool:
    """Whether CONCEPT_RELATIONSHIP holds any valid 'Subsumes' / 'Is a' row."""
    probe = exp.select(exp.Literal.number(1)).from_(_t(schema, rel)).where(_hierarchy_rows(rel))
    return bool(fetch(exp.select(exp.Exists(this=probe.limit(1))))[0][0])


def _subsumed(
    fetch: Callable[[exp.Expr], list[tuple]],
    schema: CdmSchema,
    rel: Table,
    roots: set[int],
    dialect: str = "duckdb",
) -> list[tuple[int, int]]:
    """(root, descendant) pairs, each root included, from 'Subsumes' (parent -> child) and
    'Is a' (child -> parent) rows, level by level (one query per level; cycles end)."""
    reached: dict[int, set[int]] = {r: {r} for r in roots}  # node -> roots it descends from
    frontier = set(roots)
    c1, c2, rid = _c(rel, "concept_id_1"), _c(rel, "concept_id_2"), _c(rel, "relationship_id")
    for _ in range(_MAX_LEVELS):
        if not frontier:
            break
        q = (
            exp.select(c1.copy(), c2.copy(), rid.copy())
            .from_(_t(schema, rel))
            .where(_hierarchy_rows(rel))
            .where(
                exp.or_(
                    exp.and_(
                        rid.copy().eq(exp.Literal.string("Subsumes")),
                        value_set(c1.copy(), frontier, dialect),
                    ),
                    exp.and_(
                        rid.copy().eq(exp.Literal.string("Is a")),
                        value_set(c2.copy(), frontier, dialect),
                    ),
                )
            )
        )
        step: dict[int, set[int]] = {}
        for a, b, kind in fetch(q):
            parent, child = (int(a), int(b)) if kind == "Subsumes" else (int(b), int(a))
            if parent in frontier:
                step.setdefault(child, set()).update(reached[parent])
        frontier = set()
        for child, from_roots in step.items():
            new = from_roots - reached.get(child, set())
            if new:
                reached.setdefault(child, set()).update(new)
                frontier.add(child)
    return sorted((r, node) for node, rs in reached.items() for r in rs)


def _label(r: CodeRef) -> str:
    return f"{canonical_system(r.system).name} {r.code}"


def _resolve_one(
    r: CodeRef,
    concepts: list[_Concept],
    maps: dict[int, list[_Concept]],
    descendants: dict[int, list[tuple[int, str | None]]],
) -> ResolvedCode:
    system = canonical_system(r.system)
    if not concepts:
        if canonical_system(r.system).uri == OMOP_CONCEPT_SYSTEM:
            if not r.code.isdigit():
                return ResolvedCode(unsupported=f"OMOP concept id {r.code!r} is not a number")
            if int(r.code) in _GENDER_IDS:  # gender concepts live on PERSON, not in events
                return ResolvedCode(by_domain={"Gender": (int(r.code),)})
            return ResolvedCode(
                any_domain=(int(r.code),),
                notes=(
                    f"OMOP concept {r.code} is not in this node's CONCEPT table: "
                    "matched in every event table, without descendants",
                ),
            )
        if _vocabulary(r.system) is None:
            return ResolvedCode(
                unsupported=f"{system.name} codes have no OMOP vocabulary ({_label(r)})"
            )
        return ResolvedCode(
            source_values=(r.code,),
            notes=(
                f"{_label(r)} is not in this node's vocabulary: matched on source values "
                "only, without descendants",
            ),
        )
    by_domain: dict[str, set[int]] = {}
    notes: list[str] = []
    for c in concepts:
        targets = [c]
        if c.standard not in ("S", "C"):
            targets = maps.get(c.concept_id, [])
            if targets:
                names = ", ".join(f"{t.vocabulary} {t.code}" for t in targets)
                notes.append(f"{_label(r)} is non-standard: mapped to standard {names}")
            else:
                targets = [c]
                notes.append(f"{_label(r)} is non-standard and has no 'Maps to': matched as is")
        for t in targets:
            by_domain.setdefault(t.domain, set()).add(t.concept_id)
            if r.descendants:
                for d, dom in descendants.get(t.concept_id, []):
                    by_domain.setdefault(dom or t.domain, set()).add(d)
    return ResolvedCode(
        by_domain={k: tuple(sorted(v)) for k, v in sorted(by_domain.items())},
        notes=tuple(notes),
    )
