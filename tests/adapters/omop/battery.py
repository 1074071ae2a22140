"""One battery of questions for every engine, each with its expected answer written as
hand-made SQL that runs unchanged on DuckDB and PostgreSQL (no compiler involved)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

DESC = "SELECT descendant_concept_id FROM concept_ancestor WHERE ancestor_concept_id = {}"
GI_PERSONS = (
    "SELECT person_id FROM condition_occurrence "
    f"WHERE condition_concept_id IN ({DESC.format(192671)})"
)
ASPIRIN_PERSONS = (
    f"SELECT person_id FROM drug_exposure WHERE drug_concept_id IN ({DESC.format(1112807)})"
)
BIRTH = (
    "make_date(CAST(year_of_birth AS INTEGER), CAST(coalesce(month_of_birth, 1) AS INTEGER), "
    "CAST(coalesce(day_of_birth, 1) AS INTEGER))"
)
P_BIRTH = (
    BIRTH.replace("year_of", "p.year_of")
    .replace("month_of", "p.month_of")
    .replace("day_of", "p.day_of")
)
GI = {"code": {"system": SNOMED, "code": "74474003"}}


@dataclass(frozen=True)
class Case:
    id: str
    criteria: dict[str, Any]
    truth: str
    extra: dict[str, Any] = field(default_factory=dict)


CASES = (
    Case("gi-bleed", GI, f"SELECT COUNT(DISTINCT person_id) FROM ({GI_PERSONS}) x"),
    Case(
        "issue-example-1",
        {
            "all": [
                GI,
                {"any": [{"concept": "hf:Female"}, {"age": {"min": 60}}]},
                {"not": {"code": {"system": RXNORM, "code": "1191"}}},
            ]
        },
        f"""SELECT COUNT(*) FROM person
            WHERE person_id IN ({GI_PERSONS})
              AND (gender_concept_id = 8532 OR {BIRTH} <= DATE '1960-01-01')
              AND person_id NOT IN ({ASPIRIN_PERSONS})""",
    ),
    Case(
        "during-sex-age",
        {
            "all": [
                {
                    "code": {"system": SNOMED, "code": "444814009"},
                    "during": {"from": "2015-01-01", "to": "2019-12-31"},
                },
                {"concept": "hf:Male"},
                {"age": {"min": 18}},
            ]
        },
        f"""SELECT COUNT(*) FROM person
            WHERE gender_concept_id = 8507 AND {BIRTH} <= DATE '2002-01-01'
              AND person_id IN (SELECT person_id FROM condition_occurrence
                                WHERE condition_concept_id IN ({DESC.format(40481087)})
                                  AND condition_start_date BETWEEN DATE '2015-01-01'
                                                               AND DATE '2019-12-31')""",
    ),
    Case(
        "occurrences",
        {"code": {"system": SNOMED, "code": "444814009"}, "occurrences": {"min": 3, "max": 4}},
        f"""SELECT COUNT(*) FROM (SELECT person_id FROM condition_occurrence
                                  WHERE condition_concept_id IN ({DESC.format(40481087)})
                                  GROUP BY person_id HAVING COUNT(*) BETWEEN 3 AND 4) y""",
    ),
    Case(
        "relative-window",
        {"code": {"system": RXNORM, "code": "140587"}, "within": {"of": GI, "days_before": 365}},
        f"""SELECT COUNT(DISTINCT d.person_id)
            FROM drug_exposure d JOIN condition_occurrence c ON c.person_id = d.person_id
            WHERE d.drug_concept_id IN ({DESC.format(1118084)})
              AND c.condition_concept_id IN ({DESC.format(192671)})
              AND d.drug_exposure_start_date BETWEEN c.condition_start_date - INTERVAL '365 days'
                                                 AND c.condition_start_date""",
    ),
    Case(
        "age-at-event",
        {**GI, "age": {"min": 40}},
        f"""SELECT COUNT(DISTINCT c.person_id) FROM condition_occurrence c
            JOIN person p ON p.person_id = c.person_id
            WHERE c.condition_concept_id IN ({DESC.format(192671)})
              AND {P_BIRTH} + INTERVAL '40 years' <= c.condition_start_date""",
    ),
    Case(
        "icd10cm-maps-to",
        {"code": {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "K92.2"}},
        f"SELECT COUNT(DISTINCT person_id) FROM ({GI_PERSONS}) x",
    ),
    Case(
        "omop-concept-id",
        {"code": {"system": "https://athena.ohdsi.org/search-terms/terms", "code": "192671"}},
        f"SELECT COUNT(DISTINCT person_id) FROM ({GI_PERSONS}) x",
    ),
    Case("everyone", {"concept": "hf:Person"}, "SELECT COUNT(*) FROM person"),
    Case("nobody", {"not": {"concept": "hf:Person"}}, "SELECT 0"),
    Case(
        "any-of-two-drugs-not-female",
        {
            "all": [
                {
                    "any": [
                        {"code": {"system": RXNORM, "code": "140587"}},
                        {"code": {"system": RXNORM, "code": "3355"}},
                    ]
                },
                {"not": {"concept": "hf:Female"}},
            ]
        },
        f"""SELECT COUNT(*) FROM person WHERE gender_concept_id <> 8532 AND person_id IN (
              SELECT person_id FROM drug_exposure WHERE drug_concept_id IN ({DESC.format(1118084)})
              UNION SELECT person_id FROM drug_exposure
                    WHERE drug_concept_id IN ({DESC.format(1124300)}))""",
    ),
    Case(
        "age-range",
        {"age": {"min": 30, "max": 39}},
        f"""SELECT COUNT(*) FROM person
            WHERE {BIRTH} <= DATE '1990-01-01' AND {BIRTH} > DATE '1980-01-01'""",
    ),
)
