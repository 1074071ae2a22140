"""The Hyperfed hyperontology: SKOS concepts (EUCAIM's first, our hf: names mapped onto
them) and their bindings to OMOP CDM, FHIR R4, CDISC SDTM and DICOM tag indexes.

    >>> from hyperfed.ontology import Ontology
    >>> onto = Ontology.load()
    >>> onto.expand("SNOMEDCT363358000")
    'https://cancerimage.eu/ontology/EUCAIM#CLIN1000065'
    >>> onto.resolve("hf:CT", "dicom")
    DicomBinding(kind='dicom', keyword='Modality', values=['CT'])

Data: ``ontology/data/hyperfed.ttl`` (package data); a full EUCAIM import is made with
`eucaim_csv_to_turtle` and loaded with ``Ontology.load(extra_files=[...])``.

Errors::

    OntologyError                       base of everything raised here
    ├── UnknownConcept (LookupError)    a reference names no concept; .ref, .suggestions
    ├── UnsupportedModel (ValueError)   a data model neither the data declares nor the
    │                                   adapter registry knows
    ├── UnknownCategory (ValueError)    a category filter that is not a category key
    ├── OntologyInvalid (ValueError)    data that cannot be loaded: parse errors, mixed
    │                                   binding kinds for one model, two prefLabels, one
    │                                   code naming two concepts, hierarchy cycles ...
    ├── SparqlRejected (ValueError)     refused before evaluation (400): an UPDATE, SERVICE,
    │   │                               a query too long, a syntax error
    │   └── SparqlTooLarge              more result rows/triples than the cap (400)
    ├── SparqlTimeout (TimeoutError)    ran past the timeout; its worker was killed (503)
    └── SparqlFailed (RuntimeError)     the SPARQL worker failed (500)
"""

from hyperfed.ontology.concept import ConceptInfo
from hyperfed.ontology.errors import (
    OntologyError,
    OntologyInvalid,
    SparqlFailed,
    SparqlRejected,
    SparqlTimeout,
    SparqlTooLarge,
    UnknownCategory,
    UnknownConcept,
    UnsupportedModel,
)
from hyperfed.ontology.eucaim import eucaim_csv_to_turtle
from hyperfed.ontology.loader import Ontology
from hyperfed.ontology.sparql import SparqlResult
from hyperfed.ontology.vocab import ALT_EUCAIM, EUCAIM, HF, curie

__all__ = [
    "ALT_EUCAIM",
    "EUCAIM",
    "HF",
    "ConceptInfo",
    "Ontology",
    "OntologyError",
    "OntologyInvalid",
    "SparqlFailed",
    "SparqlRejected",
    "SparqlResult",
    "SparqlTimeout",
    "SparqlTooLarge",
    "UnknownCategory",
    "UnknownConcept",
    "UnsupportedModel",
    "curie",
    "eucaim_csv_to_turtle",
]
