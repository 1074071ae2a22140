"""What a hyperontology concept means in one data model: the output of concept resolution.

The hub resolves every `concept` in a query through the hyperontology, for the data model
of each target node, and sends the node the query together with a `Bindings` map
(concept IRI -> `Binding`). `code` criteria need no binding: each compiler understands
the terminology systems it supports.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from hyperfed.adapters.hql.model import Code

__all__ = [
    "Binding",
    "Bindings",
    "CodesBinding",
    "DicomBinding",
    "EveryoneBinding",
    "SdtmBinding",
    "SexBinding",
    "Unexpressible",
]

Sex = Literal["female", "male", "other", "unknown"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EveryoneBinding(_Frozen):
    """The concept holds for every person (hf:Person)."""

    kind: Literal["everyone"] = "everyone"


class SexBinding(_Frozen):
    """Administrative sex / gender of the person (model-neutral; each compiler maps it)."""

    kind: Literal["sex"] = "sex"
    sex: Sex


class CodesBinding(_Frozen):
    """Events coded with any of `codes` (and, unless the criterion says otherwise, their
    descendants). Codes are standard terminology codes by system URI; for OMOP the
    system `https://athena.ohdsi.org/search-terms/terms` carries OMOP concept ids."""

    kind: Literal["codes"] = "codes"
    codes: Annotated[list[Code], Field(min_length=1)]


class DicomBinding(_Frozen):
    """Imaging series whose DICOM attribute `keyword` equals one of `values`."""

    kind: Literal["dicom"] = "dicom"
    keyword: str
    values: Annotated[list[str], Field(min_length=1)]


class SdtmBinding(_Frozen):
    """SDTM records in `domain` whose `variable` takes one of the controlled `terms`."""

    kind: Literal["sdtm"] = "sdtm"
    domain: str
    variable: str
    terms: Annotated[list[str], Field(min_length=1)]


class Unexpressible(_Frozen):
    """The concept cannot be expressed in the target model: the node must report the
    criterion as unsupported rather than drop it (a count is never silently broadened)."""

    kind: Literal["unexpressible"] = "unexpressible"
    reason: str


Binding = Annotated[
    EveryoneBinding | SexBinding | CodesBinding | DicomBinding | SdtmBinding | Unexpressible,
    Field(discriminator="kind"),
]

Bindings = dict[str, Binding]
