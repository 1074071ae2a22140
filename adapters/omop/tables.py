"""The parts of the OMOP CDM (5.3 and 5.4) the compiler reads, as plain data."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EVENT_TABLES",
    "GENDER_CONCEPTS",
    "OMOP_VOCABULARIES",
    "PERSON_COLUMNS",
    "VOCABULARY_TABLES",
    "EventTable",
    "system_for_vocabulary",
]


@dataclass(frozen=True)
class EventTable:
    """An OMOP event table: one row per clinical event of a person."""

    domain: str
    table: str
    concept: str
    start: str
    source_value: str | None = None
    source_concept: str | None = None
    value: str | None = None
    unit: str | None = None


EVENT_TABLES: tuple[EventTable, ...] = (
    EventTable(
        "Condition",
        "condition_occurrence",
        "condition_concept_id",
        "condition_start_date",
        "condition_source_value",
        "condition_source_concept_id",
    ),
    EventTable(
        "Drug",
        "drug_exposure",
        "drug_concept_id",
        "drug_exposure_start_date",
        "drug_source_value",
        "drug_source_concept_id",
    ),
    EventTable(
        "Measurement",
        "measurement",
        "measurement_concept_id",
        "measurement_date",
        "measurement_source_value",
        "measurement_source_concept_id",
        "value_as_number",
        "unit_concept_id",
    ),
    EventTable(
        "Procedure",
        "procedure_occurrence",
        "procedure_concept_id",
        "procedure_date",
        "procedure_source_value",
        "procedure_source_concept_id",
    ),
    EventTable(
        "Observation",
        "observation",
        "observation_concept_id",
        "observation_date",
        "observation_source_value",
        "observation_source_concept_id",
        "value_as_number",
        "unit_concept_id",
    ),
    EventTable(
        "Device",
        "device_exposure",
        "device_concept_id",
        "device_exposure_start_date",
        "device_source_value",
        "device_source_concept_id",
    ),
    EventTable(
        "Visit",
        "visit_occurrence",
        "visit_concept_id",
        "visit_start_date",
        "visit_source_value",
        "visit_source_concept_id",
    ),
    EventTable(
        "Specimen",
        "specimen",
        "specimen_concept_id",
        "specimen_date",
        "specimen_source_value",
        None,
    ),
)

PERSON_COLUMNS = (
    "person_id",
    "gender_concept_id",
    "year_of_birth",
    "month_of_birth",
    "day_of_birth",
)

VOCABULARY_TABLES = ("concept", "concept_ancestor", "concept_relationship")

# OMOP standard gender concepts
GENDER_CONCEPTS: dict[str, tuple[int, ...]] = {
    "male": (8507,),
    "female": (8532,),
    "other": (8521,),
    "unknown": (8551, 8570, 0),
}

# HQL code system URI -> OMOP vocabulary_id (systems without one, such as DICOM DCM or
# RadLex, cannot be looked up in an OMOP vocabulary)
OMOP_VOCABULARIES: dict[str, str] = {
    "http://snomed.info/sct": "SNOMED",
    "http://loinc.org": "LOINC",
    "http://hl7.org/fhir/sid/icd-10": "ICD10",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD10CM",
    "http://terminology.hl7.org/CodeSystem/icd-o-3": "ICDO3",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl": "NCIt",
    "http://unitsofmeasure.org": "UCUM",
    "http://www.whocc.no/atc": "ATC",
    "http://hl7.org/fhir/sid/cvx": "CVX",
}


def system_for_vocabulary(vocabulary_id: str) -> str | None:
    """The HQL code system URI of an OMOP vocabulary_id (any case), or None."""
    for uri, vocabulary in OMOP_VOCABULARIES.items():
        if vocabulary.lower() == vocabulary_id.lower():
            return uri
    return None
