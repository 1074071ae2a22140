"""Reading binding nodes of the RDF binding vocabulary, and merging bindings.

A binding node (the object of ``hf:binding``) names one or more data models (``hf:model``)
and exactly one way of finding the concept there:

=====================  ==========================================================  ==========
kind                   properties                                                  `Binding`
=====================  ==========================================================  ==========
everyone               ``hf:everyone true``                                        Everyone
sex                    ``hf:sex "female"|"male"|"other"|"unknown"``                Sex
codes                  ``hf:system <uri>`` + ``hf:code "..."`` (one or more)       Codes
dicom                  ``hf:dicomKeyword`` + ``hf:dicomValue`` (one or more)       Dicom
sdtm                   ``hf:sdtmDomain`` + ``hf:sdtmVariable`` + ``hf:sdtmTerm``+  Sdtm
unexpressible          ``hf:unexpressible "why"``                                  Unexpressible
=====================  ==========================================================  ==========

Merging (several nodes for one model, or a concept and its narrower concepts) takes the
union of codes / values / terms, deduplicated and sorted; bindings of different kinds, DICOM
keywords, SDTM variables or sexes cannot be merged and raise `OntologyInvalid`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal as TypingLiteral
from typing import cast

from pyoxigraph import BlankNode, Literal, NamedNode

from hyperfed.adapters.hql.bindings import (
    Binding,
    CodesBinding,
    DicomBinding,
    EveryoneBinding,
    SdtmBinding,
    SexBinding,
    Unexpressible,
)
from hyperfed.adapters.hql.model import Code
from hyperfed.adapters.hql.systems import UnknownSystem, canonical_system
from hyperfed.ontology.errors import OntologyInvalid
from hyperfed.ontology.vocab import (
    HF_CODE,
    HF_DICOM_KEYWORD,
    HF_DICOM_VALUE,
    HF_EVERYONE,
    HF_MODEL,
    HF_SDTM_DOMAIN,
    HF_SDTM_TERM,
    HF_SDTM_VARIABLE,
    HF_SEX,
    HF_SYSTEM,
    HF_UNEXPRESSIBLE,
    MODELS,
    curie,
)

__all__ = ["BindingSpec", "Props", "merge_bindings", "parse_binding", "parse_code_node"]

Term = NamedNode | BlankNode | Literal
Props = dict[str, list[Term]]
"""The predicates (IRIs) and objects of one RDF subject."""

_SEXES = ("female", "male", "other", "unknown")
_KIND_PROPERTIES = {
    "everyone": (HF_EVERYONE,),
    "sex": (HF_SEX,),
    "codes": (HF_SYSTEM, HF_CODE),
    "dicom": (HF_DICOM_KEYWORD, HF_DICOM_VALUE),
    "sdtm": (HF_SDTM_DOMAIN, HF_SDTM_VARIABLE, HF_SDTM_TERM),
    "unexpressible": (HF_UNEXPRESSIBLE,),
}


@dataclass(frozen=True)
class BindingSpec:
    """One binding node: the models it serves and the binding it means there."""

    models: tuple[str, ...]
    binding: Binding


def _literals(props: Props, predicate: str, owner: str) -> list[str]:
    values: list[str] = []
    for term in props.get(predicate, []):
        if not isinstance(term, Literal):
            raise OntologyInvalid(f"{owner}: {curie(predicate)} must be a literal, got {term}")
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


def parse_binding(props: Props, owner: str) -> BindingSpec:
    """Read one binding node of concept `owner` (a CURIE, used in error messages)."""
    models = sorted(set(_literals(props, HF_MODEL, owner)))
    if not models:
        raise OntologyInvalid(f"{owner}: a binding names no hf:model")
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise OntologyInvalid(
            f"{owner}: unknown hf:model {', '.join(map(repr, unknown))}; "
            f"valid models: {', '.join(MODELS)}"
        )
    kinds = [k for k, ps in _KIND_PROPERTIES.items() if any(p in props for p in ps)]
    if len(kinds) != 1:
        raise OntologyInvalid(
            f"{owner}: a binding must be exactly one of {', '.join(_KIND_PROPERTIES)}; "
            f"found {', '.join(kinds) or 'none'} (models {', '.join(models)})"
        )
    ordered = tuple(m for m in MODELS if m in models)
    return BindingSpec(ordered, _binding_of_kind(kinds[0], props, owner))


def _binding_of_kind(kind: str, props: Props, owner: str) -> Binding:
    if kind == "everyone":
        if _one(props, HF_EVERYONE, owner).lower() not in ("true", "1"):
            raise OntologyInvalid(f"{owner}: hf:everyone must be true")
        return EveryoneBinding()
    if kind == "sex":
        sex = _one(props, HF_SEX, owner)
        if sex not in _SEXES:
            raise OntologyInvalid(f"{owner}: hf:sex {sex!r} is not one of {', '.join(_SEXES)}")
        return SexBinding(sex=cast(TypingLiteral["female", "male", "other", "unknown"], sex))
    if kind == "codes":
        system = _system(props, owner)
        try:
            canonical = canonical_system(system).uri
        except UnknownSystem as exc:
            raise OntologyInvalid(f"{owner}: {exc}") from exc
        if canonical != system:
            raise OntologyInvalid(
                f"{owner}: code system <{system}> is not canonical; write <{canonical}>"
            )
        codes = sorted(set(_literals(props, HF_CODE, owner)))
        if not codes:
            raise OntologyInvalid(f"{owner}: a codes binding needs at least one hf:code")
        return CodesBinding(codes=[Code(system=system, code=c) for c in codes])
    if kind == "dicom":
        values = sorted(set(_literals(props, HF_DICOM_VALUE, owner)))
        if not values:
            raise OntologyInvalid(f"{owner}: a DICOM binding needs at least one hf:dicomValue")
        return DicomBinding(keyword=_one(props, HF_DICOM_KEYWORD, owner), values=values)
    if kind == "sdtm":
        terms = sorted(set(_literals(props, HF_SDTM_TERM, owner)))
        if not terms:
            raise OntologyInvalid(f"{owner}: an SDTM binding needs at least one hf:sdtmTerm")
        return SdtmBinding(
            domain=_one(props, HF_SDTM_DOMAIN, owner),
            variable=_one(props, HF_SDTM_VARIABLE, owner),
            terms=terms,
        )
    return Unexpressible(reason=_one(props, HF_UNEXPRESSIBLE, owner))


def _describe(binding: Binding) -> str:
    if isinstance(binding, DicomBinding):
        return f"dicom {binding.keyword}"
    if isinstance(binding, SdtmBinding):
        return f"sdtm {binding.domain}.{binding.variable}"
    if isinstance(binding, SexBinding):
        return f"sex {binding.sex}"
    return binding.kind


def merge_bindings(sources: Sequence[tuple[str, Binding]], model: str) -> Binding:
    """Merge the bindings `sources` (concept CURIE, binding) for one model into one.

    Raises `OntologyInvalid` naming the concepts when the bindings cannot be merged."""
    if not sources:
        raise ValueError("merge_bindings needs at least one binding")
    first = sources[0][1]
    signatures = {_describe(b) for _, b in sources}
    if len(signatures) > 1:
        listing = "; ".join(f"{_describe(b)} ({owner})" for owner, b in sources)
        raise OntologyInvalid(
            f"bindings for model {model!r} cannot be merged (mixed kinds): {listing}"
        )
    if isinstance(first, CodesBinding):
        codes = {(c.system, c.code) for _, b in sources for c in cast(CodesBinding, b).codes}
        return CodesBinding(codes=[Code(system=s, code=c) for s, c in sorted(codes)])
    if isinstance(first, DicomBinding):
        values = {v for _, b in sources for v in cast(DicomBinding, b).values}
        return DicomBinding(keyword=first.keyword, values=sorted(values))
    if isinstance(first, SdtmBinding):
        terms = {t for _, b in sources for t in cast(SdtmBinding, b).terms}
        return SdtmBinding(domain=first.domain, variable=first.variable, terms=sorted(terms))
    if isinstance(first, Unexpressible):
        reasons = dict.fromkeys(cast(Unexpressible, b).reason for _, b in sources)
        return Unexpressible(reason="; ".join(reasons))
    return first
