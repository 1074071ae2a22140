"""FHIR resources as the in-memory oracle's patients (plain Python over the JSON), so that the
FHIR adapter — over files and over REST — is checked against answers computed without SQL or
FHIR search: `tests.adapters.memory.MemoryAdapter` written from the README's rules.

The README's FHIR rules, applied here directly to the JSON:

- an event is a resource of an event type whose main code element carries the code; an
  Observation's components are events of their own (their code, their value); an
  ImagingStudy that names its Procedure (procedureReference) is that Procedure's event;
- its day is the first day its date allows (Condition onset[x] else recordedDate,
  Observation effective[x] else issued, ...);
- a value counts in a unit when the quantity's system is UCUM;
- sex is Patient.gender; the birth date counts from the first day it allows.

`athena_vocabulary(folder)` reads an Athena export with the csv module into the oracle's
`Vocabulary` (descendants and 'Maps to' by (system URI, code)).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hyperfed.adapters.omop.tables import system_for_vocabulary
from tests.adapters.memory import Patient, Vocabulary

__all__ = ["athena_vocabulary", "bundle_resources", "ndjson_resources", "patients_of"]

UCUM = "http://unitsofmeasure.org"
# resource type -> (patient element, code elements, date elements in order)
EVENT_TYPES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "Condition": ("subject", ("code",), ("onsetDateTime", "onsetPeriod", "recordedDate")),
    "Observation": (
        "subject",
        ("code",),
        ("effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued"),
    ),
    "Procedure": ("subject", ("code",), ("performedDateTime", "performedPeriod")),
    "MedicationRequest": ("subject", ("medicationCodeableConcept",), ("authoredOn",)),
    "MedicationStatement": (
        "subject",
        ("medicationCodeableConcept",),
        ("effectiveDateTime", "effectivePeriod"),
    ),
    "MedicationAdministration": (
        "subject",
        ("medicationCodeableConcept",),
        ("effectiveDateTime", "effectivePeriod"),
    ),
    "Immunization": ("patient", ("vaccineCode",), ("occurrenceDateTime",)),
    "Encounter": ("subject", ("type",), ("period",)),
    "ImagingStudy": ("subject", ("modality", "procedureCode"), ("started",)),
    "DiagnosticReport": (
        "subject",
        ("code",),
        ("effectiveDateTime", "effectivePeriod", "issued"),
    ),
    "AllergyIntolerance": ("patient", ("code",), ("onsetDateTime", "onsetPeriod", "recordedDate")),
}


def first_day(text: Any) -> dt.date | None:
    if isinstance(text, dict):
        text = text.get("start")
    if not isinstance(text, str):
        return None
    if len(text) >= 10:
        return dt.date.fromisoformat(text[:10])
    if len(text) == 7:
        return dt.date(int(text[:4]), int(text[5:7]), 1)
    return dt.date(int(text[:4]), 1, 1)


def _codes(value: Any) -> set[tuple[str, str]]:
    items: list[Any] = value if isinstance(value, list) else [value]
    out = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        for c in item.get("coding", [item]):
            if isinstance(c, dict) and c.get("system") and c.get("code"):
                out.add((str(c["system"]), str(c["code"])))
    return out


def _ref_id(ref: Any, kind: str) -> str | None:
    text = ref.get("reference") if isinstance(ref, dict) else None
    if not isinstance(text, str) or f"{kind}/" not in text:
        return None
    return text.split(f"{kind}/")[-1].split("/")[0]


def _quantity(q: Any) -> tuple[float | None, str | None]:
    if not isinstance(q, dict) or not isinstance(q.get("value"), int | float):
        return None, None
    unit = q.get("code") if q.get("system") == UCUM else None
    return float(q["value"]), unit


def patients_of(
    resources: Iterable[dict[str, Any]], vocab: Vocabulary | None = None
) -> list[Patient]:
    """The oracle's patients (ids are the Patient ids) with their events; with `vocab`, an
    event also carries the standard codes its codes map to, as an OMOP ETL would record it."""
    resources = list(resources)
    meds = {r["id"]: _codes(r.get("code")) for r in resources if r["resourceType"] == "Medication"}
    people: dict[str, Patient] = {}
    for r in resources:
        if r["resourceType"] != "Patient":
            continue
        birth = r.get("birthDate")
        parts = [int(x) for x in birth[:10].split("-")] if isinstance(birth, str) else None
        people[r["id"]] = {
            "id": r["id"],
            "sex": r.get("gender"),
            "birth": None if parts is None else (parts[0], *[*parts[1:], None, None][:2]),
            "events": [],
        }
    procedures: dict[str, dict[str, Any]] = {}
    studies: list[tuple[str, dict[str, Any]]] = []
    for r in resources:
        spec = EVENT_TYPES.get(r["resourceType"])
        if spec is None:
            continue
        subject, code_elements, date_elements = spec
        pid = _ref_id(r.get(subject), "Patient")
        if pid not in people:
            continue
        day = next(
            (first_day(r[e]) for e in date_elements if r.get(e) is not None),
            None,
        )
        codes: set[tuple[str, str]] = set()
        for e in code_elements:
            codes |= _codes(r.get(e))
        med = _ref_id(r.get("medicationReference"), "Medication")
        if med is not None:
            codes |= meds.get(med, set())
        if r["resourceType"] == "ImagingStudy":
            for s in r.get("series", []):
                codes |= _codes(s.get("modality")) | _codes(s.get("bodySite"))
            made_for = _ref_id(r.get("procedureReference"), "Procedure")
            if made_for is not None:
                studies.append((made_for, {"codes": codes, "date": day, "pid": pid}))
                continue
        value, unit = _quantity(r.get("valueQuantity"))
        event = {"codes": codes, "date": day, "value": value, "unit": unit}
        people[pid]["events"].append(event)
        if r["resourceType"] == "Procedure":
            procedures[r["id"]] = event
        for comp in r.get("component", []) if r["resourceType"] == "Observation" else []:
            value, unit = _quantity(comp.get("valueQuantity"))
            people[pid]["events"].append(
                {"codes": _codes(comp.get("code")), "date": day, "value": value, "unit": unit}
            )
    for procedure_id, study in studies:
        event = procedures.get(procedure_id)
        if event is not None and event["date"] == study["date"]:
            event["codes"] |= study["codes"]  # one event: the Procedure the study was made for
        else:
            people[study["pid"]]["events"].append(
                {"codes": study["codes"], "date": study["date"], "value": None, "unit": None}
            )
    if vocab is not None:
        for p in people.values():
            for ev in p["events"]:
                ev["codes"] = ev["codes"].union(*(vocab.maps_to.get(c, set()) for c in ev["codes"]))
    return list(people.values())


def athena_vocabulary(folder: Path) -> Vocabulary:
    """An Athena export (tab-separated CONCEPT, CONCEPT_ANCESTOR, CONCEPT_RELATIONSHIP) as the
    oracle's vocabulary."""

    def rows(name: str) -> list[dict[str, str]]:
        with (folder / name).open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f, delimiter="\t"))

    code: dict[str, tuple[str, str]] = {}
    for c in rows("CONCEPT.csv"):
        system = system_for_vocabulary(c["vocabulary_id"])
        if system is not None:
            code[c["concept_id"]] = (system, c["concept_code"])
    vocab = Vocabulary()
    for a in rows("CONCEPT_ANCESTOR.csv"):
        up, down = code.get(a["ancestor_concept_id"]), code.get(a["descendant_concept_id"])
        if up and down:
            vocab.descendants.setdefault(up, set()).add(down)
    for rel in rows("CONCEPT_RELATIONSHIP.csv"):
        if rel["relationship_id"] == "Maps to" and rel["concept_id_1"] != rel["concept_id_2"]:
            a, b = code.get(rel["concept_id_1"]), code.get(rel["concept_id_2"])
            if a and b:
                vocab.maps_to.setdefault(a, set()).add(b)
    return vocab


def ndjson_resources(folder: Path) -> list[dict[str, Any]]:
    """Every resource of the NDJSON files in `folder`."""
    return [
        json.loads(line)
        for f in sorted(folder.glob("*.ndjson"))
        for line in f.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def _rewrite(node: Any, urls: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            k: (urls.get(v, v) if k == "reference" and isinstance(v, str) else _rewrite(v, urls))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite(v, urls) for v in node]
    return node


def bundle_resources(folder: Path) -> list[dict[str, Any]]:
    """The resources of every Bundle (``*.json``, ``*.json.gz``) in `folder`, with
    ``urn:uuid:`` references rewritten to ``Type/id`` through the entries' fullUrls."""
    entries: list[tuple[str | None, dict[str, Any]]] = []
    for f in sorted(folder.iterdir()):
        if f.name.endswith(".json.gz"):
            doc = json.loads(gzip.decompress(f.read_bytes()))
        elif f.name.endswith(".json"):
            doc = json.loads(f.read_text(encoding="utf-8"))
        else:
            continue
        entries += [(e.get("fullUrl"), e["resource"]) for e in doc.get("entry", [])]
    urls = {u: f"{r['resourceType']}/{r['id']}" for u, r in entries if u and "id" in r}
    return [_rewrite(r, urls) for _, r in entries]
