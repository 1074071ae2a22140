"""The loader and the adapter's views on the 30 Synthea R4 patients in ../shared/, against
expected rows computed here in plain Python over the Bundle JSON."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from hyperfed.adapters.fhir.load import FhirStore, load_fhir
from hyperfed.adapters.fhir.viewset import adapter_views

from .conftest import SYNTHEA, need

USED = {str(v["resource"]) for v in adapter_views().values()}


def _entries() -> Iterator[dict[str, Any]]:
    for f in sorted(need(SYNTHEA).glob("*.json.gz")):
        bundle = json.loads(gzip.decompress(f.read_bytes()))
        yield from bundle.get("entry", [])


@pytest.fixture(scope="module")
def plain() -> dict[str, Any]:
    entries = list(_entries())
    by_url = {
        e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in entries
        if "fullUrl" in e
    }
    resources = [e["resource"] for e in entries]
    return {"resources": resources, "by_url": by_url}


@pytest.fixture(scope="module")
def store() -> Iterator[FhirStore]:
    s = load_fhir(need(SYNTHEA))
    yield s
    s.close()


def _patient_of(ref: dict[str, Any] | None, by_url: dict[str, str]) -> str | None:
    if not ref or "reference" not in ref:
        return None
    target = by_url.get(ref["reference"], ref["reference"])
    kind, _, rid = target.partition("/")
    return rid if kind == "Patient" else None


def _of(plain: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [r for r in plain["resources"] if r["resourceType"] == rtype]


def _rows(store: FhirStore, sql: str) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(r) for r in store.con.execute(sql).fetchall())


def test_counts_and_no_problems(store: FhirStore, plain: dict[str, Any]) -> None:
    types = Counter(r["resourceType"] for r in plain["resources"])
    assert dict(store.report.loaded) == {t: n for t, n in types.items() if t in USED}
    assert dict(store.report.skipped) == {t: n for t, n in types.items() if t not in USED}
    assert store.report.ok, store.report.format()
    assert len(store.report.files) == len(list(SYNTHEA.glob("*.json.gz")))


def test_patient_view(store: FhirStore, plain: dict[str, Any]) -> None:
    def deceased(p: dict[str, Any]) -> bool | None:
        if "deceasedDateTime" in p or p.get("deceasedBoolean") is True:
            return True
        return False if p.get("deceasedBoolean") is False else None

    want = Counter(
        (p["id"], p.get("gender"), p.get("birthDate"), p.get("deceasedDateTime"), deceased(p))
        for p in _of(plain, "Patient")
    )
    got = _rows(store, "SELECT id, gender, birth_date, deceased_date_time, deceased FROM v_patient")
    assert got == want
    assert sum(1 for *_, d in want if d) > 0  # the sample has deceased patients


def test_condition_view(store: FhirStore, plain: dict[str, Any]) -> None:
    want: Counter[tuple[Any, ...]] = Counter()
    for c in _of(plain, "Condition"):
        onset = (
            c.get("onsetDateTime") or c.get("onsetPeriod", {}).get("start") or c.get("recordedDate")
        )
        pid = _patient_of(c.get("subject"), plain["by_url"])
        for coding in c.get("code", {}).get("coding", []):
            want[(c["id"], pid, coding.get("system"), coding.get("code"), onset)] += 1
    got = _rows(store, "SELECT id, patient_id, system, code, onset_date FROM v_condition")
    assert got == want and len(want) > 100


def test_observation_view_with_components(store: FhirStore, plain: dict[str, Any]) -> None:
    want: Counter[tuple[Any, ...]] = Counter()
    for o in _of(plain, "Observation"):
        pid = _patient_of(o.get("subject"), plain["by_url"])
        eff = o.get("effectiveDateTime") or o.get("effectivePeriod", {}).get("start")
        eff = eff or o.get("effectiveInstant") or o.get("issued")
        parts = [("observation", None, o)] + [
            ("component", i, c) for i, c in enumerate(o.get("component", []))
        ]
        for part, index, element in parts:
            q = element.get("valueQuantity", {})
            for coding in element.get("code", {}).get("coding", []):
                want[
                    (
                        o["id"],
                        pid,
                        eff,
                        part,
                        index,
                        coding.get("system"),
                        coding.get("code"),
                        q.get("value"),
                        q.get("code"),
                        q.get("system"),
                    )
                ] += 1
    got = _rows(
        store,
        "SELECT id, patient_id, effective_date, part, component_index, system, code, value, "
        "unit_code, unit_system FROM v_observation",
    )
    assert got == want
    assert any(k[3] == "component" for k in want)  # blood pressure panels


def test_medication_request_and_imaging(store: FhirStore, plain: dict[str, Any]) -> None:
    want: Counter[tuple[Any, ...]] = Counter()
    for m in _of(plain, "MedicationRequest"):
        pid = _patient_of(m.get("subject"), plain["by_url"])
        codings = m.get("medicationCodeableConcept", {}).get("coding", []) or [{}]
        for coding in codings:
            want[(m["id"], pid, coding.get("system"), coding.get("code"), m.get("authoredOn"))] += 1
    got = _rows(store, "SELECT id, patient_id, system, code, authored_on FROM v_medication_request")
    assert got == want
    img: Counter[tuple[Any, ...]] = Counter()
    for s in _of(plain, "ImagingStudy"):
        for m in s.get("modality", []):
            img[(s["id"], "modality", m.get("code"))] += 1
        for pc in s.get("procedureCode", []):
            for c in pc.get("coding", []):
                img[(s["id"], "procedureCode", c.get("code"))] += 1
        for series in s.get("series", []):
            if "modality" in series:
                img[(s["id"], "series.modality", series["modality"].get("code"))] += 1
            if "bodySite" in series:
                img[(s["id"], "series.bodySite", series["bodySite"].get("code"))] += 1
    got_img = _rows(store, "SELECT id, element, code FROM v_imaging_study")
    assert got_img == img and img


def test_every_view_has_rows_for_resources_present(store: FhirStore, plain: dict[str, Any]) -> None:
    """Encounter keeps untyped encounters (forEachOrNull); other views one row per coding."""
    enc = _of(plain, "Encounter")
    want = sum(max(1, sum(len(t.get("coding", [])) for t in e.get("type", []))) for e in enc)
    assert store.report.view_rows["encounter"] == want
    imm = sum(len(i.get("vaccineCode", {}).get("coding", [])) for i in _of(plain, "Immunization"))
    assert store.report.view_rows["immunization"] == imm
