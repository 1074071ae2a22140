"""Element cardinalities and types of FHIR R4 (from `fhir.resources`' R4B models).

`element("Observation", "code")` -> `(False, "CodeableConcept")`; `("component")` ->
`(True, "ObservationComponent")`. The compiler uses them to turn member chains into one
JSONPath (``$.code.coding[*].code``) that DuckDB evaluates in a single call, instead of a
lambda per step. Unknown types or elements give None and the compiler falls back to its
generic (cardinality-blind) navigation, so the results are the same, only slower.
R4B differs from R4 in a few resources outside what the adapter's views read.
"""

from __future__ import annotations

import re
from functools import cache

__all__ = ["choice_types", "element", "primitive"]

_COMPLEX = re.compile(r"abc\.(\w+?)Type\b")
_ANNOTATED = re.compile(r"Annotated\[[^,]+, (\w+)\(")
_PRIMITIVE_NAMES = {
    "bool": "boolean",
    "Boolean": "boolean",
    "String": "string",
    "Code": "code",
    "Id": "id",
    "Uri": "uri",
    "Url": "url",
    "Canonical": "canonical",
    "Oid": "oid",
    "Uuid": "uuid",
    "Markdown": "markdown",
    "Base64Binary": "base64Binary",
    "Date": "date",
    "DateTime": "dateTime",
    "Instant": "instant",
    "Time": "time",
    "Integer": "integer",
    "Integer64": "integer64",
    "PositiveInt": "positiveInt",
    "UnsignedInt": "unsignedInt",
    "Decimal": "decimal",
    "Xhtml": "xhtml",
}
_PRIMITIVES = set(_PRIMITIVE_NAMES.values())


def primitive(type_name: str | None) -> bool:
    return type_name in _PRIMITIVES


def _type_of(annotation: str) -> str | None:
    m = _COMPLEX.search(annotation)
    if m:
        return m.group(1)
    m = _ANNOTATED.search(annotation)
    if m:
        return _PRIMITIVE_NAMES.get(m.group(1))
    if re.search(r"\bbool\b", annotation):
        return "boolean"
    return None


@cache
def _fields(type_name: str) -> dict[str, tuple[bool, str | None]] | None:
    if not type_name[:1].isupper():
        return None
    try:
        from fhir.resources.R4B import get_fhir_model_class

        model = get_fhir_model_class(type_name)
    except Exception:
        return None
    out: dict[str, tuple[bool, str | None]] = {}
    for field in model.model_fields.values():
        alias = field.alias or ""
        if not alias or alias.startswith("_") or alias == "fhir_comments":
            continue
        text = str(field.annotation)
        out[alias] = ("List[" in text, _type_of(text))
    return out


def element(type_name: str | None, name: str) -> tuple[bool, str | None] | None:
    """(is a list, element type) of `type_name.name`, or None when unknown."""
    if type_name is None:
        return None
    fields = _fields(type_name)
    if fields is None:
        return None
    return fields.get(name)


def choice_types(type_name: str | None, name: str) -> list[str]:
    """The typed keys of choice element `name[x]` of `type_name` (empty if not a choice)."""
    fields = _fields(type_name) if type_name else None
    if not fields or name in fields:
        return []
    return [k for k in fields if k.startswith(name) and k[len(name) : len(name) + 1].isupper()]
