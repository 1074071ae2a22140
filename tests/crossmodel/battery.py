"""One battery of questions for every data model built from the synthetic population.

Each model's cross-model test runs these through its own node and through OMOP (or the
in-memory oracle) on the same population and asserts identical exact counts wherever both
express the question; a question a model cannot express must come back `unsupported` with
the criterion's path. The questions cover nested logic, negation, person attributes at
their boundaries, value ranges with unit conversion, absolute and relative time windows,
occurrences, age at the event, concepts of the hyperontology, and strata.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

AS_OF = dt.date(2025, 1, 1)
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


def code(system: str, value: str, **filters: Any) -> dict[str, Any]:
    return {"code": {"system": system, "code": value}, **filters}


LUNG = code(SNOMED, "363358000")
NSCLC = code(SNOMED, "254637007")
T2D = code(SNOMED, "44054006")
HYPERTENSION = code(SNOMED, "59621000")
GI = code(SNOMED, "74474003")
ASTHMA = code(SNOMED, "195967001")
METFORMIN = code(RXNORM, "6809")
CARBOPLATIN = code(RXNORM, "40048")
HEMOGLOBIN = code(LOINC, "718-7")
CT = code(SNOMED, "77477000")
SINUSITIS = code(SNOMED, "444814009")
FEMALE, MALE, EVERYONE = {"concept": "hf:Female"}, {"concept": "hf:Male"}, {"concept": "hf:Person"}


@dataclass(frozen=True)
class Question:
    id: str
    criteria: dict[str, Any]
    stratify: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"hql": "1", "criteria": self.criteria, "as_of": AS_OF.isoformat()}
        if self.stratify is not None:
            doc["stratify"] = self.stratify
        return doc


QUESTIONS: tuple[Question, ...] = (
    Question("lung-cancer", LUNG),
    Question("lung-cancer-code-only", {**LUNG, "descendants": False}),
    Question("nsclc", NSCLC),
    Question("concept-lung-cancer", {"concept": "hf:LungCancer"}),
    Question("icd10cm-lung-cancer-maps-to", code(ICD10CM, "C34.90")),
    Question("everyone", EVERYONE),
    Question("nobody", {"not": EVERYONE}),
    Question("everyone-but-gi", {"all": [EVERYONE, {"not": GI}]}),
    Question("female", FEMALE),
    Question("not-male", {"not": MALE}),
    Question("age-30-39", {"age": {"min": 30, "max": 39}}),
    Question("age-max-17", {"age": {"max": 17}}),
    Question("not-age-60-plus", {"not": {"age": {"min": 60}}}),
    Question("t2d-without-metformin", {"all": [T2D, {"not": METFORMIN}]}),
    Question("hypertension-without-t2d", {"all": [HYPERTENSION, {"not": T2D}]}),
    Question("t2d-and-hypertension", {"all": [T2D, HYPERTENSION]}),
    Question("t2d-or-asthma", {"any": [T2D, ASTHMA]}),
    Question("de-morgan-not-t2d-and-not-asthma", {"all": [{"not": T2D}, {"not": ASTHMA}]}),
    Question(
        "nested-female-or-60-with-gi",
        {"all": [GI, {"any": [FEMALE, {"age": {"min": 60}}]}, {"not": CARBOPLATIN}]},
    ),
    Question(
        "hemoglobin-below-12-g/dL-any-unit", {**HEMOGLOBIN, "value": {"max": 12, "unit": "g/dL"}}
    ),
    Question(
        "hemoglobin-120-to-140-g/L-men",
        {"all": [{**HEMOGLOBIN, "value": {"min": 120, "max": 140, "unit": "g/L"}}, MALE]},
    ),
    Question("hemoglobin-raw-value-above-100", {**HEMOGLOBIN, "value": {"min": 100}}),
    Question(
        "sinusitis-2015-2019", {**SINUSITIS, "during": {"from": "2015-01-01", "to": "2019-12-31"}}
    ),
    Question("t2d-diagnosed-at-39-or-younger", {**T2D, "age": {"max": 39}}),
    Question("t2d-at-40-to-49", {**T2D, "age": {"min": 40, "max": 49}}),
    Question(
        "three-to-five-hemoglobin-results", {**HEMOGLOBIN, "occurrences": {"min": 3, "max": 5}}
    ),
    Question(
        "two-hemoglobin-results-in-2020",
        {
            **HEMOGLOBIN,
            "occurrences": {"min": 2},
            "during": {"from": "2020-01-01", "to": "2020-12-31"},
        },
    ),
    Question(
        "ct-within-30-days-before-lung-cancer", {**CT, "within": {"of": LUNG, "days_before": 30}}
    ),
    Question(
        "carboplatin-up-to-90-days-after-lung-cancer",
        {**CARBOPLATIN, "within": {"of": LUNG, "days_after": 90}},
    ),
    Question(
        "two-cts-around-lung-cancer",
        {
            **CT,
            "occurrences": {"min": 2},
            "within": {"of": LUNG, "days_before": 60, "days_after": 60},
        },
    ),
    Question(
        "lung-cancer-by-sex-and-age", LUNG, {"by": ["sex", "age"], "age_bands": [0, 40, 60, 70, 80]}
    ),
    Question("everyone-by-sex", EVERYONE, {"by": ["sex"]}),
    Question("t2d-not-metformin-by-age", {"all": [T2D, {"not": METFORMIN}]}, {"by": ["age"]}),
)
