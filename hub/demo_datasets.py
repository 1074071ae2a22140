"""How the demo's nodes describe their datasets for the FAIR catalogue: the `[node]`
catalogue fields and one full `[[datasets]]` table per site (licence, a DOI in DataCite's
test prefix 10.5072, keywords, contact, publisher, health category, conformance), written
into the demo's node configs as TOML (`node_catalogue_toml`, `datasets_toml`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["DESCRIPTIONS", "datasets_toml", "node_catalogue_toml"]

OMOP_54 = "https://ohdsi.github.io/CommonDataModel/cdm54.html"
SDTM = "https://www.cdisc.org/standards/foundational/sdtm"
FHIR_R4 = "http://hl7.org/fhir/R4"
DICOM = "https://www.dicomstandard.org/current"

PUBLISHERS: dict[str, dict[str, str]] = {
    "eunomia": {"name": "Observational Health Data Sciences and Informatics (OHDSI)",
                "url": "https://www.ohdsi.org"},
    "uni-hospital": {"name": "Hyperfed demo university hospital",
                     "url": "https://uni-hospital.demo.hyperfed.example"},
    "regional-clinic": {"name": "Hyperfed demo regional clinic",
                        "url": "https://regional-clinic.demo.hyperfed.example"},
    "trial-sdtm": {"name": "Hyperfed demo trial sponsor",
                   "url": "https://trial.demo.hyperfed.example"},
    "fhir-clinic": {"name": "Hyperfed demo FHIR clinic",
                    "url": "https://fhir-clinic.demo.hyperfed.example"},
    "uni-hospital-imaging": {"name": "Hyperfed demo university hospital, radiology",
                             "url": "https://uni-hospital.demo.hyperfed.example/imaging"},
}  # fmt: skip

DESCRIPTIONS: dict[str, dict[str, Any]] = {
    "eunomia": {
        "description": "The OHDSI Eunomia GiBleed sample: a small synthetic OMOP CDM "
        "(Synthea) of 2,694 persons, the standard test set of the OHDSI tools.",
        "keywords": ["OMOP", "synthetic", "gastrointestinal bleeding", "Eunomia"],
        "licence": "Apache-2.0",
        "access_rights": "PUBLIC",
        "conforms_to": [OMOP_54],
        "health_categories": ["EHRS"],
        "landing_page": "https://github.com/OHDSI/Eunomia",
    },
    "uni-hospital": {
        "description": "Synthetic electronic health records of a university hospital "
        "(20,000 persons): conditions, drugs, measurements, procedures, OMOP CDM 5.4.",
        "keywords": ["OMOP", "synthetic", "oncology", "cardiology"],
        "licence": "CC-BY-4.0",
        "access_rights": "RESTRICTED",
        "conforms_to": [OMOP_54],
        "health_categories": ["EHRS"],
    },
    "regional-clinic": {
        "description": "Synthetic electronic health records of a regional clinic (5,000 "
        "persons), OMOP CDM 5.4, other units and coding habits than the hospital.",
        "keywords": ["OMOP", "synthetic", "primary care"],
        "licence": {
            "title": "Use within the Hyperfed demo federation, attribution required",
            "url": "https://regional-clinic.demo.hyperfed.example/terms",
        },
        "access_rights": "NON_PUBLIC",
        "conforms_to": [OMOP_54],
        "health_categories": ["EHRS"],
    },
    "fhir-clinic": {
        "description": "Synthetic electronic health records of a clinic (2,000 patients) "
        "exported as FHIR R4 Bulk Data NDJSON: patients, conditions, observations, "
        "medications, procedures, imaging studies, encounters.",
        "keywords": ["FHIR", "Bulk Data", "synthetic", "primary care"],
        "licence": "CC-BY-4.0",
        "access_rights": "RESTRICTED",
        "conforms_to": [FHIR_R4],
        "health_categories": ["EHRS"],
    },
    "uni-hospital-imaging": {
        "description": "The imaging of the synthetic university hospital as a DICOM series "
        "index (CT, MR, PET, mammography): modality, body part, manufacturer, study dates.",
        "keywords": ["DICOM", "imaging", "radiology", "synthetic", "EUCAIM"],
        "licence": "CC-BY-4.0",
        "access_rights": "RESTRICTED",
        "conforms_to": [DICOM],
        "health_categories": ["MIDI"],
    },
    "trial-sdtm": {
        "description": "A synthetic clinical trial (3,000 subjects) as CDISC SDTM datasets: "
        "demographics, adverse events, medical history, medications, laboratory results.",
        "keywords": ["CDISC", "SDTM", "clinical trial", "synthetic"],
        "licence": "CC-BY-NC-4.0",
        "access_rights": "RESTRICTED",
        "conforms_to": [SDTM],
        "health_categories": ["EHRS"],
    },
}


def _value(v: Any) -> str:
    if isinstance(v, str | int | float | bool):
        return json.dumps(v, ensure_ascii=False)  # a TOML basic string is a JSON string
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"no TOML for {type(v).__name__}")


def node_catalogue_toml(site: str) -> str:
    """The `[node]` lines of the site's sub-catalogue (publisher, contact, homepage)."""
    p = PUBLISHERS[site]
    contact = {"name": "Data office", "email": f"data@{site}.demo.hyperfed.example"}
    return f"publisher = {_value(p)}\ncontact = {_value(contact)}\nhomepage = {_value(p['url'])}\n"


def datasets_toml(site: str, dataset_id: str, title: str) -> str:
    """The site's `[[datasets]]` table."""
    fields: dict[str, Any] = {
        "id": dataset_id,
        "title": title,
        **DESCRIPTIONS[site],
        "doi": f"10.5072/hyperfed-demo.{dataset_id}",
        "version": "2024.1",
    }
    return "[[datasets]]\n" + "".join(f"{k} = {_value(v)}\n" for k, v in fields.items())
