"""The FHIR adapter's query semantics on a small hand-made export, one rule at a time; the
expected patients are read off the resources below (comments say why), and every question
also runs through the general plan, which must agree with the chosen one."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hyperfed.adapters.base import ExactCount
from hyperfed.adapters.fhir import FhirAdapter
from hyperfed.adapters.fhir.plans import compile_count
from hyperfed.hub.prepare import prepare
from hyperfed.ontology import Ontology

from .conftest import write_ndjson

SCT, LOINC, RX = (
    "http://snomed.info/sct",
    "http://loinc.org",
    "http://www.nlm.nih.gov/research/umls/rxnorm",
)
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
DCM, UCUM = "http://dicom.nema.org/resources/ontology/DCM", "http://unitsofmeasure.org"
AS_OF = dt.date(2025, 1, 1)
T2D, CT, THORAX, LUNG, BRAIN = "44054006", "77477000", "51185008", "39607008", "12738006"


def cc(system: str, *codes: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": c} for c in codes]}


def qty(value: float, code: str | None, system: str | None = UCUM) -> dict[str, Any]:
    q: dict[str, Any] = {"value": value}
    if code is not None:
        q.update(unit=code, code=code)
        if system is not None:
            q["system"] = system
    return q


def ref(target: str) -> dict[str, str]:
    return {"reference": target}


PATIENTS = [  # ages on 2025-01-01 from the first day the birth date allows
    {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1970-06",
     "deceasedDateTime": "2023-02-01"},  # 54 (1970-06-01), deceased: still counted
    {"resourceType": "Patient", "id": "p2", "gender": "male", "birthDate": "1950"},  # 75
    {"resourceType": "Patient", "id": "p3", "gender": "other", "birthDate": "1990-02-28"},  # 34
    {"resourceType": "Patient", "id": "p4"},  # no gender, no birth date
    {"resourceType": "Patient", "id": "p5", "gender": "female", "birthDate": "2010-01-01"},  # 15
    {"resourceType": "Patient", "id": "p6", "gender": "unknown", "birthDate": "1985-12-31"},  # 39
]  # fmt: skip
CONDITIONS = [
    {"resourceType": "Condition", "id": "c1", "subject": ref("Patient/p1"), "code": cc(SCT, T2D),
     "onsetDateTime": "2019-04-05T23:30:00-05:00", "bodySite": [cc(SCT, LUNG)]},
    {"resourceType": "Condition", "id": "c2", "subject": ref("Patient/p2"), "code": cc(SCT, T2D),
     "recordedDate": "2015-01"},  # no onset: the recorded date, 2015-01-01
    {"resourceType": "Condition", "id": "c3", "subject": ref("Patient/p3"),
     "code": cc(ICD, "E11.9"), "onsetDateTime": "2018"},  # ICD-10-CM only
    {"resourceType": "Condition", "id": "c4", "subject": ref("Group/g1"), "code": cc(SCT, T2D),
     "onsetDateTime": "2019-01-01"},  # not a patient's
    {"resourceType": "Condition", "id": "c5", "subject": ref("Patient/ghost"), "code": cc(SCT, T2D),
     "onsetDateTime": "2019-01-01"},  # a Patient who is not there
]  # fmt: skip
OBSERVATIONS = [
    {"resourceType": "Observation", "id": "o1", "status": "final", "subject": ref("Patient/p1"),
     "code": cc(LOINC, "85354-9"), "effectiveDateTime": "2020-01-01",
     "component": [{"code": cc(LOINC, "8480-6"), "valueQuantity": qty(150, "mm[Hg]")},
                   {"code": cc(LOINC, "8462-4"), "valueQuantity": qty(95, "mm[Hg]")}]},
    {"resourceType": "Observation", "id": "o2", "status": "final", "subject": ref("Patient/p2"),
     "code": cc(LOINC, "718-7"), "effectivePeriod": {"start": "2021-03-01"},
     "valueQuantity": qty(125, "g/L")},  # 12.5 g/dL
    {"resourceType": "Observation", "id": "o3", "status": "final", "subject": ref("Patient/p2"),
     "code": cc(LOINC, "718-7"), "issued": "2021-05-05T10:00:00Z",
     "valueQuantity": qty(13.1, "g/dL")},  # no effective[x]: the issued date
    {"resourceType": "Observation", "id": "o4", "status": "final", "subject": ref("Patient/p3"),
     "code": cc(LOINC, "718-7"), "effectiveDateTime": "2021-01-01",
     "valueQuantity": qty(11, "g/dL", system=None)},  # no UCUM system: unit not recognised
    {"resourceType": "Observation", "id": "o5", "status": "final", "subject": ref("Patient/p6"),
     "code": cc(LOINC, "718-7"), "effectiveDateTime": "2021-01-01",
     "valueQuantity": qty(7.0, "mmol/L")},  # not a mass concentration
    {"resourceType": "Observation", "id": "o6", "status": "final", "subject": ref("Patient/p1"),
     "code": {"coding": [{"system": LOINC, "code": "718-7"}, {"system": SCT, "code": "271026005"}]},
     "effectiveDateTime": "2022-01-01", "valueQuantity": qty(12.5, "g/dL")},  # two codings
]  # fmt: skip
MEDICATION = [
    {"resourceType": "Medication", "id": "m1", "code": cc(RX, "6809")},
    {"resourceType": "MedicationRequest", "id": "mr1", "status": "active", "intent": "order",
     "subject": ref("Patient/p5"), "medicationReference": ref("Medication/m1"),
     "authoredOn": "2020-01-01"},  # metformin through the referenced Medication
    {"resourceType": "MedicationStatement", "id": "ms1", "status": "active",
     "subject": ref("Patient/p2"), "medicationCodeableConcept": cc(RX, "6809"),
     "effectivePeriod": {"start": "2019-02-01"}},
]  # fmt: skip
IMAGING = [
    {"resourceType": "Procedure", "id": "pr1", "status": "completed", "subject": ref("Patient/p1"),
     "code": cc(SCT, CT), "performedDateTime": "2021-06-01", "bodySite": [cc(SCT, THORAX)]},
    {"resourceType": "Procedure", "id": "pr2", "status": "completed", "subject": ref("Patient/p1"),
     "code": cc(SCT, CT), "performedDateTime": "2021-09-01"},
    {"resourceType": "ImagingStudy", "id": "is1", "status": "available",
     "subject": ref("Patient/p1"), "procedureReference": ref("Procedure/pr1"),
     "started": "2021-06-01",
     "modality": [{"system": DCM, "code": "CT"}, {"system": DCM, "code": "MR"}],
     "procedureCode": [cc(SCT, CT)],
     "series": [{"uid": "1.2.1", "modality": {"system": DCM, "code": "CT"},
                 "bodySite": {"system": SCT, "code": THORAX}},
                {"uid": "1.2.2", "modality": {"system": DCM, "code": "MR"},
                 "bodySite": {"system": SCT, "code": BRAIN}}]},  # the Procedure pr1's event
    {"resourceType": "ImagingStudy", "id": "is2", "status": "available",
     "subject": ref("Patient/p2"), "started": "2022-02-02",
     "modality": [{"system": DCM, "code": "MR"}],
     "series": [{"uid": "1.3.1", "modality": {"system": DCM, "code": "MR"},
                 "bodySite": {"system": SCT, "code": THORAX}}]},
]  # fmt: skip


def code(system: str, code_: str, **filters: Any) -> dict[str, Any]:
    return {"code": {"system": system, "code": code_}, **filters}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hand")
    for name, rows in (
        ("Patient", PATIENTS),
        ("Condition", CONDITIONS),
        ("Observation", OBSERVATIONS),
        ("Medication", MEDICATION),
        ("Imaging", IMAGING),
    ):
        write_ndjson(folder / f"{name}.ndjson", [json.dumps(r) for r in rows])
    return folder


@pytest.fixture(scope="module")
def adapter(source: Path) -> Iterator[FhirAdapter]:
    a = FhirAdapter.from_source(str(source))
    yield a
    a.close()


@pytest.fixture(scope="module")
def ontology() -> Ontology:
    return Ontology.load()


def ask(
    adapter: FhirAdapter, ontology: Ontology, criteria: dict[str, Any], **extra: Any
) -> ExactCount:
    doc = {"hql": "1", "criteria": criteria, "as_of": AS_OF.isoformat(), **extra}
    prepared = prepare(doc, ontology, {"fhir"}, AS_OF)
    query, bindings = prepared.query, prepared.bindings["fhir"]
    got = adapter.count(query, bindings)
    general = compile_count(
        query,
        bindings,
        adapter.index,
        adapter.expansions(query, bindings, None),
        adapter.features(),
        adapter.usable,
        plan="general",
    )
    if not general.unsupported:
        again = adapter.run(general)
        assert (again.total, again.strata) == (got.total, got.strata), "the plans disagree"
    return got


CASES: list[tuple[str, dict[str, Any], int]] = [
    # coded criteria, dates, the patients who count
    ("t2d: only loaded Patients' events", code(SCT, T2D), 2),  # p1 p2 (c4 Group, c5 ghost)
    ("a zoned dateTime counts on the date written",
     code(SCT, T2D, during={"from": "2019-04-05", "to": "2019-04-05"}), 1),  # p1
    ("recordedDate when there is no onset, a partial date from its first day",
     code(SCT, T2D, during={"from": "2015-01-01", "to": "2015-01-01"}), 1),  # p2
    ("partial year", code(ICD, "E11.9", during={"from": "2018-01-01", "to": "2018-01-01"}), 1),
    ("Observation issued when there is no effective[x]",
     code(LOINC, "718-7", during={"from": "2021-05-05", "to": "2021-05-05"}), 1),  # p2 o3
    ("effectivePeriod.start",
     code(LOINC, "718-7", during={"from": "2021-03-01", "to": "2021-03-01"}), 1),
    # values: UCUM units converted; unrecognised units and other dimensions not counted
    ("hemoglobin <= 12.6 g/dL",
     code(LOINC, "718-7", value={"max": 12.6, "unit": "g/dL"}), 2),  # p1 o6, p2 o2
    ("hemoglobin >= 126 g/L", code(LOINC, "718-7", value={"min": 126, "unit": "g/L"}), 1),  # p2 o3
    ("raw value without a unit", code(LOINC, "718-7", value={"min": 100}), 1),  # p2 o2 (125)
    ("a component's own value", code(LOINC, "8480-6", value={"min": 140, "unit": "mm[Hg]"}), 1),
    ("kPa converted",  # 150 mmHg = 20 kPa
     code(LOINC, "8480-6", value={"min": 19, "unit": "kPa"}), 1),
    ("values stay with their component",
     code(LOINC, "8462-4", value={"max": 90, "unit": "mm[Hg]"}), 0),
    ("the panel has no value of its own", code(LOINC, "85354-9", value={"min": 1}), 0),
    ("a component code", code(LOINC, "8462-4"), 1),
    # medication: a CodeableConcept or the referenced Medication's code
    ("metformin", code(RX, "6809"), 2),  # p5 (reference), p2 (concept)
    # imaging: modality, procedureCode, series
    ("CT modality", code(DCM, "CT"), 1),
    ("MR modality", code(DCM, "MR"), 2),
    # body sites: the same event's (for a modality, the same series')
    ("CT of the thorax", code(DCM, "CT", body_site={"system": SCT, "code": THORAX}), 1),  # p1
    ("MR of the thorax", code(DCM, "MR", body_site={"system": SCT, "code": THORAX}), 1),  # p2 only
    ("MR of the brain",  # p1's second series
     code(DCM, "MR", body_site={"system": SCT, "code": BRAIN}), 1),
    ("CT procedure of the thorax", code(SCT, CT, body_site={"system": SCT, "code": THORAX}), 1),
    ("T2D in the lung", code(SCT, T2D, body_site={"system": SCT, "code": LUNG}), 1),  # p1
    ("T2D in the thorax", code(SCT, T2D, body_site={"system": SCT, "code": THORAX}), 0),
    # occurrences: resources; an ImagingStudy made for a Procedure is that Procedure
    ("two CT events", code(SCT, CT, occurrences={"min": 2}), 1),  # p1: pr1 (+ is1), pr2
    ("three CT events", code(SCT, CT, occurrences={"min": 3}), 0),
    ("two codings, one event", code(LOINC, "718-7", occurrences={"min": 2, "max": 2}), 1),  # p2
    # sex and age
    ("female", {"concept": "hf:Female"}, 2),  # p1 (deceased), p5
    ("other", {"concept": "hf:OtherSex"}, 1),
    ("unknown sex: missing or unknown", {"concept": "hf:UnknownSex"}, 2),  # p4 p6
    ("age 54", {"age": {"min": 54, "max": 54}}, 1),  # p1 born 1970-06 -> 1970-06-01
    ("age 75 from a year of birth", {"age": {"min": 75, "max": 75}}, 1),  # p2
    ("not 60 or older: unknown ages count", {"not": {"age": {"min": 60}}}, 5),
    ("t2d diagnosed at 48 or younger", code(SCT, T2D, age={"max": 48}), 1),  # p1 48, p2 65
    # windows around another event
    ("CT up to 120 days after the CT of 2021-06-01",
     code(SCT, CT, within={"of": code(DCM, "CT"), "days_after": 120, "days_before": 0}), 1),
    ("hemoglobin within 60 days after an MR",
     code(LOINC, "718-7", within={"of": code(DCM, "MR"), "days_after": 60}), 0),
    # logic
    ("female or 60+ with t2d", {"all": [code(SCT, T2D), {"any": [{"concept": "hf:Female"},
                                                                 {"age": {"min": 60}}]}]}, 2),
    ("everyone without metformin",
     {"all": [{"concept": "hf:Person"}, {"not": code(RX, "6809")}]}, 4),
]  # fmt: skip


@pytest.mark.parametrize(("why", "criteria", "expected"), CASES, ids=[c[0] for c in CASES])
def test_semantics(
    adapter: FhirAdapter, ontology: Ontology, why: str, criteria: dict[str, Any], expected: int
) -> None:
    got = ask(adapter, ontology, criteria)
    assert not got.unsupported, got.unsupported
    assert got.total == expected, (why, got.notes)


def test_unrecognised_units_are_noted(adapter: FhirAdapter, ontology: Ontology) -> None:
    got = ask(adapter, ontology, code(LOINC, "718-7", value={"max": 20, "unit": "g/dL"}))
    assert got.total == 2  # p1 (o6), p2 (o2, o3); p3's unit has no UCUM system, p6's is mmol/L
    assert any("records without a recognised unit are not counted" in n for n in got.notes)


def test_strata(adapter: FhirAdapter, ontology: Ontology) -> None:
    got = ask(
        adapter,
        ontology,
        {"concept": "hf:Person"},
        stratify={"by": ["sex", "age"], "age_bands": [0, 18, 60]},
    )
    assert got.total == 6
    assert got.strata == {
        ("female", "18-59"): 1,
        ("male", "60+"): 1,
        ("other", "18-59"): 1,
        ("unknown", "unknown"): 1,
        ("female", "0-17"): 1,
        ("unknown", "18-59"): 1,
    }


def test_codes_nobody_has_are_noted(adapter: FhirAdapter, ontology: Ontology) -> None:
    got = ask(adapter, ontology, code(SCT, "123456"))
    assert got.total == 0
    assert any("no records in this FHIR source can match" in n for n in got.notes)


def test_without_vocabulary_descendants_are_noted(adapter: FhirAdapter, ontology: Ontology) -> None:
    assert adapter.features()["descendants"] is False
    got = ask(adapter, ontology, code(SCT, T2D))
    assert any(
        "descendants of http://snomed.info/sct|44054006 are not included" in n for n in got.notes
    )
    assert not ask(adapter, ontology, code(SCT, T2D, descendants=False)).notes


def test_explain_is_sql_over_the_views(adapter: FhirAdapter, ontology: Ontology) -> None:
    doc = {"hql": "1", "criteria": code(SCT, T2D), "as_of": AS_OF.isoformat()}
    prepared = prepare(doc, ontology, {"fhir"}, AS_OF)
    text = adapter.explain(prepared.query, prepared.bindings["fhir"])
    assert '"v_condition"' in text and "'44054006'" in text
    assert "v_observation" not in text  # the code index routes the code to Conditions only
