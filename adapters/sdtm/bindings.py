"""The SDTM binding kind: what a hyperontology concept means in a folder of SDTM datasets.

    hf:binding [ hf:model "sdtm" ; hf:sdtmDomain "MH", "AE" ;
                 hf:sdtmVariable "MHDECOD", "AEDECOD" ; hf:sdtmTerm "ASTHMA" ]

means: records of domain MH whose MHDECOD, or of domain AE whose AEDECOD, is one of the terms.
Each variable names its domain by its prefix (`MHDECOD` is MH's --DECOD), so a binding pairs
every domain with the variables of that domain: one binding can name a condition recorded as
medical history or as an adverse event, a drug given as concomitant medication (CM/CMDECOD) or
as study treatment (EX/EXTRT). Terms compare ignoring case (SDTM's controlled terms are upper
case). Bindings of a concept and its narrower concepts merge by taking the union of the three
lists; the pairing by prefix keeps a merged binding from reading MHDECOD in AE.

Declared by `SdtmAdapter.BINDING_KINDS`; the ontology finds it through the adapter registry.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from hyperfed.adapters.hql.bindings import HF_NS, BindingBase, RdfProperty

__all__ = ["SdtmBinding"]

_Names = Annotated[
    list[Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9]{1,7}$")]], Field(min_length=1)
]


class SdtmBinding(BindingBase):
    """SDTM records of any of `domains` in which one of `variables` (each of its domain, by
    prefix) takes one of the controlled `terms`."""

    kind: Literal["sdtm"] = "sdtm"
    domains: _Names
    variables: _Names
    terms: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    RDF: ClassVar[dict[str, RdfProperty]] = {
        "domains": RdfProperty(HF_NS + "sdtmDomain"),
        "variables": RdfProperty(HF_NS + "sdtmVariable"),
        "terms": RdfProperty(HF_NS + "sdtmTerm"),
    }

    @field_validator("domains", "variables")
    @classmethod
    def _upper(cls, names: list[str]) -> list[str]:
        return sorted({n.upper() for n in names})

    @model_validator(mode="after")
    def _paired(self) -> SdtmBinding:
        for v in self.variables:
            if not any(v.startswith(d) and len(v) > len(d) for d in self.domains):
                raise ValueError(
                    f"variable {v} belongs to none of the domains {', '.join(self.domains)} "
                    "(a variable starts with its domain, e.g. MHDECOD for MH)"
                )
        for d in self.domains:
            if not self.suffixes(d):
                raise ValueError(f"domain {d} has no variable in {', '.join(self.variables)}")
        return self

    def suffixes(self, domain: str) -> list[str]:
        """The variables of `domain` without its prefix (MHDECOD -> DECOD), sorted."""
        return sorted(
            v[len(domain) :]
            for v in self.variables
            if v.startswith(domain) and len(v) > len(domain)
        )
