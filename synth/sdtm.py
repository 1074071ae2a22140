"""The population written as CDISC SDTM domains (CSV or SAS XPORT), mirroring the OMOP writer.

The same `SynthSpec` gives the same persons and events as `write_omop_duckdb`, so a query both
models express counts the same persons. Mapping (item names from `synth.catalogue`):

- DM: one row per person; USUBJID is OMOP's `person_source_value` (`HFSYN-0000042`), SEX
  F/M/U, BRTHDTC the birth date, RFSTDTC the start of the first observation period, AGE in
  YEARS at RFSTDTC, DTHDTC/DTHFL from the death.
- MH: chronic conditions and cancers (every OMOP condition record, same dates); AE: the acute
  conditions. --TERM = --DECOD = a MedDRA-like preferred term (`_TERMS`); no MedDRA codes.
- CM: drugs, with CMDECOD the WHODrug-like name; EX: chemotherapy (EXTRT).
- LB (HGB, CREAT, GLUC, HBA1C, PSA) and VS (BMI, SYSBP, DIABP): --STRESN/--STRESU and
  --ORRES/--ORRESU in the unit the OMOP row records (g/dL or g/L, mg/dL or umol/L ...), the
  unit left empty where OMOP has none.
- PR: procedures (PRTRT = PRDECOD); DS: DEATH, or COMPLETED at the end of observation.

OMOP's observations (smoking, allergies, history of MI) have no SDTM counterpart here. Files
are written by DuckDB (CSV) or pyreadstat (XPT, SAS transport version 5: names <= 8
characters, labels <= 40); XPT is built in memory one part at a time (a domain of more than
`XPT_ROWS_PER_FILE` rows is written as numbered parts, read back as split datasets).
"""

from __future__ import annotations

import re
import time
from os import PathLike
from pathlib import Path
from typing import Literal

import duckdb

from hyperfed.synth.catalogue import ITEM_NO
from hyperfed.synth.errors import SynthWriteError
from hyperfed.synth.spec import Summary, SynthSpec

__all__ = ["DOMAINS", "TERMS", "SdtmFormat", "sdtm_select_sql", "write_sdtm"]

SdtmFormat = Literal["csv", "xpt"]

# item -> (SDTM term, decod) ; conditions: MedDRA-like PTs, drugs: WHODrug-like names
TERMS: dict[str, tuple[str, str]] = {
    "hypertension": ("ESSENTIAL HYPERTENSION", "ESSENTIAL HYPERTENSION"),
    "icd_hypertension": ("ESSENTIAL HYPERTENSION", "ESSENTIAL HYPERTENSION"),
    "t2d": ("TYPE 2 DIABETES MELLITUS", "TYPE 2 DIABETES MELLITUS"),
    "icd_t2d": ("TYPE 2 DIABETES MELLITUS", "TYPE 2 DIABETES MELLITUS"),
    "asthma": ("ASTHMA", "ASTHMA"),
    "copd": ("CHRONIC OBSTRUCTIVE PULMONARY DISEASE", "CHRONIC OBSTRUCTIVE PULMONARY DISEASE"),
    "hypothyroidism": ("HYPOTHYROIDISM", "HYPOTHYROIDISM"),
    "osteoarthritis": ("OSTEOARTHRITIS", "OSTEOARTHRITIS"),
    "atrial_fibrillation": ("ATRIAL FIBRILLATION", "ATRIAL FIBRILLATION"),
    "coronary_arteriosclerosis": ("CORONARY ARTERY DISEASE", "CORONARY ARTERY DISEASE"),
    "osteoporosis": ("OSTEOPOROSIS", "OSTEOPOROSIS"),
    "allergic_rhinitis": ("RHINITIS ALLERGIC", "RHINITIS ALLERGIC"),
    "anemia": ("ANAEMIA", "ANAEMIA"),
    "mi": ("MYOCARDIAL INFARCTION", "MYOCARDIAL INFARCTION"),
    "viral_sinusitis": ("SINUSITIS VIRAL", "SINUSITIS VIRAL"),
    "acute_bronchitis": ("BRONCHITIS", "BRONCHITIS"),
    "otitis_media": ("OTITIS MEDIA", "OTITIS MEDIA"),
    "viral_pharyngitis": ("PHARYNGITIS", "PHARYNGITIS"),
    "strep_throat": ("PHARYNGITIS STREPTOCOCCAL", "PHARYNGITIS STREPTOCOCCAL"),
    "pneumonia": ("PNEUMONIA", "PNEUMONIA"),
    "cystitis": ("CYSTITIS", "CYSTITIS"),
    "ankle_sprain": ("LIGAMENT SPRAIN", "LIGAMENT SPRAIN"),
    "gi_bleeding": ("GASTROINTESTINAL HAEMORRHAGE", "GASTROINTESTINAL HAEMORRHAGE"),
    "icd_gi_bleeding": ("GASTROINTESTINAL HAEMORRHAGE", "GASTROINTESTINAL HAEMORRHAGE"),
    "colon_polyp": ("COLONIC POLYP", "COLONIC POLYP"),
    "lung_cancer": ("LUNG NEOPLASM MALIGNANT", "LUNG NEOPLASM MALIGNANT"),
    "icd_lung_cancer": ("LUNG NEOPLASM MALIGNANT", "LUNG NEOPLASM MALIGNANT"),
    "nsclc": ("NON-SMALL CELL LUNG CANCER", "NON-SMALL CELL LUNG CANCER"),
    "breast_cancer": ("BREAST CANCER", "BREAST CANCER"),
    "colon_cancer": ("COLON CANCER", "COLON CANCER"),
    "prostate_cancer": ("PROSTATE CANCER", "PROSTATE CANCER"),
    "pelvis_cancer": ("PELVIC NEOPLASM", "PELVIC NEOPLASM"),
    "aspirin": ("ASPIRIN", "ACETYLSALICYLIC ACID"),
    "acetaminophen": ("TYLENOL", "PARACETAMOL"),
    "ibuprofen": ("IBUPROFEN", "IBUPROFEN"),
    "amoxicillin": ("AMOXICILLIN", "AMOXICILLIN"),
    "metformin": ("METFORMIN", "METFORMIN HYDROCHLORIDE"),
    "amlodipine": ("AMLODIPINE", "AMLODIPINE BESILATE"),
    "lisinopril": ("LISINOPRIL", "LISINOPRIL"),
    "atorvastatin": ("ATORVASTATIN", "ATORVASTATIN CALCIUM"),
    "albuterol": ("ALBUTEROL INHALER", "SALBUTAMOL"),
    "fluticasone": ("FLUTICASONE", "FLUTICASONE PROPIONATE"),
    "levothyroxine": ("LEVOTHYROXINE", "LEVOTHYROXINE SODIUM"),
    "warfarin": ("WARFARIN", "WARFARIN SODIUM"),
    "clopidogrel": ("CLOPIDOGREL", "CLOPIDOGREL BISULFATE"),
    "alendronate": ("ALENDRONATE", "ALENDRONATE SODIUM"),
    "ferrous_sulfate": ("FERROUS SULFATE", "FERROUS SULFATE"),
    "loratadine": ("LORATADINE", "LORATADINE"),
    "carboplatin": ("CARBOPLATIN", "CARBOPLATIN"),
    "paclitaxel": ("PACLITAXEL", "PACLITAXEL"),
    "fluorouracil": ("FLUOROURACIL", "FLUOROURACIL"),
    "ondansetron": ("ONDANSETRON", "ONDANSETRON"),
    "general_exam": ("GENERAL EXAMINATION", "GENERAL EXAMINATION"),
    "blood_draw": ("VENIPUNCTURE", "VENIPUNCTURE"),
    "ecg": ("ELECTROCARDIOGRAM", "ELECTROCARDIOGRAM"),
    "chest_xray": ("CHEST X-RAY", "CHEST X-RAY"),
    "med_reconciliation": ("MEDICATION RECONCILIATION", "MEDICATION RECONCILIATION"),
    "im_injection": ("INTRAMUSCULAR INJECTION", "INTRAMUSCULAR INJECTION"),
    "bone_density_scan": ("BONE DENSITY SCAN", "BONE DENSITY SCAN"),
    "ct": ("COMPUTED TOMOGRAPHY", "COMPUTED TOMOGRAPHY"),
    "ct_chest": ("CT OF CHEST", "CT OF CHEST"),
    "mri": ("MAGNETIC RESONANCE IMAGING", "MAGNETIC RESONANCE IMAGING"),
    "pet": ("POSITRON EMISSION TOMOGRAPHY", "POSITRON EMISSION TOMOGRAPHY"),
    "mammography": ("MAMMOGRAPHY", "MAMMOGRAPHY"),
    "colonoscopy": ("COLONOSCOPY", "COLONOSCOPY"),
    "chemotherapy": ("CHEMOTHERAPY", "CHEMOTHERAPY"),
}
# measurement item -> (domain, TESTCD, TEST)
TESTS: dict[str, tuple[str, str, str]] = {
    "hemoglobin": ("LB", "HGB", "Hemoglobin"),
    "creatinine": ("LB", "CREAT", "Creatinine"),
    "glucose": ("LB", "GLUC", "Glucose"),
    "hba1c": ("LB", "HBA1C", "Hemoglobin A1C"),
    "psa": ("LB", "PSA", "Prostate Specific Antigen"),
    "bmi": ("VS", "BMI", "Body Mass Index"),
    "systolic_bp": ("VS", "SYSBP", "Systolic Blood Pressure"),
    "diastolic_bp": ("VS", "DIABP", "Diastolic Blood Pressure"),
}
# UCUM unit item -> CDISC UNIT term
UNIT_TERMS: dict[str, str] = {
    "g/dL": "g/dL", "g/L": "g/L", "mg/dL": "mg/dL", "umol/L": "umol/L", "kg/m2": "kg/m2",
    "mm[Hg]": "mmHg", "%": "%", "ng/mL": "ng/mL",
}  # fmt: skip
DOMAINS = ("DM", "MH", "AE", "CM", "EX", "LB", "VS", "PR", "DS")
_CHEMO_S = 4  # pop_drug branch of chemotherapy


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _map(column: str, mapping: dict[int, str]) -> str:
    whens = " ".join(f"WHEN {k} THEN {_lit(v)}" for k, v in sorted(mapping.items()))
    return f"CASE {column} {whens} END"


def _term(column: str, which: int) -> str:
    return _map(column, {ITEM_NO[k]: v[which] for k, v in TERMS.items()})


def _usubjid(spec: SynthSpec, column: str = "person_id") -> str:
    return f"printf('%s-%07d', {_lit(spec.site_abbreviation)}, {column})"


def _iso(column: str) -> str:
    return f"strftime({column}, '%Y-%m-%d')"


def _events(spec: SynthSpec, d: str, source: str, where: str, term_item: str) -> str:
    """An events/interventions domain (MH, AE, CM, EX, PR) from a population view."""
    std = {"MH": "start_date", "AE": "start_date", "PR": "procedure_date"}.get(d, "start_date")
    end = "NULL" if d == "PR" else _iso("end_date")
    topic = "TRT" if d in ("CM", "EX", "PR") else "TERM"
    cols = [
        f"{_lit(spec.site_abbreviation)} AS STUDYID",
        f"{_lit(d)} AS DOMAIN",
        f"{_usubjid(spec)} AS USUBJID",
        f"CAST(row_number() OVER (PARTITION BY person_id ORDER BY s, k1, k2) AS DOUBLE) AS {d}SEQ",
        f"{_term(term_item, 0)} AS {d}{topic}",
    ]
    if d != "EX":
        cols.append(f"{_term(term_item, 1)} AS {d}DECOD")
    cols += [f"{_iso(std)} AS {d}STDTC", f"{end} AS {d}ENDTC"]
    if d == "CM":
        cols += ["CAST(quantity AS DOUBLE) AS CMDOSE", "'TABLET' AS CMDOSU"]
    return f"SELECT {', '.join(cols)} FROM {source} WHERE {where} ORDER BY person_id, s, k1, k2"


def _findings(spec: SynthSpec, d: str) -> str:
    tests = {ITEM_NO[k]: v for k, v in TESTS.items() if v[0] == d}
    items = ", ".join(str(i) for i in sorted(tests))
    units = _map("unit_item", {ITEM_NO[k]: v for k, v in UNIT_TERMS.items()})
    value = "CAST(value AS VARCHAR)"
    cols = [
        f"{_lit(spec.site_abbreviation)} AS STUDYID",
        f"{_lit(d)} AS DOMAIN",
        f"{_usubjid(spec)} AS USUBJID",
        f"CAST(row_number() OVER (PARTITION BY person_id ORDER BY s, k1, k2) AS DOUBLE) AS {d}SEQ",
        f"{_map('item', {i: t[1] for i, t in tests.items()})} AS {d}TESTCD",
        f"{_map('item', {i: t[2] for i, t in tests.items()})} AS {d}TEST",
        f"{value} AS {d}ORRES",
        f"coalesce({units}, '') AS {d}ORRESU",
        f"{value} AS {d}STRESC",
        f"value AS {d}STRESN",
        f"coalesce({units}, '') AS {d}STRESU",
        f"{_iso('measurement_date')} AS {d}DTC",
    ]
    return (
        f"SELECT {', '.join(cols)} FROM pop_measurement WHERE item IN ({items}) "
        "ORDER BY person_id, s, k1, k2"
    )


def sdtm_select_sql(spec: SynthSpec, domain: str) -> str:
    """The SELECT producing `domain`'s rows over the population views."""
    site = _lit(spec.site_abbreviation)
    if domain == "DM":
        race = "CASE race WHEN 'white' THEN 'WHITE' WHEN 'black' THEN 'BLACK OR AFRICAN AMERICAN' "
        race += "WHEN 'asian' THEN 'ASIAN' END"
        age = (
            "CAST(date_diff('year', birth_date, op1_start) - CASE WHEN strftime(op1_start, "
            "'%m-%d') < strftime(birth_date, '%m-%d') THEN 1 ELSE 0 END AS DOUBLE)"
        )
        return f"""SELECT {site} AS STUDYID, 'DM' AS DOMAIN, {_usubjid(spec)} AS USUBJID,
  lpad(CAST(person_id AS VARCHAR), 7, '0') AS SUBJID, {_iso("op1_start")} AS RFSTDTC,
  {_iso("coalesce(op2_end, op1_end)")} AS RFENDTC, {_iso("death_date")} AS DTHDTC,
  CASE WHEN death_date IS NOT NULL THEN 'Y' END AS DTHFL, '01' AS SITEID,
  {_iso("birth_date")} AS BRTHDTC, {age} AS AGE, 'YEARS' AS AGEU, sex AS SEX, {race} AS RACE,
  CASE ethnicity WHEN 'hispanic' THEN 'HISPANIC OR LATINO' ELSE 'NOT HISPANIC OR LATINO' END
    AS ETHNIC,
  'OBS' AS ARMCD, 'Observational cohort' AS ARM, 'OBS' AS ACTARMCD,
  'Observational cohort' AS ACTARM, 'DEU' AS COUNTRY
FROM pop_person ORDER BY person_id"""
    if domain == "DS":
        end = "coalesce(death_date, op2_end, op1_end)"
        decod = "CASE WHEN death_date IS NOT NULL THEN 'DEATH' ELSE 'COMPLETED' END"
        return f"""SELECT {site} AS STUDYID, 'DS' AS DOMAIN, {_usubjid(spec)} AS USUBJID,
  CAST(1 AS DOUBLE) AS DSSEQ, {decod} AS DSTERM, {decod} AS DSDECOD,
  'DISPOSITION EVENT' AS DSCAT, {_iso(end)} AS DSSTDTC
FROM pop_person ORDER BY person_id"""
    chronic_or_cancer = "s IN (1, 3)"
    if domain == "MH":
        return _events(
            spec, "MH", "pop_condition", chronic_or_cancer, "coalesce(item, source_item)"
        )
    if domain == "AE":
        return _events(spec, "AE", "pop_condition", "s = 2", "item")
    if domain == "CM":
        return _events(spec, "CM", "pop_drug", f"s <> {_CHEMO_S}", "item")
    if domain == "EX":
        return _events(spec, "EX", "pop_drug", f"s = {_CHEMO_S}", "item")
    if domain == "PR":
        return _events(spec, "PR", "pop_procedure", "true", "item")
    if domain in ("LB", "VS"):
        return _findings(spec, domain)
    raise ValueError(f"unknown SDTM domain {domain!r}; valid: {', '.join(DOMAINS)}")


XPT_ROWS_PER_FILE = 500_000
"""A larger XPT domain is written as numbered parts (`lb01.xpt`, `lb02.xpt` ...), which a
reader takes as split datasets of one domain: pyreadstat writes a whole data frame at once,
so parts keep the writer's memory bounded at any population size."""


def _frame(chunk: object) -> object:
    import pandas as pd

    assert isinstance(chunk, pd.DataFrame)
    for col in chunk.columns:
        if chunk[col].dtype == object:
            chunk[col] = chunk[col].fillna("")
    return chunk


def _write_xpt(
    con: duckdb.DuckDBPyConnection, sql: str, path: Path, domain: str, rows_per_file: int
) -> int:
    """Write `sql`'s rows as `path`, or as numbered parts beside it when they are more than
    `rows_per_file`; returns the number of rows."""
    import pyreadstat

    result = con.execute(sql)
    vectors = max(1, rows_per_file // 2048)
    chunk = result.fetch_df_chunk(vectors)
    following = result.fetch_df_chunk(vectors) if len(chunk) else chunk.iloc[0:0]
    if not len(following):
        pyreadstat.write_xport(_frame(chunk), str(path), file_format_version=5, table_name=domain)
        return len(chunk)
    rows, part = 0, 0
    while len(chunk):
        part += 1
        name = f"{domain}{part:02d}"
        target = path.with_name(f"{name.lower()}{path.suffix}")
        pyreadstat.write_xport(_frame(chunk), str(target), file_format_version=5, table_name=name)
        rows += len(chunk)
        chunk, following = following, result.fetch_df_chunk(vectors)
    return rows


def _stale(folder: Path, domain: str, fmt: str) -> list[Path]:
    """Files of `domain` a previous run may have left (the file and its numbered parts)."""
    pattern = re.compile(rf"^{domain.lower()}(\d{{2,}})?\.{fmt}$")
    return [p for p in folder.glob(f"{domain.lower()}*.{fmt}") if pattern.match(p.name)]


def write_sdtm(
    spec: SynthSpec,
    out_dir: str | PathLike[str],
    fmt: SdtmFormat = "csv",
    *,
    replace: bool = False,
    threads: int | None = None,
    xpt_rows_per_file: int = XPT_ROWS_PER_FILE,
) -> Summary:
    """Generate `spec` and write one file per SDTM domain into `out_dir` (created if missing).
    Existing files of the same names make it fail unless `replace=True`."""
    from hyperfed.synth.writers import generate_population

    if fmt not in ("csv", "xpt"):
        raise SynthWriteError(f"format must be 'csv' or 'xpt', not {fmt!r}")
    folder = Path(out_dir)
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    counts: dict[str, int] = {}
    paths = {d: folder / f"{d.lower()}.{fmt}" for d in DOMAINS}
    existing = [p.name for d in DOMAINS for p in _stale(folder, d, fmt)] if folder.is_dir() else []
    if existing and not replace:
        raise SynthWriteError(
            f"{folder} already holds {', '.join(existing)}; "
            "pass replace=True (--replace) to overwrite"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for d in DOMAINS:  # with replace=True: old files and parts of a larger population
            for stale in _stale(folder, d, fmt):
                stale.unlink()
    except OSError as exc:
        raise SynthWriteError(f"cannot create {folder}: {exc}") from exc
    con = duckdb.connect()
    try:
        if threads is not None:
            con.execute(f"SET threads = {int(threads)}")
        try:
            generate_population(con, spec)
        except duckdb.Error as exc:
            raise SynthWriteError(f"generating the population: {exc}") from exc
        for domain, path in paths.items():
            t0 = time.perf_counter()
            sql = sdtm_select_sql(spec, domain)
            try:
                if fmt == "csv":
                    target = "'" + str(path).replace("'", "''") + "'"
                    con.execute(f"COPY ({sql}) TO {target} (FORMAT csv, HEADER true)")
                    rows = con.execute(f"SELECT count(*) FROM ({sql})").fetchall()
                    counts[domain] = int(rows[0][0])
                else:
                    counts[domain] = _write_xpt(con, sql, path, domain, xpt_rows_per_file)
            except (duckdb.Error, OSError, ValueError) as exc:
                raise SynthWriteError(f"writing {path}: {exc}") from exc
            seconds[domain] = time.perf_counter() - t0
    finally:
        con.close()
    seconds["total"] = time.perf_counter() - started
    return Summary(spec=spec, target=str(folder), row_counts=counts, seconds=seconds)
