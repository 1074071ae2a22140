"""The FHIR store's dataset facts for the catalogue, on the real Synthea sample, against
plain Python over the Bundles (the oracle's reading of the resources, not the adapter's)."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

import pytest

from hyperfed.adapters.fhir import FhirAdapter
from hyperfed.adapters.hql.systems import UnknownSystem, canonical_system
from tests.adapters.memory import age_on

from .conftest import SYNTHEA, need
from .oracle import EVENT_TYPES, _codes, _ref_id, bundle_resources, first_day, patients_of

AS_OF = dt.date(2024, 6, 30)


def canonical(system: str) -> str:
    try:
        return canonical_system(system).uri
    except UnknownSystem:
        return system


@pytest.fixture(scope="module")
def resources() -> list[dict[str, Any]]:
    return bundle_resources(need(SYNTHEA))


@pytest.fixture(scope="module")
def facts(resources: list[dict[str, Any]]) -> Any:
    adapter = FhirAdapter.from_source(str(SYNTHEA))
    try:
        return adapter.facts("synthea", AS_OF)
    finally:
        adapter.close()


def test_persons_sexes_and_ages(resources: list[dict[str, Any]], facts: Any) -> None:
    patients = patients_of(resources)
    assert facts.persons == len(patients) == 30
    assert dict(facts.persons_by_sex) == dict(Counter(p["sex"] for p in patients))
    ages = Counter(age_on(p["birth"], AS_OF) for p in patients if p["birth"])
    assert dict(facts.persons_by_age) == dict(ages)
    assert facts.health_categories == ("EHRS",) and facts.record_kind == "FHIR resources"


def test_records_are_the_coded_clinical_resources_of_known_patients(
    resources: list[dict[str, Any]], facts: Any
) -> None:
    known = {r["id"] for r in resources if r["resourceType"] == "Patient"}
    meds = {r["id"]: _codes(r.get("code")) for r in resources if r["resourceType"] == "Medication"}
    expected = 0
    for r in resources:
        spec = EVENT_TYPES.get(r["resourceType"])
        if spec is None or _ref_id(r.get(spec[0]), "Patient") not in known:
            continue
        codes = set().union(*(_codes(r.get(e)) for e in spec[1]))
        codes |= meds.get(_ref_id(r.get("medicationReference"), "Medication") or "", set())
        for s in r.get("series", []) if r["resourceType"] == "ImagingStudy" else []:
            codes |= _codes(s.get("modality")) | _codes(s.get("bodySite"))
        for comp in r.get("component", []) if r["resourceType"] == "Observation" else []:
            codes |= _codes(comp.get("code"))
        expected += bool(codes)
    assert facts.records == expected > 1000


def test_years_and_code_values_count_persons(resources: list[dict[str, Any]], facts: Any) -> None:
    years: dict[int, set[str]] = defaultdict(set)
    codes: dict[tuple[str, str], set[str]] = defaultdict(set)
    systems: dict[str, set[str]] = defaultdict(set)
    for p in patients_of(resources):
        for ev in p["events"]:
            if ev["date"] is not None:
                years[ev["date"].year].add(p["id"])
            for system, code in ev["codes"]:
                codes[(canonical(system), code)].add(p["id"])
                systems[canonical(system)].add(p["id"])
    assert dict(facts.persons_by_year) == {y: len(ps) for y, ps in years.items()}
    assert dict(facts.code_values) == {k: len(ps) for k, ps in codes.items()}
    assert dict(facts.coding_systems) == {k: len(ps) for k, ps in systems.items()}
    assert first_day("2019") == dt.date(2019, 1, 1)
