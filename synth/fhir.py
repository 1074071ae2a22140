"""The FHIR R4 view of the population: one SELECT of resource JSON per resource type.

The same rows the OMOP writer stores (`hyperfed.synth.omop`) become resources, row for row:

- person (+ death) -> Patient: gender, birthDate, deceasedDateTime;
- visit_occurrence -> Encounter: class IMP/AMB/EMER, period;
- condition_occurrence -> Condition: the SNOMED coding, plus the ICD-10-CM coding where the
  OMOP row has an ICD-10-CM source code; onsetDateTime;
- drug_exposure -> MedicationRequest (chronic and acute therapy: authoredOn),
  MedicationStatement (everyday drugs: effectivePeriod), MedicationAdministration
  (chemotherapy: effectiveDateTime); RxNorm;
- measurement -> Observation (LOINC, valueQuantity in the UCUM unit of the OMOP row, no unit
  where OMOP has none); systolic and diastolic pressure of a visit become the components of
  one blood-pressure panel (85354-9);
- procedure_occurrence -> Procedure (SNOMED, performedDateTime), and an ImagingStudy for each
  imaging procedure (modality, procedureCode, series body site, procedureReference);
- observation -> Observation (smoking status with a SNOMED value, history of MI),
  AllergyIntolerance (allergies).

Resource ids follow the OMOP row ids (``c<condition_occurrence_id>`` ...), patients are
``<site>-<person_id>`` (7 digits). Every SELECT yields ``person_id``, an order key and the
resource JSON text ``j``; nulls are dropped with ``json_merge_patch`` (FHIR has no nulls).
Pure: functions return SQL text (numbers and our own code strings only).
"""

from __future__ import annotations

import json
import re
import time
from os import PathLike
from pathlib import Path

import duckdb

from hyperfed.adapters.omop.tables import system_for_vocabulary
from hyperfed.synth import vocabulary as voc
from hyperfed.synth.catalogue import ITEM_NO, ITEMS
from hyperfed.synth.errors import SynthSpecError, SynthWriteError
from hyperfed.synth.spec import Summary, SynthSpec

__all__ = [
    "IMAGING",
    "MAX_BUNDLE_PERSONS",
    "RESOURCE_TYPES",
    "fhir_item_sql",
    "resource_sql",
    "write_fhir",
]

RESOURCE_TYPES = (
    "Patient",
    "Encounter",
    "Condition",
    "MedicationRequest",
    "MedicationStatement",
    "MedicationAdministration",
    "Observation",
    "Procedure",
    "ImagingStudy",
    "AllergyIntolerance",
)
_DCM = "http://dicom.nema.org/resources/ontology/DCM"
_SCT = "http://snomed.info/sct"
_UCUM = "http://unitsofmeasure.org"
_LOINC = "http://loinc.org"
_TERM = "http://terminology.hl7.org/CodeSystem/"
# imaging procedure item -> (DICOM modality, body site SNOMED code or None)
IMAGING: dict[str, tuple[str, str | None]] = {
    "ct": ("CT", None),
    "ct_chest": ("CT", "51185008"),
    "chest_xray": ("DX", "51185008"),
    "mri": ("MR", None),
    "pet": ("PT", None),
    "mammography": ("MG", "76752008"),
    "bone_density_scan": ("BMD", None),
}
_MODALITY_NAMES = {
    "CT": "Computed Tomography",
    "DX": "Digital Radiography",
    "MR": "Magnetic Resonance",
    "PT": "Positron emission tomography (PET)",
    "MG": "Mammography",
    "BMD": "Bone Mineral Densitometry",
}
_BODY_SITES = {"51185008": "Thoracic structure", "76752008": "Breast structure"}
_LAB = ("hemoglobin", "creatinine", "glucose", "hba1c", "psa")


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def fhir_item_sql() -> str:
    """hf_fhir_item: each catalogue item's FHIR system URI, code and display."""
    names = {(c.vocabulary_id, c.concept_code): c.concept_name for c in voc.CONCEPTS}
    rows = []
    for number, item in enumerate(ITEMS, start=1):
        system = system_for_vocabulary(item.system)
        uri = system if system is not None else item.system
        display = names.get((item.system, item.code), item.key)
        rows.append(f"({number}, {_lit(uri)}, {_lit(item.code)}, {_lit(display)})")
    return (
        "CREATE OR REPLACE TEMP TABLE hf_fhir_item AS SELECT * FROM (VALUES "
        + ", ".join(rows)
        + ") t(item, system, code, display)"
    )


def _id_prefix(spec: SynthSpec) -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "-", spec.site_abbreviation)[:40] or "HF"


def _ref(kind: str, id_sql: str, bundles: bool) -> str:
    """A reference string: `Type/id`, or the urn:uuid fullUrl of Bundle entries."""
    if bundles:
        return f"'urn:uuid:' || CAST(CAST(md5('{kind}/' || {id_sql}) AS UUID) AS VARCHAR)"
    return f"'{kind}/' || {id_sql}"


def _coding(alias: str) -> str:
    return (
        f"json_object('system', {alias}.system, 'code', {alias}.code, 'display', {alias}.display)"
    )


def _concept(alias: str) -> str:
    return f"json_object('coding', json_array({_coding(alias)}), 'text', {alias}.display)"


def _status(system: str, code: str) -> str:
    coding = f"json_object('system', '{_TERM}{system}', 'code', {code})"
    return f"json_object('coding', json_array({coding}))"


def _numbered(view: str) -> str:
    """The event view numbered as the OMOP writer numbers its rows (`rn`)."""
    return (
        f"(SELECT *, CAST(row_number() OVER (ORDER BY person_id, s, k1, k2) AS INTEGER) AS rn "
        f"FROM {view})"
    )


def _date(col: str) -> str:
    return f"strftime({col}, '%Y-%m-%d')"


def _resource(fields: str) -> str:
    return f"CAST(json_merge_patch('{{}}', json_object({fields})) AS VARCHAR) AS j"


def resource_sql(spec: SynthSpec, resource_type: str, bundles: bool = False) -> str:
    """SELECT person_id, k (order within the person), id, j (resource JSON) for one type."""
    pid = f"printf('%s-%07d', {_lit(_id_prefix(spec))}, person_id)"
    subject = f"'subject', json_object('reference', {_ref('Patient', pid, bundles)})"
    visit = "'v' || visit_id"
    encounter = f"json_object('reference', {_ref('Encounter', visit, bundles)})"
    builders = {
        "Patient": _patient,
        "Encounter": _encounter,
        "Condition": _condition,
        "MedicationRequest": _medication,
        "MedicationStatement": _medication,
        "MedicationAdministration": _medication,
        "Observation": _observation,
        "Procedure": _procedure,
        "ImagingStudy": _imaging,
        "AllergyIntolerance": _allergy,
    }
    return builders[resource_type](resource_type, pid, subject, encounter)


def _patient(kind: str, pid: str, subject: str, encounter: str) -> str:
    gender = "CASE p.sex WHEN 'F' THEN 'female' WHEN 'M' THEN 'male' ELSE 'unknown' END"
    fields = (
        f"'resourceType', 'Patient', 'id', {pid}, 'gender', {gender}, "
        f"'birthDate', {_date('p.birth_date')}, 'deceasedDateTime', {_date('d.death_date')}"
    )
    return (
        f"SELECT person_id, 0 AS k, {pid} AS id, {_resource(fields)} "
        "FROM pop_person p LEFT JOIN pop_death d USING (person_id)"
    )


def _encounter(kind: str, pid: str, subject: str, encounter: str) -> str:
    cls = "CASE visit_class WHEN 'IP' THEN 'IMP' WHEN 'ER' THEN 'EMER' ELSE 'AMB' END"
    name = "CASE visit_class WHEN 'IP' THEN 'inpatient encounter' WHEN 'ER' THEN 'emergency' "
    name += "ELSE 'ambulatory' END"
    fields = (
        "'resourceType', 'Encounter', 'id', 'v' || visit_id, 'status', 'finished', "
        f"'class', json_object('system', '{_TERM}v3-ActCode', 'code', {cls}, 'display', {name}), "
        f"{subject}, 'period', json_object('start', {_date('start_date')}, "
        f"'end', {_date('end_date')})"
    )
    return (
        f"SELECT person_id, visit_id AS k, 'v' || visit_id AS id, {_resource(fields)} "
        "FROM pop_visit"
    )


def _condition(kind: str, pid: str, subject: str, encounter: str) -> str:
    clinical = "CASE WHEN e.end_date IS NULL THEN 'active' ELSE 'resolved' END"
    confirmed = _status("condition-ver-status", "'confirmed'")
    category = _status("condition-category", "'encounter-diagnosis'")
    codings = (
        f"CASE WHEN si.item IS NULL THEN json_array({_coding('i')}) "
        f"ELSE json_array({_coding('i')}, {_coding('si')}) END"
    )
    fields = (
        "'resourceType', 'Condition', 'id', 'c' || rn, "
        f"'clinicalStatus', {_status('condition-clinical', clinical)}, "
        f"'verificationStatus', {confirmed}, 'category', json_array({category}), "
        f"'code', json_object('coding', {codings}, 'text', i.display), {subject}, "
        f"'encounter', {encounter}, 'onsetDateTime', {_date('e.start_date')}, "
        f"'abatementDateTime', {_date('e.end_date')}, 'recordedDate', {_date('e.start_date')}"
    )
    return (
        f"SELECT person_id, rn AS k, 'c' || rn AS id, {_resource(fields)} "
        f"FROM {_numbered('pop_condition')} e JOIN hf_fhir_item i ON i.item = e.item "
        "LEFT JOIN hf_fhir_item si ON si.item = e.source_item"
    )


def _medication(kind: str, pid: str, subject: str, encounter: str) -> str:
    med = f"'medicationCodeableConcept', {_concept('i')}, {subject}"
    if kind == "MedicationRequest":
        prefix, where = "mr", "e.s IN (1, 2)"
        supply = (
            f"json_object('value', days_supply, 'unit', 'days', 'system', '{_UCUM}', 'code', 'd')"
        )
        body = (
            f"'status', 'completed', 'intent', 'order', {med}, 'encounter', {encounter}, "
            f"'authoredOn', {_date('e.start_date')}, 'dispenseRequest', json_object("
            "'numberOfRepeatsAllowed', refills, 'quantity', json_object('value', quantity), "
            f"'expectedSupplyDuration', {supply})"
        )
    elif kind == "MedicationStatement":
        prefix, where = "ms", "e.s = 3"
        body = (
            f"'status', 'completed', {med}, 'context', {encounter}, 'effectivePeriod', "
            f"json_object('start', {_date('e.start_date')}, 'end', {_date('e.end_date')}), "
            f"'dateAsserted', {_date('e.start_date')}"
        )
    else:
        prefix, where = "ma", "e.s = 4"
        body = (
            f"'status', 'completed', {med}, 'context', {encounter}, "
            f"'effectiveDateTime', {_date('e.start_date')}"
        )
    fields = f"'resourceType', '{kind}', 'id', '{prefix}' || rn, {body}"
    return (
        f"SELECT person_id, rn AS k, '{prefix}' || rn AS id, {_resource(fields)} "
        f"FROM {_numbered('pop_drug')} e JOIN hf_fhir_item i ON i.item = e.item WHERE {where}"
    )


def _quantity(value: str, unit_alias: str) -> str:
    return (
        f"json_object('value', {value}, 'unit', {unit_alias}.code, "
        f"'system', CASE WHEN {unit_alias}.item IS NOT NULL THEN '{_UCUM}' END, "
        f"'code', {unit_alias}.code)"
    )


def _observation(kind: str, pid: str, subject: str, encounter: str) -> str:
    sys_bp, dia_bp = ITEM_NO["systolic_bp"], ITEM_NO["diastolic_bp"]
    labs = ", ".join(str(ITEM_NO[k]) for k in _LAB)
    lab_or_vital = f"CASE WHEN e.item IN ({labs}) THEN 'laboratory' ELSE 'vital-signs' END"
    category = f"json_array({_status('observation-category', lab_or_vital)})"
    vital = f"json_array({_status('observation-category', chr(39) + 'vital-signs' + chr(39))})"
    social_cat = _status("observation-category", "'social-history'")
    common = f"'status', 'final', {subject}, 'encounter', {encounter}"
    single_fields = (
        f"'resourceType', 'Observation', 'id', 'm' || rn, {common}, 'category', {category}, "
        f"'code', {_concept('i')}, 'effectiveDateTime', {_date('e.measurement_date')}, "
        f"'valueQuantity', {_quantity('e.value', 'u')}"
    )
    single = (
        f"SELECT person_id, rn AS k, 'm' || rn AS id, {_resource(single_fields)} "
        f"FROM {_numbered('pop_measurement')} e JOIN hf_fhir_item i ON i.item = e.item "
        f"LEFT JOIN hf_fhir_item u ON u.item = e.unit_item "
        f"WHERE e.item NOT IN ({sys_bp}, {dia_bp})"
    )
    panel_code = (
        f"json_object('coding', json_array(json_object('system', '{_LOINC}', 'code', '85354-9', "
        "'display', 'Blood pressure panel with all children optional')), "
        "'text', 'Blood pressure panel')"
    )
    systolic = (
        f"json_object('code', {_concept('si')}, 'valueQuantity', {_quantity('s.value', 'su')})"
    )
    diastolic = (
        f"json_object('code', {_concept('di')}, 'valueQuantity', {_quantity('d.value', 'du')})"
    )
    panel_common = common.replace("person_id", "s.person_id").replace("visit_id", "s.visit_id")
    panel_fields = (
        f"'resourceType', 'Observation', 'id', 'm' || s.rn, {panel_common}, "
        f"'category', {vital}, 'code', {panel_code}, "
        f"'effectiveDateTime', {_date('s.measurement_date')}, "
        f"'component', json_array({systolic}, {diastolic})"
    )
    measurements = _numbered("pop_measurement")
    panel = (
        f"SELECT s.person_id, s.rn AS k, 'm' || s.rn AS id, {_resource(panel_fields)} "
        f"FROM {measurements} s JOIN {measurements} d ON d.person_id = s.person_id "
        f"AND d.s = s.s AND d.k1 = s.k1 AND d.item = {dia_bp} "
        "JOIN hf_fhir_item si ON si.item = s.item JOIN hf_fhir_item di ON di.item = d.item "
        "LEFT JOIN hf_fhir_item su ON su.item = s.unit_item "
        f"LEFT JOIN hf_fhir_item du ON du.item = d.unit_item WHERE s.item = {sys_bp}"
    )
    social_fields = (
        f"'resourceType', 'Observation', 'id', 'o' || rn, {common}, "
        f"'category', json_array({social_cat}), 'code', {_concept('i')}, "
        f"'effectiveDateTime', {_date('e.observation_date')}, "
        f"'valueCodeableConcept', CASE WHEN v.item IS NOT NULL THEN {_concept('v')} END"
    )
    social = (
        f"SELECT person_id, 1000000000 + rn AS k, 'o' || rn AS id, {_resource(social_fields)} "
        f"FROM {_numbered('pop_observation')} e JOIN hf_fhir_item i ON i.item = e.item "
        "LEFT JOIN hf_fhir_item v ON v.item = e.value_item WHERE e.s IN (1, 3)"
    )
    return f"{single}\nUNION ALL\n{panel}\nUNION ALL\n{social}"


def _procedure(kind: str, pid: str, subject: str, encounter: str) -> str:
    fields = (
        "'resourceType', 'Procedure', 'id', 'pr' || rn, 'status', 'completed', "
        f"'code', {_concept('i')}, {subject}, 'encounter', {encounter}, "
        f"'performedDateTime', {_date('e.procedure_date')}"
    )
    return (
        f"SELECT person_id, rn AS k, 'pr' || rn AS id, {_resource(fields)} "
        f"FROM {_numbered('pop_procedure')} e JOIN hf_fhir_item i ON i.item = e.item"
    )


def _imaging_bundled(kind: str, pid: str, subject: str, encounter: str) -> str:
    return _imaging(kind, pid, subject, encounter, bundles=True)


def _imaging(kind: str, pid: str, subject: str, encounter: str, bundles: bool = False) -> str:
    rows = ", ".join(
        f"({ITEM_NO[key]}, '{mod}', '{_MODALITY_NAMES[mod]}', "
        + (f"'{site}', '{_BODY_SITES[site]}'" if site else "NULL, NULL")
        + ")"
        for key, (mod, site) in IMAGING.items()
    )
    modality = f"json_object('system', '{_DCM}', 'code', m.modality, 'display', m.modality_name)"
    body = f"CASE WHEN m.site IS NOT NULL THEN json_object('system', '{_SCT}', 'code', m.site, "
    body += "'display', m.site_name) END"
    series = (  # json_merge_patch drops the null bodySite of series without one
        "json_array(json_merge_patch('{}', json_object('uid', '2.25.' || "
        "CAST(hash('series', rn) AS VARCHAR), "
        f"'number', 1, 'modality', {modality}, 'bodySite', {body}, 'numberOfInstances', 1)))"
    )
    procedure = _ref("Procedure", "'pr' || rn", bundles)
    fields = (
        "'resourceType', 'ImagingStudy', 'id', 'is' || rn, 'status', 'available', "
        f"{subject}, 'encounter', {encounter}, 'started', {_date('e.procedure_date')}, "
        f"'modality', json_array({modality}), 'procedureCode', json_array({_concept('i')}), "
        f"'numberOfSeries', 1, 'numberOfInstances', 1, 'series', {series}, "
        f"'procedureReference', json_object('reference', {procedure})"
    )
    return (
        f"SELECT person_id, rn AS k, 'is' || rn AS id, {_resource(fields)} "
        f"FROM {_numbered('pop_procedure')} e JOIN hf_fhir_item i ON i.item = e.item "
        f"JOIN (VALUES {rows}) m(item, modality, modality_name, site, site_name) "
        "ON m.item = e.item"
    )


def _allergy(kind: str, pid: str, subject: str, encounter: str) -> str:
    patient = subject.replace("'subject'", "'patient'", 1)
    active = _status("allergyintolerance-clinical", "'active'")
    confirmed = _status("allergyintolerance-verification", "'confirmed'")
    fields = (
        "'resourceType', 'AllergyIntolerance', 'id', 'a' || rn, "
        f"'clinicalStatus', {active}, 'verificationStatus', {confirmed}, "
        f"'code', {_concept('i')}, {patient}, 'encounter', {encounter}, "
        f"'onsetDateTime', {_date('e.observation_date')}, "
        f"'recordedDate', {_date('e.observation_date')}"
    )
    return (
        f"SELECT person_id, rn AS k, 'a' || rn AS id, {_resource(fields)} "
        f"FROM {_numbered('pop_observation')} e JOIN hf_fhir_item i ON i.item = e.item "
        "WHERE e.s = 2"
    )


# ---------------------------------------------------------------------------------------
# the writer (I/O edge)

MAX_BUNDLE_PERSONS = 20_000
_COPY = "(FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\x01'{gz})"


def write_fhir(
    spec: SynthSpec,
    out_dir: str | PathLike[str],
    *,
    bundles: bool = False,
    compress: bool = False,
    replace: bool = False,
    threads: int | None = None,
) -> Summary:
    """Write `spec`'s population as FHIR Bulk Data NDJSON (one file per resource type, and a
    manifest.json), or with `bundles=True` one transaction Bundle per patient (urn:uuid
    fullUrls and references; at most MAX_BUNDLE_PERSONS persons)."""
    from hyperfed.synth.writers import generate_population

    if bundles and spec.persons > MAX_BUNDLE_PERSONS:
        raise SynthSpecError(
            "persons", spec.persons, f"Bundles are for small sizes (at most {MAX_BUNDLE_PERSONS})"
        )
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not replace:
        raise SynthWriteError(
            f"{out} is not empty; pass replace=True (--replace) to overwrite its files"
        )
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    counts: dict[str, int] = {}
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        if threads is not None:
            con.execute(f"SET threads = {int(threads)}")
        generate_population(con, spec)
        con.execute(fhir_item_sql())
        seconds["generate"] = time.perf_counter() - started
        suffix = ".ndjson.gz" if compress else ".ndjson"
        for rt in RESOURCE_TYPES:
            t0 = time.perf_counter()
            sql = resource_sql(spec, rt, bundles)
            if bundles:
                con.execute(f"CREATE TEMP TABLE hf_res_{rt} AS {sql}")
                row = con.execute(f"SELECT count(*) FROM hf_res_{rt}").fetchone()
            else:
                target = out / f"{rt}{suffix}"
                literal = "'" + str(target).replace("'", "''") + "'"
                gz = ", COMPRESSION gzip" if compress else ""
                row = con.execute(
                    f"COPY (SELECT j FROM ({sql}) ORDER BY person_id, k) TO {literal} "
                    + _COPY.format(gz=gz)
                ).fetchone()
            counts[rt] = int(row[0]) if row else 0
            seconds[rt] = time.perf_counter() - t0
        if bundles:
            t0 = time.perf_counter()
            _write_bundles(con, out)
            seconds["bundles"] = time.perf_counter() - t0
        else:
            _write_manifest(out, suffix, counts)
    except duckdb.Error as exc:
        raise SynthWriteError(f"writing FHIR to {out}: {exc}") from exc
    finally:
        con.close()
    seconds["total"] = time.perf_counter() - started
    return Summary(spec=spec, target=str(out), row_counts=counts, seconds=seconds)


def _write_bundles(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    parts = " UNION ALL ".join(
        f"SELECT person_id, {i} AS t, k, '{rt}' AS rt, id, j FROM hf_res_{rt}"
        for i, rt in enumerate(RESOURCE_TYPES)
    )
    full_url = "'urn:uuid:' || CAST(CAST(md5(rt || '/' || id) AS UUID) AS VARCHAR)"
    entry = (
        f"json_object('fullUrl', {full_url}, 'resource', CAST(j AS JSON), "
        "'request', json_object('method', 'POST', 'url', rt))"
    )
    cur = con.execute(
        f"""SELECT person_id, CAST(json_object('resourceType', 'Bundle', 'type', 'transaction',
  'entry', to_json(list({entry} ORDER BY t, k))) AS VARCHAR)
FROM ({parts}) GROUP BY person_id ORDER BY person_id"""
    )
    while batch := cur.fetchmany(1000):
        for person_id, text in batch:
            (out / f"patient-{int(person_id):07d}.json").write_text(text + "\n", encoding="utf-8")


def _write_manifest(out: Path, suffix: str, counts: dict[str, int]) -> None:
    manifest = {
        "transactionTime": "2025-12-31T00:00:00Z",
        "request": "hyperfed generate fhir",
        "requiresAccessToken": False,
        "output": [{"type": rt, "url": f"{rt}{suffix}", "count": n} for rt, n in counts.items()],
        "error": [],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
