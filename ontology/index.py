"""In-memory indexes of a loaded hyperontology, built once and validated at load time.

Concepts linked by ``skos:exactMatch`` (in either direction, transitively) form one
*equivalence class*; hierarchy, categories and bindings are properties of classes. A class
is named by its representative IRI: an hf: member if there is one, else a EUCAIM member.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pyoxigraph import BlankNode, Literal, NamedNode, Quad

from hyperfed.adapters.hql.bindings import BindingBase, Unexpressible
from hyperfed.adapters.hql.model import Code
from hyperfed.ontology.binding_rules import Props, merge_bindings, parse_binding, parse_code_node
from hyperfed.ontology.errors import OntologyInvalid
from hyperfed.ontology.vocab import (
    EUCAIM,
    HF,
    HF_BINDING,
    HF_CATEGORY_CLASS,
    HF_DATA_MODEL,
    HF_EXTERNAL_CODE,
    HF_MODEL_NAME,
    HF_ONTOLOGY,
    OWL_VERSION_INFO,
    RDF_TYPE,
    SEARCH_KEY_PREFIXES,
    SKOS_ALT_LABEL,
    SKOS_BROADER,
    SKOS_CONCEPT,
    SKOS_EXACT_MATCH,
    SKOS_IN_SCHEME,
    SKOS_NARROWER,
    SKOS_NOTATION,
    SKOS_PREF_LABEL,
    curie,
)

__all__ = ["Index", "build_index", "collect"]

Triples = dict[str, Props]


def _key(term: NamedNode | BlankNode | Literal) -> str:
    return "_:" + term.value if isinstance(term, BlankNode) else term.value


def collect(quads: Iterable[Quad]) -> Triples:
    """Group quads by subject and predicate (graph names are ignored)."""
    out: Triples = defaultdict(lambda: defaultdict(list))
    for quad in quads:
        subject, obj = quad.subject, quad.object
        if isinstance(subject, NamedNode | BlankNode) and isinstance(
            obj, NamedNode | BlankNode | Literal
        ):
            out[_key(subject)][quad.predicate.value].append(obj)
    return out


def _iris(props: Props, predicate: str) -> list[str]:
    return [t.value for t in props.get(predicate, []) if isinstance(t, NamedNode)]


def _node_keys(props: Props, predicate: str) -> list[str]:
    return [_key(t) for t in props.get(predicate, []) if not isinstance(t, Literal)]


def _rep_order(iri: str) -> tuple[int, str]:
    return (0 if iri.startswith(HF) else 1 if iri.startswith(EUCAIM) else 2, iri)


@dataclass
class Index:
    """Everything resolution, lookup and search need, keyed by IRI or class."""

    version: str
    concepts: frozenset[str]
    models: tuple[str, ...] = ()
    """the data models bindings may name: those the data declares, then registered ones"""
    class_of: dict[str, str] = field(default_factory=dict)
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    pref_label: dict[str, str] = field(default_factory=dict)
    alt_labels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    notations: dict[str, tuple[str, ...]] = field(default_factory=dict)
    external_codes: dict[str, tuple[Code, ...]] = field(default_factory=dict)
    direct_matches: dict[str, tuple[str, ...]] = field(default_factory=dict)
    outside_matches: dict[str, tuple[str, ...]] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)  # key -> scheme IRI
    category: dict[str, str] = field(default_factory=dict)  # class -> key
    broader: dict[str, tuple[str, ...]] = field(default_factory=dict)
    narrower: dict[str, tuple[str, ...]] = field(default_factory=dict)
    descendants: dict[str, frozenset[str]] = field(default_factory=dict)
    own: dict[tuple[str, str], BindingBase] = field(default_factory=dict)
    resolved: dict[tuple[str, str], BindingBase] = field(default_factory=dict)
    by_lower_iri: dict[str, list[str]] = field(default_factory=dict)
    by_notation: dict[str, str] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)
    by_code: dict[tuple[str, str], str] = field(default_factory=dict)
    by_bound_code: dict[tuple[str, str], str] = field(default_factory=dict)
    """(system, code) -> the one class whose own codes binding names it (ambiguous: absent)"""

    def label(self, iri: str) -> str:
        """The preferred label of `iri`, else of its class, else its local name."""
        if iri in self.pref_label:
            return self.pref_label[iri]
        for member in self.members.get(self.class_of.get(iri, iri), ()):
            if member in self.pref_label:
                return self.pref_label[member]
        return curie(iri).split(":", 1)[-1].rsplit("/", 1)[-1]

    def search_keys(self, codes: Iterable[Code]) -> Iterator[str]:
        for code in codes:
            prefix = SEARCH_KEY_PREFIXES.get(code.system)
            if prefix is not None:
                yield prefix + code.code


def build_index(triples: Triples, registered: tuple[str, ...] = ()) -> Index:
    """Build and validate the indexes; raises `OntologyInvalid` on broken data.

    `registered` are the data models installed here (the adapter registry); bindings may
    name them and the models the data declares (``hf:DataModel`` with ``hf:modelName``)."""
    concepts = frozenset(
        s
        for s, props in triples.items()
        if not s.startswith("_:") and SKOS_CONCEPT in _iris(props, RDF_TYPE)
    )
    versions = [
        t.value
        for t in triples.get(HF_ONTOLOGY, {}).get(OWL_VERSION_INFO, [])
        if isinstance(t, Literal)
    ]
    if len(versions) != 1:
        raise OntologyInvalid(
            f"<{HF_ONTOLOGY}> needs exactly one owl:versionInfo, found {len(versions)}"
        )
    declared = [
        t.value
        for props in triples.values()
        if HF_DATA_MODEL in _iris(props, RDF_TYPE)
        for t in props.get(HF_MODEL_NAME, [])
        if isinstance(t, Literal)
    ]
    models = tuple(dict.fromkeys([*declared, *registered]))
    index = Index(version=versions[0], concepts=concepts, models=models)
    _labels(index, triples)
    _classes(index, triples)
    _categories(index, triples)
    _hierarchy(index, triples)
    _identifiers(index, triples)
    _bindings(index, triples)
    return index


def _labels(index: Index, triples: Triples) -> None:
    for iri in index.concepts:
        props = triples[iri]
        by_language: dict[str, list[str]] = defaultdict(list)
        for term in props.get(SKOS_PREF_LABEL, []):
            if isinstance(term, Literal):
                by_language[term.language or ""].append(term.value)
        for language, values in by_language.items():
            if len(values) > 1:
                raise OntologyInvalid(
                    f"{curie(iri)} has {len(values)} skos:prefLabel values in language "
                    f"{language or 'none'!r}: {', '.join(map(repr, sorted(values)))}"
                )
        chosen = (
            by_language.get("en") or by_language.get("") or next(iter(by_language.values()), [])
        )
        if chosen:
            index.pref_label[iri] = chosen[0]
        alts = sorted({t.value for t in props.get(SKOS_ALT_LABEL, []) if isinstance(t, Literal)})
        index.alt_labels[iri] = tuple(alts)
        notes = sorted({t.value for t in props.get(SKOS_NOTATION, []) if isinstance(t, Literal)})
        index.notations[iri] = tuple(notes)
        index.by_lower_iri.setdefault(iri.lower(), []).append(iri)


def _classes(index: Index, triples: Triples) -> None:
    parent = {iri: iri for iri in index.concepts}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for iri in index.concepts:
        inside: list[str] = []
        outside: list[str] = []
        for target in _iris(triples[iri], SKOS_EXACT_MATCH):
            if target in parent:
                inside.append(target)
                a, b = find(iri), find(target)
                if a != b:
                    parent[a] = b
            else:
                outside.append(target)
        index.direct_matches[iri] = tuple(sorted(inside, key=_rep_order))
        index.outside_matches[iri] = tuple(sorted(outside))
    groups: dict[str, list[str]] = defaultdict(list)
    for iri in index.concepts:
        groups[find(iri)].append(iri)
    for group in groups.values():
        ordered = tuple(sorted(group, key=_rep_order))
        for iri in ordered:
            index.class_of[iri] = ordered[0]
        index.members[ordered[0]] = ordered


def _categories(index: Index, triples: Triples) -> None:
    scheme_key: dict[str, str] = {}
    for subject, props in triples.items():
        if HF_CATEGORY_CLASS in _iris(props, RDF_TYPE):
            keys = [t.value for t in props.get(SKOS_NOTATION, []) if isinstance(t, Literal)]
            if len(keys) != 1 or keys[0] in index.categories:
                raise OntologyInvalid(f"category {curie(subject)} needs one unique skos:notation")
            scheme_key[subject] = keys[0]
            index.categories[keys[0]] = subject
    for cls, members in index.members.items():
        found = {
            scheme_key[s]
            for iri in members
            for s in _iris(triples[iri], SKOS_IN_SCHEME)
            if s in scheme_key
        }
        if len(found) > 1:
            raise OntologyInvalid(
                f"{curie(cls)} (with its exact matches) is in several categories: "
                f"{', '.join(sorted(found))}"
            )
        if found:
            index.category[cls] = found.pop()


def _hierarchy(index: Index, triples: Triples) -> None:
    up: dict[str, set[str]] = defaultdict(set)
    for iri in index.concepts:
        props = triples[iri]
        edges = [(iri, b) for b in _iris(props, SKOS_BROADER)]
        edges += [(n, iri) for n in _iris(props, SKOS_NARROWER)]
        for child, parent in edges:
            if child not in index.concepts or parent not in index.concepts:
                continue
            c, p = index.class_of[child], index.class_of[parent]
            if c == p:
                raise OntologyInvalid(
                    f"{curie(child)} is both an exact match and narrower than {curie(parent)}"
                )
            up[c].add(p)
    down: dict[str, set[str]] = defaultdict(set)
    for child, parents in up.items():
        index.broader[child] = tuple(sorted(parents))
        for p in parents:
            down[p].add(child)
    for p, children in down.items():
        index.narrower[p] = tuple(sorted(children))

    done: dict[str, frozenset[str]] = {}

    def walk(cls: str, path: tuple[str, ...]) -> frozenset[str]:
        if cls in done:
            return done[cls]
        if cls in path:
            cycle = " -> ".join(curie(c) for c in (*path[path.index(cls) :], cls))
            raise OntologyInvalid(f"cycle in the skos:broader hierarchy: {cycle}")
        result: set[str] = set()
        for child in index.narrower.get(cls, ()):
            result.add(child)
            result |= walk(child, (*path, cls))
        done[cls] = frozenset(result)
        return done[cls]

    for cls in index.members:
        walk(cls, ())
    index.descendants = done


def _identifiers(index: Index, triples: Triples) -> None:
    def claim(table: dict[str, str], key: str, iri: str, what: str) -> None:
        other = table.get(key)
        if other is not None and index.class_of[other] != index.class_of[iri]:
            raise OntologyInvalid(
                f"{what} {key!r} names two different concepts: {curie(other)} and {curie(iri)}"
            )
        table.setdefault(key, iri)

    for iri in sorted(index.concepts, key=_rep_order):
        codes: list[Code] = []
        for node in _node_keys(triples[iri], HF_EXTERNAL_CODE):
            codes.append(parse_code_node(triples.get(node, {}), f"{curie(iri)} hf:externalCode"))
        index.external_codes[iri] = tuple(sorted(set(codes), key=lambda c: (c.system, c.code)))
        for code in index.external_codes[iri]:
            other = index.by_code.get((code.system, code.code))
            if other is not None and index.class_of[other] != index.class_of[iri]:
                raise OntologyInvalid(
                    f"code {code.system}|{code.code} names two different concepts: "
                    f"{curie(other)} and {curie(iri)}"
                )
            index.by_code.setdefault((code.system, code.code), iri)
        for key in index.search_keys(index.external_codes[iri]):
            claim(index.by_key, key.lower(), iri, "search key")
        for notation in index.notations[iri]:
            claim(index.by_notation, notation.lower(), iri, "notation")


def _bindings(index: Index, triples: Triples) -> None:
    sources: dict[tuple[str, str], list[tuple[str, BindingBase]]] = defaultdict(list)
    for iri in sorted(index.concepts, key=_rep_order):
        for node in _node_keys(triples[iri], HF_BINDING):
            spec = parse_binding(triples.get(node, {}), curie(iri), index.models)
            for model in spec.models:
                sources[(index.class_of[iri], model)].append((curie(iri), spec.binding))
    for key, found in sources.items():
        index.own[key] = merge_bindings(found, key[1])
    claims: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (cls, _model), own in index.own.items():
        for c in getattr(own, "codes", ()):
            claims[(c.system, c.code)].add(cls)
    index.by_bound_code = {k: next(iter(v)) for k, v in claims.items() if len(v) == 1}
    for (cls, model), own in index.own.items():
        if isinstance(own, Unexpressible):
            index.resolved[(cls, model)] = own
            continue
        parts: list[tuple[str, BindingBase]] = [(curie(cls), own)]
        for child in sorted(index.descendants.get(cls, ())):
            child_binding = index.own.get((child, model))
            if child_binding is not None and not isinstance(child_binding, Unexpressible):
                parts.append((curie(child), child_binding))
        index.resolved[(cls, model)] = merge_bindings(parts, model)
