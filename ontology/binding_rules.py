"""Reading binding nodes of the RDF binding vocabulary, and merging bindings.

A binding node (the object of ``hf:binding``) names one or more data models (``hf:model``)
and exactly one way of finding the concept there: one binding *kind*. Kinds are open
(`hyperfed.adapters.hql.bindings`): each declares the hf: properties that spell it (its
`RDF` table), so this module reads any kind — the shared ones (``hf:everyone``, ``hf:sex``,
``hf:system`` + ``hf:code``, ``hf:unexpressible``) and those a data model declares (DICOM's
``hf:dicomKeyword`` + ``hf:dicomValue``, SDTM's ``hf:sdtmDomain`` + ``hf:sdtmVariable`` +
``hf:sdtmTerm`` ...) — without a list of its own.

Merging (several nodes for one model, or a concept and its narrower concepts) takes the
union of the list fields (codes, values, terms), deduplicated and sorted; bindings of
different kinds or scalar fields (DICOM keywords, SDTM variables, sexes) cannot be merged
and raise `OntologyInvalid`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError
from pyoxigraph import BlankNode, Literal, NamedNode

from hyperfed.adapters.hql.bindings import BindingBase, BindingError, binding_kinds
from hyperfed.adapters.hql.model import Code
from hyperfed.ontology.errors import OntologyInvalid
from hyperfed.ontology.vocab import HF_CODE, HF_MODEL, HF_SYSTEM, curie

__all__ = ["BindingSpec", "Props", "merge_bindings", "parse_binding", "parse_code_node"]

Term = NamedNode | BlankNode | Literal
Props = dict[str, list[Term]]
"""The predicates (IRIs) and objects of one RDF subject."""


@dataclass(frozen=True)
class BindingSpec:
    """One binding node: the models it serves and the binding it means there."""

    models: tuple[str, ...]
    binding: BindingBase


def _literals(props: Props, predicate: str, owner: str) -> list[str]:
    values: list[str] = []
    for term in props.get(predicate, []):
        if not isinstance(term, Literal):
            raise OntologyInvalid(f"{owner}: {curie(predicate)} must be a literal, got {term}")
        values.append(term.value)
    return values


def _iris(props: Props, predicate: str, owner: str) -> list[str]:
    values: list[str] = []
    for term in props.get(predicate, []):
        if not isinstance(term, NamedNode):
            raise OntologyInvalid(f"{owner}: {curie(predicate)} must be an IRI, got {term}")
        values.append(term.value)
    return values


def _one(props: Props, predicate: str, owner: str) -> str:
    values = _literals(props, predicate, owner)
    if len(values) != 1:
        raise OntologyInvalid(
            f"{owner}: a binding needs exactly one {curie(predicate)}, got {len(values)}"
        )
    return values[0]


def _system(props: Props, owner: str) -> str:
    systems = props.get(HF_SYSTEM, [])
    if len(systems) != 1 or not isinstance(systems[0], NamedNode):
        raise OntologyInvalid(f"{owner}: needs exactly one hf:system IRI, got {systems}")
    return systems[0].value


def parse_code_node(props: Props, owner: str) -> Code:
    """An ``hf:externalCode`` node: one hf:system IRI and one hf:code."""
    return Code(system=_system(props, owner), code=_one(props, HF_CODE, owner))


def _invalid(owner: str, exc: ValidationError) -> OntologyInvalid:
    first = exc.errors()[0]
    where = ".".join(str(x) for x in first["loc"])
    value = f" {first['input']!r}" if not isinstance(first.get("input"), dict) else ""
    return OntologyInvalid(f"{owner}: {where}{value}: {first['msg']}")


def parse_binding(props: Props, owner: str, models: Sequence[str]) -> BindingSpec:
    """Read one binding node of concept `owner` (a CURIE, used in error messages); `models`
    are the data models bindings may name (in their order)."""
    named = sorted(set(_literals(props, HF_MODEL, owner)))
    if not named:
        raise OntologyInvalid(f"{owner}: a binding names no hf:model")
    unknown = [m for m in named if m not in models]
    if unknown:
        raise OntologyInvalid(
            f"{owner}: unknown hf:model {', '.join(map(repr, unknown))}; "
            f"valid models: {', '.join(models)}"
        )
    kinds = binding_kinds()
    found = [cls for cls in kinds.values() if any(p.iri in props for p in cls.RDF.values())]
    if len(found) != 1:
        raise OntologyInvalid(
            f"{owner}: a binding must be exactly one of {', '.join(kinds)}; "
            f"found {', '.join(c.kind_name() for c in found) or 'none'} "
            f"(models {', '.join(named)})"
        )
    cls = found[0]
    values: dict[str, list[str]] = {}
    for key, prop in cls.RDF.items():
        got = (_iris if prop.is_iri else _literals)(props, prop.iri, owner)
        if prop.one and len(got) != 1:
            raise OntologyInvalid(
                f"{owner}: a binding needs exactly one {curie(prop.iri)}, got {len(got)}"
            )
        if got:
            values[key] = got
    try:
        binding = cls.from_rdf(values)
    except BindingError as exc:
        raise OntologyInvalid(f"{owner}: {exc}") from exc
    except ValidationError as exc:
        raise _invalid(owner, exc) from exc
    return BindingSpec(tuple(m for m in models if m in named), binding)


def merge_bindings(sources: Sequence[tuple[str, BindingBase]], model: str) -> BindingBase:
    """Merge the bindings `sources` (concept CURIE, binding) for one model into one.

    Raises `OntologyInvalid` naming the concepts when the bindings cannot be merged."""
    if not sources:
        raise ValueError("merge_bindings needs at least one binding")
    first = sources[0][1]
    if len({b.signature() for _, b in sources}) > 1:
        listing = "; ".join(f"{b.signature()} ({owner})" for owner, b in sources)
        raise OntologyInvalid(
            f"bindings for model {model!r} cannot be merged (mixed kinds): {listing}"
        )
    return first.merge([b for _, b in sources[1:]])
