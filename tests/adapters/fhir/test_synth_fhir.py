"""The synthetic population written as FHIR mirrors the OMOP writer row for row: the FHIR
files go through the loader and the adapter's views, and every table is compared with
hand-written SQL over the OMOP CDM tables of the same spec."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from hyperfed.adapters.fhir.check import check_source
from hyperfed.adapters.fhir.load import FhirStore, load_fhir
from hyperfed.synth import SynthSpec, write_omop_duckdb
from hyperfed.synth.fhir import write_fhir

SPEC = SynthSpec(
    persons=400,
    seed=11,
    icd10cm_source_share=0.3,
    hemoglobin_g_per_l_share=0.3,
    missing_unit_share=0.1,
    cancer_scale=4.0,
)
SCT, LOINC = "http://snomed.info/sct", "http://loinc.org"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FhirStore, Path]]:
    base = tmp_path_factory.mktemp("synth")
    omop = base / "omop.duckdb"
    write_omop_duckdb(SPEC, omop)
    write_fhir(SPEC, base / "fhir")
    store = load_fhir(base / "fhir")
    store.con.execute(f"ATTACH '{omop}' AS omop (READ_ONLY)")
    yield store, base
    store.close()


def _bag(con: duckdb.DuckDBPyConnection, sql: str) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(r) for r in con.execute(sql).fetchall())


PERSON = "(SELECT person_id, person_source_value AS pid FROM omop.person)"


def test_loads_cleanly(both: tuple[FhirStore, Path]) -> None:
    store, _ = both
    assert store.report.ok, store.report.format()
    assert store.report.skipped == {}


def test_patients(both: tuple[FhirStore, Path]) -> None:
    con = both[0].con
    omop = _bag(
        con,
        """SELECT p.person_source_value,
             CASE c.concept_code WHEN 'F' THEN 'female' WHEN 'M' THEN 'male' ELSE 'unknown' END,
             strftime(p.birth_datetime, '%Y-%m-%d'), strftime(d.death_date, '%Y-%m-%d'),
             CASE WHEN d.person_id IS NOT NULL THEN true END
           FROM omop.person p JOIN omop.concept c ON c.concept_id = p.gender_concept_id
           LEFT JOIN omop.death d USING (person_id)""",
    )
    fhir = _bag(con, "SELECT id, gender, birth_date, deceased_date_time, deceased FROM v_patient")
    assert fhir == omop and len(omop) == SPEC.persons


def test_conditions_with_icd10cm(both: tuple[FhirStore, Path]) -> None:
    con = both[0].con
    omop_sct = _bag(
        con,
        f"""SELECT p.pid, c.concept_code, strftime(o.condition_start_date, '%Y-%m-%d')
            FROM omop.condition_occurrence o JOIN {PERSON} p USING (person_id)
            JOIN omop.concept c ON c.concept_id = o.condition_concept_id""",
    )
    fhir_sct = _bag(
        con, f"SELECT patient_id, code, onset_date FROM v_condition WHERE system = '{SCT}'"
    )
    assert fhir_sct == omop_sct
    omop_icd = _bag(
        con,
        f"""SELECT p.pid, o.condition_source_value, strftime(o.condition_start_date, '%Y-%m-%d')
            FROM omop.condition_occurrence o JOIN {PERSON} p USING (person_id)
            JOIN omop.concept s ON s.concept_id = o.condition_source_concept_id
            WHERE s.vocabulary_id = 'ICD10CM'""",
    )
    fhir_icd = _bag(
        con, f"SELECT patient_id, code, onset_date FROM v_condition WHERE system = '{ICD}'"
    )
    assert fhir_icd == omop_icd and len(omop_icd) > 10


def test_measurements_units_and_components(both: tuple[FhirStore, Path]) -> None:
    con = both[0].con
    omop = _bag(
        con,
        f"""SELECT p.pid, c.concept_code, strftime(m.measurement_date, '%Y-%m-%d'),
              CAST(m.value_as_number AS DOUBLE), m.unit_source_value
            FROM omop.measurement m JOIN {PERSON} p USING (person_id)
            JOIN omop.concept c ON c.concept_id = m.measurement_concept_id""",
    )
    fhir = _bag(
        con,
        f"""SELECT patient_id, code, effective_date, value, unit_code FROM v_observation
            WHERE system = '{LOINC}' AND value IS NOT NULL""",
    )
    assert fhir == omop
    assert any(unit is None for *_, unit in omop)  # results without a unit
    assert any(unit == "g/L" for *_, unit in omop)
    parts = dict(
        con.execute(
            "SELECT part, count(*) FROM v_observation WHERE code IN ('8480-6', '8462-4') "
            "GROUP BY ALL"
        ).fetchall()
    )
    assert set(parts) == {"component"}  # blood pressure lives in panel components


def test_drugs_across_three_resource_types(both: tuple[FhirStore, Path]) -> None:
    con = both[0].con
    omop = _bag(
        con,
        f"""SELECT p.pid, c.concept_code, strftime(d.drug_exposure_start_date, '%Y-%m-%d')
            FROM omop.drug_exposure d JOIN {PERSON} p USING (person_id)
            JOIN omop.concept c ON c.concept_id = d.drug_concept_id""",
    )
    fhir = _bag(
        con,
        f"""SELECT patient_id, code, authored_on FROM v_medication_request WHERE system = '{RXNORM}'
            UNION ALL
            SELECT patient_id, code, effective_date FROM v_medication_statement
            WHERE system = '{RXNORM}'
            UNION ALL
            SELECT patient_id, code, effective_date FROM v_medication_administration
            WHERE system = '{RXNORM}'""",
    )
    assert fhir == omop
    for table in ("v_medication_request", "v_medication_statement", "v_medication_administration"):
        row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None and row[0] > 0, table


def test_procedures_imaging_observations_allergies_visits(both: tuple[FhirStore, Path]) -> None:
    con = both[0].con
    proc = f"""SELECT p.pid, c.concept_code, strftime(o.procedure_date, '%Y-%m-%d')
               FROM omop.procedure_occurrence o JOIN {PERSON} p USING (person_id)
               JOIN omop.concept c ON c.concept_id = o.procedure_concept_id"""
    assert _bag(con, "SELECT patient_id, code, performed_date FROM v_procedure") == _bag(con, proc)
    imaging_codes = "('77477000', '169069000', '399208008', '113091000', '82918005', "
    imaging_codes += "'71651007', '312681000')"
    omop_img = _bag(con, f"SELECT * FROM ({proc}) WHERE concept_code IN {imaging_codes}")
    fhir_img = _bag(
        con,
        "SELECT patient_id, code, started FROM v_imaging_study WHERE element = 'procedureCode'",
    )
    assert fhir_img == omop_img and len(omop_img) > 10
    assert _bag(con, "SELECT DISTINCT element FROM v_imaging_study") == Counter(
        {("modality",): 1, ("procedureCode",): 1, ("series.modality",): 1, ("series.bodySite",): 1}
    )
    obs = f"""SELECT p.pid, c.concept_code, strftime(o.observation_date, '%Y-%m-%d'),
                v.concept_code
              FROM omop.observation o JOIN {PERSON} p USING (person_id)
              JOIN omop.concept c ON c.concept_id = o.observation_concept_id
              LEFT JOIN omop.concept v ON v.concept_id = o.value_as_concept_id"""
    fhir_obs = _bag(
        con,
        """SELECT patient_id, code, effective_date, value_code FROM v_observation
            WHERE part = 'observation' AND value IS NULL AND code <> '85354-9'  -- not a panel
            UNION ALL
            SELECT patient_id, code, onset_date, NULL FROM v_allergy_intolerance""",
    )
    assert fhir_obs == _bag(con, obs)
    visits = _bag(
        con,
        f"""SELECT p.pid, strftime(v.visit_start_date, '%Y-%m-%d'),
              CASE v.visit_source_value WHEN 'IP' THEN 'IMP' WHEN 'ER' THEN 'EMER' ELSE 'AMB' END
            FROM omop.visit_occurrence v JOIN {PERSON} p USING (person_id)""",
    )
    assert _bag(con, "SELECT patient_id, period_start, class_code FROM v_encounter") == visits


def test_valid_r4_deterministic_and_bundles(both: tuple[FhirStore, Path], tmp_path: Path) -> None:
    small = SynthSpec(persons=25, seed=5, cancer_scale=10.0)
    write_fhir(small, tmp_path / "a")
    write_fhir(small, tmp_path / "b", compress=True)
    write_fhir(small, tmp_path / "c", bundles=True)
    report = check_source(tmp_path / "a")
    assert not report.problems, report.sorted_problems()[:20]
    for f in (tmp_path / "a").glob("*.ndjson"):  # FHIR JSON has no nulls
        assert ":null" not in f.read_text(), f.name
    a = sorted((tmp_path / "a").glob("*.ndjson"))
    again = tmp_path / "a2"
    write_fhir(small, again)
    assert [p.read_bytes() for p in a] == [(again / p.name).read_bytes() for p in a]
    bundle_check = check_source(tmp_path / "c")
    assert not bundle_check.problems, bundle_check.sorted_problems()[:20]
    stores = [load_fhir(tmp_path / d) for d in ("a", "b", "c")]
    try:
        for table in ("v_patient", "v_condition", "v_observation", "v_imaging_study"):
            bags = [_bag(s.con, f"SELECT * FROM {table}") for s in stores]
            assert bags[0] == bags[1] == bags[2], table
        assert all(s.report.ok for s in stores)
        assert len(list((tmp_path / "c").glob("patient-*.json"))) == small.persons
    finally:
        for s in stores:
            s.close()


def test_generate_fhir_command(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hyperfed.synth.cli import app

    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["fhir", "--persons", "20", "--out", str(out), "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "Patient" in result.stdout
    lines = (out / "Patient.ndjson").read_text().splitlines()
    assert len(lines) == 20
    again = CliRunner().invoke(app, ["fhir", "--persons", "20", "--out", str(out)])
    assert again.exit_code == 2 and "is not empty" in " ".join(again.stderr.split())
    big = CliRunner().invoke(
        app, ["fhir", "--persons", "30000", "--out", str(tmp_path / "b"), "--bundles"]
    )
    assert big.exit_code == 2 and "Bundles are for small sizes" in " ".join(big.stderr.split())
