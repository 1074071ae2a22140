"""`Ontology`: the loaded hyperontology (an Oxigraph store plus in-memory indexes).

Loading parses the packaged Turtle (and any extra RDF files) once, validates it and builds
every index; after that, `expand`, `concept`, `resolve` and `search` are pure lookups.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib.resources import files
from pathlib import Path

from pyoxigraph import (
    BlankNode,
    DefaultGraph,
    NamedNode,
    Quad,
    RdfFormat,
    Store,
    Triple,
    parse,
    serialize,
)

from hyperfed.adapters.hql.bindings import BindingBase, Unexpressible
from hyperfed.ontology.concept import ConceptInfo
from hyperfed.ontology.errors import (
    OntologyInvalid,
    UnknownCategory,
    UnknownConcept,
    UnsupportedModel,
)
from hyperfed.ontology.index import Index, build_index, collect
from hyperfed.ontology.lookup import find_iri, suggestion_candidates, suggestions
from hyperfed.ontology.search import SearchIndex
from hyperfed.ontology.sparql import SparqlLimits, SparqlPool, SparqlResult, run_query
from hyperfed.ontology.vocab import ALT_EUCAIM, HF_ONTOLOGY, PREFIXES, curie, normalise_iri

__all__ = ["PACKAGED_TURTLE", "Ontology"]

PACKAGED_TURTLE = "hyperfed.ttl"
"""The packaged Turtle file, in ``ontology/data/``."""


def _packaged_quads() -> list[Quad]:
    data = files("hyperfed.ontology").joinpath("data", PACKAGED_TURTLE).read_bytes()
    try:
        return list(parse(data, format=RdfFormat.TURTLE, base_iri=HF_ONTOLOGY))
    except SyntaxError as exc:
        raise OntologyInvalid(f"packaged {PACKAGED_TURTLE}: {exc}") from exc


def _normalised(quad: Quad) -> Quad:
    subject, obj = quad.subject, quad.object
    if isinstance(subject, NamedNode) and subject.value.startswith(ALT_EUCAIM):
        subject = NamedNode(normalise_iri(subject.value))
    if isinstance(obj, NamedNode) and obj.value.startswith(ALT_EUCAIM):
        obj = NamedNode(normalise_iri(obj.value))
    return Quad(subject, quad.predicate, obj, DefaultGraph())


def _order(triple: Triple) -> tuple[int, str, str, str]:
    subject = triple.subject
    rank = 0 if subject == NamedNode(HF_ONTOLOGY) else 2 if isinstance(subject, BlankNode) else 1
    return (rank, str(subject), str(triple.predicate), str(triple.object))


def _file_quads(path: Path) -> Iterable[Quad]:
    fmt = RdfFormat.from_extension(path.suffix.lstrip(".").lower())
    if path.suffix.lower() == ".owl":
        fmt = RdfFormat.RDF_XML
    if fmt is None:
        raise OntologyInvalid(f"{path}: cannot tell the RDF format from the file name")
    try:
        quads = list(parse(path=str(path), format=fmt, rename_blank_nodes=True))
    except SyntaxError as exc:
        raise OntologyInvalid(f"{path}: {exc}") from exc
    except OSError as exc:
        raise OntologyInvalid(f"{path}: cannot read the file ({exc})") from exc
    return (_normalised(q) for q in quads)


class Ontology:
    """The hyperontology. Build it with `Ontology.load`; it is immutable afterwards."""

    def __init__(self, store: Store, index: Index) -> None:
        self._store = store
        self._index = index
        self._search = SearchIndex.build(index)
        self._info: dict[str, ConceptInfo] = {}
        self._fallback: dict[tuple[str, str], Unexpressible] = {}
        self._candidates: dict[str, str] | None = None
        self._in_category: dict[str, frozenset[str]] = {
            key: frozenset(c for c, k in index.category.items() if k == key)
            for key in index.categories
        }

    @classmethod
    def load(cls, extra_files: Sequence[Path] = ()) -> Ontology:
        """Load the packaged ontology plus `extra_files` (Turtle, N-Triples, RDF/XML ...,
        e.g. a full EUCAIM import made with `ontology.eucaim.eucaim_csv_to_turtle`).

        Raises `OntologyInvalid` when a file cannot be parsed or the data breaks a rule."""
        quads = _packaged_quads()
        for path in extra_files:
            quads.extend(_file_quads(Path(path)))
        from hyperfed.adapters.registry import model_names

        store = Store()
        store.extend(quads)
        # the indexes read the quads in file order (declared data models keep theirs)
        index = build_index(collect(dict.fromkeys(quads)), tuple(model_names()))
        return cls(store, index)

    # -- identity --------------------------------------------------------------------------

    @property
    def version(self) -> str:
        """The ontology version (owl:versionInfo of the Hyperfed ontology header)."""
        return self._index.version

    @property
    def categories(self) -> tuple[str, ...]:
        """The category keys (``sex``, ``condition``, ``modality`` ...)."""
        return tuple(sorted(self._index.categories))

    @property
    def models(self) -> tuple[str, ...]:
        """The data models concepts can be bound to: those the data declares, then the
        registered ones (`hyperfed.adapters.registry`)."""
        from hyperfed.adapters.registry import model_names

        return tuple(dict.fromkeys([*self._index.models, *model_names()]))

    @property
    def concept_count(self) -> int:
        """How many concept IRIs (skos:Concept) are loaded, hf: names included."""
        return len(self._index.concepts)

    def expand(self, ref: str) -> str:
        """The IRI of the concept `ref` names (see `ontology.lookup` for accepted forms).

        An hf: name keeps its hf: IRI; a EUCAIM IRI in the alternative namespace becomes the
        canonical EUCAIM IRI. Raises `UnknownConcept` with close matches otherwise."""
        iri = find_iri(self._index, ref)
        if iri is None:
            if self._candidates is None:
                self._candidates = suggestion_candidates(self._index)
            raise UnknownConcept(ref, suggestions(self._candidates, ref))
        return iri

    def canonical(self, ref: str) -> str:
        """The one IRI every spelling of a concept becomes in the canonical form of a query:
        the representative of its equivalence class (its hf: name when it has one, else its
        EUCAIM IRI). `hf:LungCancer`, `eucaim:CLIN1000065` and `snomed:363358000` give one
        IRI, so one question has one key (and one noise draw)."""
        return self._index.class_of[self.expand(ref)]

    def concept_for_code(self, system: str, code: str) -> str | None:
        """The concept (its class IRI) an external code names: an ``hf:externalCode`` of
        it, else the one concept whose own codes binding holds exactly that code."""
        found = self._index.by_code.get((system, code.strip()))
        if found is not None:
            return self._index.class_of[found]
        return self._index.by_bound_code.get((system, code.strip()))

    # -- concepts --------------------------------------------------------------------------

    def concept(self, ref: str) -> ConceptInfo:
        """Everything known about the concept `ref` names."""
        return self._concept_info(self.expand(ref))

    def concepts(self, category: str | None = None) -> list[ConceptInfo]:
        """One `ConceptInfo` per equivalence class (its representative), by IRI."""
        self._check_category(category)
        return [
            self._concept_info(rep)
            for rep in sorted(self._index.members)
            if category is None or self._index.category.get(rep) == category
        ]

    def search(self, text: str, limit: int = 20, category: str | None = None) -> list[ConceptInfo]:
        """Concepts whose label, alternative label, notation, code or search key contains
        `text` (any case), best first: exact > prefix > word prefix > substring."""
        self._check_category(category)
        allowed = None if category is None else self._in_category[category]
        found: list[ConceptInfo] = []
        for rep in self._search.ranked(text, allowed):
            if len(found) >= limit:
                break
            found.append(self._concept_info(rep))
        return found

    # -- resolution ------------------------------------------------------------------------

    def resolve(self, ref: str, model: str, *, narrower: bool = True) -> BindingBase:
        """The binding of concept `ref` in data model `model` (one of `models`).

        Exact matches share bindings; a concept's binding is merged with those of all its
        transitively narrower concepts (with `narrower=False`: its own binding alone, for a
        code asked without its descendants). A concept without a binding of its own for
        `model` resolves to `Unexpressible` (its narrower concepts alone could undercount)."""
        if model not in self.models:
            raise UnsupportedModel(model, self.models)
        iri = self.expand(ref)
        cls = self._index.class_of[iri]
        found = (self._index.resolved if narrower else self._index.own).get((cls, model))
        if found is not None and not isinstance(found, Unexpressible):
            return found
        key = (iri, model)
        if key not in self._fallback:
            name = f"{curie(iri)} ({self._index.label(iri)})"
            reason = (
                f"concept {name} cannot be expressed in the {model} data model: {found.reason}"
                if found is not None
                else self._no_binding_reason(name, cls, model)
            )
            self._fallback[key] = Unexpressible(reason=reason)
        return self._fallback[key]

    def _no_binding_reason(self, name: str, cls: str, model: str) -> str:
        bound = [
            curie(c)
            for c in sorted(self._index.descendants.get(cls, ()))
            if (c, model) in self._index.resolved
            and not isinstance(self._index.resolved[(c, model)], Unexpressible)
        ]
        if bound:
            shown = ", ".join(bound[:8]) + (" ..." if len(bound) > 8 else "")
            return (
                f"concept {name} has no binding for the {model} data model; narrower concepts "
                f"have one ({shown}): name them to query them"
            )
        return f"concept {name} has no binding for the {model} data model"

    # -- RDF -------------------------------------------------------------------------------

    def sparql(
        self, query: str, *, limits: SparqlLimits | None = None, pool: SparqlPool | None = None
    ) -> SparqlResult:
        """Run a read-only SPARQL query: SPARQL 1.1 JSON results (a dict) for SELECT and ASK,
        a Turtle string for CONSTRUCT and DESCRIBE. Raises `SparqlRejected` for UPDATE
        requests and syntax errors (`hyperfed.ontology.sparql`: guarded, in a worker
        process of `pool` within `limits`)."""
        return run_query(self._store, query, limits=limits, pool=pool)

    def to_turtle(self) -> str:
        """The whole graph as Turtle (the ontology header first, then concepts by IRI)."""
        quads = self._store.quads_for_pattern(None, None, None, DefaultGraph())
        triples = sorted((Triple(q.subject, q.predicate, q.object) for q in quads), key=_order)
        data = serialize(triples, format=RdfFormat.TURTLE, prefixes=PREFIXES)
        assert data is not None
        return data.decode("utf-8")

    # -- helpers ---------------------------------------------------------------------------

    def _check_category(self, category: str | None) -> None:
        if category is not None and category not in self._index.categories:
            raise UnknownCategory(category, self.categories)

    def _concept_info(self, iri: str) -> ConceptInfo:
        cached = self._info.get(iri)
        if cached is not None:
            return cached
        index = self._index
        cls = index.class_of[iri]
        members = index.members[cls]
        label = index.label(iri)
        alts: dict[str, None] = {}
        for member in members:
            if member != iri and member in index.pref_label:
                alts[index.pref_label[member]] = None
            alts.update(dict.fromkeys(index.alt_labels.get(member, ())))
        alts.pop(label, None)
        nearest = (iri, *index.direct_matches.get(iri, ()), *members)
        notations = [n for m in nearest for n in index.notations.get(m, ())]
        codes = {c for m in members for c in index.external_codes.get(m, ())}
        external = tuple(sorted(codes, key=lambda c: (c.system, c.code)))
        outside = [o for m in members for o in index.outside_matches.get(m, ())]
        info = ConceptInfo(
            iri=iri,
            curie=curie(iri),
            label=label,
            alt_labels=tuple(alts),
            notation=notations[0] if notations else None,
            category=index.category.get(cls),
            broader=index.broader.get(cls, ()),
            narrower=index.narrower.get(cls, ()),
            exact_matches=tuple([m for m in members if m != iri] + sorted(set(outside))),
            external_codes=external,
            search_keys=tuple(sorted(set(index.search_keys(external)))),
            bindings={model: self.resolve(iri, model) for model in self.models},
        )
        self._info[iri] = info
        return info
