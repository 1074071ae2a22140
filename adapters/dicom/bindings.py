"""The DICOM binding kind: what a hyperontology concept means in a DICOM tag index.

Declared on `DicomAdapter.BINDING_KINDS`, so the registry (and through it the ontology
loader) knows it like any shared kind. In the hyperontology's Turtle it is spelled

    hf:binding [ hf:model "dicom" ; hf:dicomKeyword "BodyPartExamined" ;
                 hf:dicomValue "CHEST", "LUNG" ]

and means: imaging series whose attribute `keyword` holds one of `values` (exactly, as
DICOM matching does; the ontology lists the spellings in use, e.g. of a manufacturer).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from hyperfed.adapters.hql.bindings import HF_NS, BindingBase, RdfProperty

__all__ = ["DicomBinding"]


class DicomBinding(BindingBase):
    """Imaging series whose DICOM attribute `keyword` equals one of `values`."""

    kind: Literal["dicom"] = "dicom"
    keyword: str
    values: Annotated[list[str], Field(min_length=1)]
    RDF: ClassVar[dict[str, RdfProperty]] = {
        "keyword": RdfProperty(HF_NS + "dicomKeyword", one=True),
        "values": RdfProperty(HF_NS + "dicomValue"),
    }
