"""Terminology systems HQL understands: canonical URIs and accepted aliases.

A `code` criterion names its system by canonical URI; common aliases ("SNOMED",
"snomedct", "LOINC" ...) are accepted on input and normalised in the canonical form.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "OMOP_CONCEPT_SYSTEM",
    "SYSTEMS",
    "System",
    "UnknownSystem",
    "canonical_system",
]

OMOP_CONCEPT_SYSTEM = "https://athena.ohdsi.org/search-terms/terms"


@dataclass(frozen=True)
class System:
    uri: str
    name: str
    aliases: tuple[str, ...] = ()


SYSTEMS: tuple[System, ...] = (
    System("http://snomed.info/sct", "SNOMED CT", ("snomed", "snomedct", "sct")),
    System("http://loinc.org", "LOINC", ("loinc",)),
    System("http://hl7.org/fhir/sid/icd-10", "ICD-10", ("icd10", "icd-10")),
    System("http://hl7.org/fhir/sid/icd-10-cm", "ICD-10-CM", ("icd10cm", "icd-10-cm")),
    System("http://terminology.hl7.org/CodeSystem/icd-o-3", "ICD-O-3", ("icdo3", "icd-o-3")),
    System("http://www.nlm.nih.gov/research/umls/rxnorm", "RxNorm", ("rxnorm",)),
    System("http://dicom.nema.org/resources/ontology/DCM", "DICOM DCM", ("dcm", "dicom")),
    System("http://radlex.org", "RadLex", ("radlex", "rid")),
    System("http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl", "NCIt", ("ncit",)),
    System("http://unitsofmeasure.org", "UCUM", ("ucum",)),
    System("http://www.whocc.no/atc", "ATC", ("atc",)),
    System("http://hl7.org/fhir/sid/cvx", "CVX", ("cvx",)),
    System("http://terminology.hl7.org/CodeSystem/mdr", "MedDRA", ("meddra", "mdr")),
    System(OMOP_CONCEPT_SYSTEM, "OMOP concept id", ("omop",)),
)

_BY_KEY: dict[str, System] = {}
for _s in SYSTEMS:
    _BY_KEY[_s.uri.lower()] = _s
    for _a in _s.aliases:
        _BY_KEY[_a] = _s


class UnknownSystem(ValueError):
    """A code system URI or alias HQL does not know."""

    def __init__(self, system: str) -> None:
        self.system = system
        known = ", ".join(s.uri for s in SYSTEMS)
        super().__init__(f"unknown code system {system!r}; known systems: {known}")


def canonical_system(system: str) -> System:
    """The system named by a canonical URI (any case, trailing slash tolerated) or alias."""
    key = system.strip().lower().rstrip("/")
    found = _BY_KEY.get(key)
    if found is None:
        raise UnknownSystem(system)
    return found
