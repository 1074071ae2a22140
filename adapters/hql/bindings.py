"""What a hyperontology concept means in one data model: the output of concept resolution.

The hub resolves every `concept` in a query through the hyperontology, for the data model
of each target node, and sends the node the query together with a `Bindings` map
(concept IRI -> binding). `code` criteria need no binding: each compiler understands the
terminology systems it supports.

Binding kinds are open. Every kind is a frozen pydantic model derived from `BindingBase`
with a literal `kind` and an `RDF` table saying which hyperontology properties spell it, so
the ontology reads, validates and merges any kind without knowing it. The shared kinds —
`everyone`, `sex` (person concepts), `codes`, `unexpressible` — are understood by every model;
a data model declares kinds of its own on its adapter class (`BINDING_KINDS`), and
`binding_kinds()` collects them through the adapter registry.

Errors: `BindingError` (a ValueError): an unknown kind, or bindings that cannot be merged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    WithJsonSchema,
)

from hyperfed.adapters.hql.model import Code, EventCriterion

__all__ = [
    "HF_NS",
    "SHARED_KINDS",
    "Binding",
    "BindingBase",
    "BindingError",
    "Bindings",
    "CodesBinding",
    "EveryoneBinding",
    "PersonBinding",
    "RdfProperty",
    "SexBinding",
    "Unexpressible",
    "binding_kinds",
    "code_key",
    "parse_binding",
    "person_concept_misuse",
]

HF_NS = "https://w3id.org/hyperfed/ontology#"
"""The hyperontology's namespace (binding properties are hf: terms)."""

Sex = Literal["female", "male", "other", "unknown"]


class BindingError(ValueError):
    """An unknown binding kind, or bindings that cannot be merged (the message names them)."""


@dataclass(frozen=True)
class RdfProperty:
    """How one field of a binding is spelled in the hyperontology's RDF."""

    iri: str
    one: bool = False
    """exactly one value (a scalar field); else one or more (a list field)."""
    is_iri: bool = False
    """the value is an IRI, not a literal."""


class BindingBase(BaseModel):
    """Base of every binding kind."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    RDF: ClassVar[dict[str, RdfProperty]] = {}
    """field (or key) -> RDF property; the properties identify the kind in RDF."""

    @classmethod
    def kind_name(cls) -> str:
        default = cls.model_fields["kind"].default
        if not isinstance(default, str):
            raise TypeError(f"{cls.__name__} needs a literal default for `kind`")
        return default

    @classmethod
    def from_rdf(cls, values: dict[str, list[str]]) -> Self:
        """Build the binding from its RDF values (key -> values, keys of `RDF`); scalar keys
        come with exactly one value (the ontology checks that)."""
        data: dict[str, Any] = {
            key: (values[key][0] if prop.one else sorted(set(values[key])))
            for key, prop in cls.RDF.items()
            if key in values
        }
        return cls.model_validate(data)

    def signature(self) -> str:
        """The kind and its scalar fields: bindings merge only when these agree."""
        scalars = [str(getattr(self, k)) for k, p in self.RDF.items() if p.one]
        return " ".join([self.kind, *scalars])

    def merge(self, others: Sequence[BindingBase]) -> Self:
        """This binding with the list fields of `others` (same signature) unioned."""
        update: dict[str, Any] = {}
        for key, prop in self.RDF.items():
            if not prop.one:
                merged = {v for b in (self, *others) for v in getattr(b, key)}
                update[key] = sorted(merged)
        return self.model_copy(update=update)


class PersonBinding(BindingBase):
    """A concept that describes a person (holds for persons), not an event."""


class EveryoneBinding(PersonBinding):
    """The concept holds for every person (hf:Person)."""

    kind: Literal["everyone"] = "everyone"
    RDF: ClassVar[dict[str, RdfProperty]] = {"everyone": RdfProperty(HF_NS + "everyone", one=True)}

    @classmethod
    def from_rdf(cls, values: dict[str, list[str]]) -> Self:
        if values["everyone"][0].lower() not in ("true", "1"):
            raise BindingError("hf:everyone must be true")
        return cls()

    def signature(self) -> str:
        return self.kind


class SexBinding(PersonBinding):
    """Administrative sex / gender of the person (model-neutral; each compiler maps it)."""

    kind: Literal["sex"] = "sex"
    sex: Sex
    RDF: ClassVar[dict[str, RdfProperty]] = {"sex": RdfProperty(HF_NS + "sex", one=True)}


class CodesBinding(BindingBase):
    """Events coded with any of `codes` (and, unless the criterion says otherwise, their
    descendants). Codes are standard terminology codes by system URI; the system
    `https://athena.ohdsi.org/search-terms/terms` carries OMOP concept ids."""

    kind: Literal["codes"] = "codes"
    codes: Annotated[list[Code], Field(min_length=1)]
    RDF: ClassVar[dict[str, RdfProperty]] = {
        "system": RdfProperty(HF_NS + "system", one=True, is_iri=True),
        "code": RdfProperty(HF_NS + "code"),
    }

    @classmethod
    def from_rdf(cls, values: dict[str, list[str]]) -> Self:
        from hyperfed.adapters.hql.systems import UnknownSystem, canonical_system

        system = values["system"][0]
        try:
            canonical = canonical_system(system).uri
        except UnknownSystem as exc:
            raise BindingError(str(exc)) from exc
        if canonical != system:
            raise BindingError(f"code system <{system}> is not canonical; write <{canonical}>")
        codes = sorted(set(values.get("code", [])))
        if not codes:
            raise BindingError("a codes binding needs at least one hf:code")
        return cls(codes=[Code(system=system, code=c) for c in codes])

    def signature(self) -> str:
        return self.kind

    def merge(self, others: Sequence[BindingBase]) -> Self:
        pairs = {(c.system, c.code) for b in (self, *others) for c in getattr(b, "codes", [])}
        return self.model_copy(update={"codes": [Code(system=s, code=c) for s, c in sorted(pairs)]})


class Unexpressible(BindingBase):
    """The concept cannot be expressed in the target model: the node must report the
    criterion as unsupported rather than drop it (a count is never silently broadened)."""

    kind: Literal["unexpressible"] = "unexpressible"
    reason: str
    RDF: ClassVar[dict[str, RdfProperty]] = {
        "reason": RdfProperty(HF_NS + "unexpressible", one=True)
    }

    def signature(self) -> str:
        return self.kind

    def merge(self, others: Sequence[BindingBase]) -> Self:
        reasons = dict.fromkeys(getattr(b, "reason", "") for b in (self, *others))
        return self.model_copy(update={"reason": "; ".join(r for r in reasons if r)})


SHARED_KINDS: tuple[type[BindingBase], ...] = (
    EveryoneBinding,
    SexBinding,
    CodesBinding,
    Unexpressible,
)
"""Kinds every node understands (each model's compiler decides what it can evaluate)."""


def binding_kinds() -> dict[str, type[BindingBase]]:
    """Every known binding kind: the shared ones and those declared by registered models."""
    from hyperfed.adapters.registry import binding_kinds as registered

    return registered()


def parse_binding(value: Any) -> BindingBase:
    """A binding of any known kind, from its JSON form (or as is)."""
    if isinstance(value, BindingBase):
        return value
    if not isinstance(value, dict):
        raise ValueError("a binding is an object with a 'kind'")
    kinds = binding_kinds()
    kind = value.get("kind")
    cls = kinds.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown binding kind {kind!r}; known kinds: {', '.join(sorted(kinds))}")
    try:
        return cls.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ValueError(f"{kind} binding: {where}: {first['msg']}") from exc


_BINDING_SCHEMA = {
    "type": "object",
    "description": "A concept binding; `kind` is one of the binding kinds the node knows.",
    "properties": {"kind": {"type": "string"}},
    "required": ["kind"],
    "additionalProperties": True,
}

Binding = Annotated[
    SerializeAsAny[BindingBase], BeforeValidator(parse_binding), WithJsonSchema(_BINDING_SCHEMA)
]

Bindings = dict[str, Binding]


def code_key(code: Code, descendants: bool = True) -> str:
    """The `Bindings` key of a `code` criterion the hub translated through the ontology for
    a model that does not read the code's system itself: `system|code`, with its narrower
    concepts; `system|code|self` for the concept alone (`"descendants": false`)."""
    key = f"{code.system}|{code.code}"
    return key if descendants else key + "|self"


def person_concept_misuse(e: EventCriterion) -> str | None:
    """The one rule for person concepts (sex, everyone) used like events: they take no
    event filters. Returns the message for a misuse, None when `e` is fine."""
    if not e.has_filters:
        return None
    return (
        f"{e.concept} describes a person, not an event: it takes no "
        "value, during, age, occurrences or within"
    )
