"""The event views a FHIR query reads, and what each one offers (pure data).

A coded criterion matches a Patient who has a resource of one of these types whose main code
element carries the code (one view row per coding): Condition.code, Observation.code and
Observation.component.code, Procedure.code, the Medication* `medication[x]` (a
CodeableConcept, or the codes of the referenced Medication), Immunization.vaccineCode,
DiagnosticReport.code, AllergyIntolerance.code, ImagingStudy modality / procedureCode /
series modality / series body site, Encounter.type. `date` is the column holding the event's
date (the views choose among the elements, e.g. Condition onset[x], else recordedDate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["EVENT_TABLES", "PATIENT_COLUMNS", "EventTable", "by_view"]

BodySite = Literal["condition_body_site", "procedure_body_site", "series"] | None


@dataclass(frozen=True)
class EventTable:
    view: str
    resource: str
    date: str
    values: bool = False
    """valueQuantity per row (Observation and its components)"""
    medication: bool = False
    """medication[x] may reference a Medication (`medication_id`)"""
    body_site: BodySite = None
    """where the event's body site is: a view of (id, system, code), or the series rows"""

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns a compiler reads (a view override must keep them)."""
        cols = ["id", "patient_id", self.date, "system", "code"]
        if self.values:
            cols += ["component_index", "value", "unit_system", "unit_code"]
        if self.medication:
            cols.append("medication_id")
        if self.body_site == "series":
            cols += ["element", "series_index", "procedure_id"]
        return tuple(cols)


EVENT_TABLES: tuple[EventTable, ...] = (
    EventTable("condition", "Condition", "onset_date", body_site="condition_body_site"),
    EventTable("observation", "Observation", "effective_date", values=True),
    EventTable("procedure", "Procedure", "performed_date", body_site="procedure_body_site"),
    EventTable("medication_request", "MedicationRequest", "authored_on", medication=True),
    EventTable("medication_statement", "MedicationStatement", "effective_date", medication=True),
    EventTable(
        "medication_administration", "MedicationAdministration", "effective_date", medication=True
    ),
    EventTable("immunization", "Immunization", "occurrence_date"),
    EventTable("encounter", "Encounter", "period_start"),
    EventTable("imaging_study", "ImagingStudy", "started", body_site="series"),
    EventTable("diagnostic_report", "DiagnosticReport", "effective_date"),
    EventTable("allergy_intolerance", "AllergyIntolerance", "onset_date"),
)

PATIENT_COLUMNS = ("id", "gender", "birth_date_start")


def by_view(view: str) -> EventTable | None:
    return next((t for t in EVENT_TABLES if t.view == view), None)
