"""Namespaces, vocabulary IRIs and small naming helpers of the hyperontology."""

from __future__ import annotations

from typing import Final

from hyperfed.adapters.hql.bindings import HF_NS

__all__ = [
    "ALT_EUCAIM",
    "EUCAIM",
    "EXTERNAL_SYSTEMS",
    "HF",
    "HF_ONTOLOGY",
    "PREFIXES",
    "SEARCH_KEY_PREFIXES",
    "curie",
    "normalise_iri",
]

HF: Final = HF_NS
HF_ONTOLOGY: Final = "https://w3id.org/hyperfed/ontology"
EUCAIM: Final = "https://cancerimage.eu/ontology/EUCAIM#"
"""EUCAIM's OWL class namespace: the canonical namespace of EUCAIM concepts here."""
ALT_EUCAIM: Final = "https://hyperontology.eucaim.cancerimage.eu/#"
"""EUCAIM's DCAT-AP profile / lookup-service namespace: accepted on input, mapped to EUCAIM."""

SKOS: Final = "http://www.w3.org/2004/02/skos/core#"
RDF: Final = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS: Final = "http://www.w3.org/2000/01/rdf-schema#"
OWL: Final = "http://www.w3.org/2002/07/owl#"
DCTERMS: Final = "http://purl.org/dc/terms/"
XSD: Final = "http://www.w3.org/2001/XMLSchema#"

PREFIXES: Final[dict[str, str]] = {
    "hf": HF,
    "eucaim": EUCAIM,
    "skos": SKOS,
    "rdf": RDF,
    "rdfs": RDFS,
    "owl": OWL,
    "dcterms": DCTERMS,
    "xsd": XSD,
}

# Predicates ---------------------------------------------------------------------------------
RDF_TYPE: Final = RDF + "type"
SKOS_CONCEPT: Final = SKOS + "Concept"
SKOS_PREF_LABEL: Final = SKOS + "prefLabel"
SKOS_ALT_LABEL: Final = SKOS + "altLabel"
SKOS_NOTATION: Final = SKOS + "notation"
SKOS_BROADER: Final = SKOS + "broader"
SKOS_NARROWER: Final = SKOS + "narrower"
SKOS_EXACT_MATCH: Final = SKOS + "exactMatch"
SKOS_IN_SCHEME: Final = SKOS + "inScheme"
OWL_VERSION_INFO: Final = OWL + "versionInfo"

HF_CATEGORY_CLASS: Final = HF + "Category"
HF_BINDING: Final = HF + "binding"
HF_MODEL: Final = HF + "model"
HF_SYSTEM: Final = HF + "system"
HF_CODE: Final = HF + "code"
HF_DATA_MODEL: Final = HF + "DataModel"
HF_MODEL_NAME: Final = HF + "modelName"
HF_EXTERNAL_CODE: Final = HF + "externalCode"
HF_EUCAIM_DOMAIN: Final = HF + "eucaimDomain"

# External identifiers -----------------------------------------------------------------------
SNOMED: Final = "http://snomed.info/sct"
RADLEX: Final = "http://radlex.org"
NCIT: Final = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
BIRNLEX: Final = "http://uri.neuinfo.org/nif/nifstd"

SEARCH_KEY_PREFIXES: Final[dict[str, str]] = {
    SNOMED: "SNOMEDCT",
    RADLEX: "",
    NCIT: "",
    BIRNLEX: "",
}
"""How EUCAIM's federated search spells a code as a key: prefix + code (SNOMEDCT363358000,
RID10321, C200140, birnlex_3066). Codes of other systems have no bare key; they are reached
as ``system|code`` or ``alias:code`` (``loinc:718-7``, ``icd10:C18``)."""

EXTERNAL_SYSTEMS: Final[dict[str, str]] = {"birnlex": BIRNLEX}
"""CURIE prefixes for identifier systems that HQL's code systems do not list."""


def normalise_iri(iri: str) -> str:
    """Map an IRI in EUCAIM's alternative namespace onto the canonical EUCAIM namespace."""
    if iri.startswith(ALT_EUCAIM):
        return EUCAIM + iri[len(ALT_EUCAIM) :]
    return iri


def curie(iri: str) -> str:
    """The shortest ``prefix:local`` form of `iri` for the hf: and eucaim: namespaces, or
    the IRI itself."""
    for prefix, namespace in (("hf", HF), ("eucaim", EUCAIM)):
        if iri.startswith(namespace) and len(iri) > len(namespace):
            return f"{prefix}:{iri[len(namespace) :]}"
    return iri
