"""The DICOM index's dataset facts for the catalogue: persons, studies, years, EUCAIM facets,
against hand-written DuckDB SQL over the same Parquet file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest

from hyperfed.adapters.dicom import DicomAdapter
from hyperfed.synth import SynthSpec
from hyperfed.synth.dicom import write_dicom

AS_OF = dt.date(2025, 1, 1)
DCM = "http://dicom.nema.org/resources/ontology/DCM"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dicom-facts")
    write_dicom(SynthSpec(persons=3000, seed=5, cancer_scale=3.0), folder)
    return folder / "dicom_series.parquet"


def hand(index: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect() as con:
        con.execute(f"CREATE VIEW s AS SELECT * FROM read_parquet('{index}')")
        return con.execute(sql).fetchall()


def test_dicom_facts_match_hand_written_sql(index: Path) -> None:
    adapter = DicomAdapter.from_source(str(index))
    try:
        facts = adapter.facts("imaging", AS_OF)
    finally:
        adapter.close()
    assert facts is not None
    ((persons, studies),) = hand(
        index,
        "SELECT COUNT(DISTINCT person_key), COUNT(DISTINCT StudyInstanceUID) FROM s "
        "WHERE person_key IS NOT NULL",
    )
    assert (facts.persons, facts.records, facts.record_kind) == (persons, studies, "studies")
    assert persons > 100
    modality = dict(
        hand(
            index,
            "SELECT Modality, COUNT(DISTINCT person_key) FROM s WHERE person_key IS NOT NULL "
            "AND Modality IS NOT NULL GROUP BY 1",
        )
    )
    assert dict(facts.facets["modality"]) == modality and {"CT", "MR"} <= set(modality)
    assert dict(facts.code_values) == {(DCM, m): n for m, n in modality.items()}
    years = dict(
        hand(
            index,
            "SELECT year(StudyDate), COUNT(DISTINCT person_key) FROM s "
            "WHERE person_key IS NOT NULL AND StudyDate IS NOT NULL GROUP BY 1",
        )
    )
    assert dict(facts.persons_by_year) == years
    # a person's sex is the one all their series agree on
    sexes = dict(
        hand(
            index,
            "SELECT CASE WHEN n = 1 AND sex = 'F' THEN 'female' WHEN n = 1 AND sex = 'M' "
            "THEN 'male' ELSE 'unknown' END, COUNT(*) FROM (SELECT person_key, "
            "COUNT(DISTINCT PatientSex) AS n, MAX(PatientSex) AS sex FROM s "
            "WHERE person_key IS NOT NULL GROUP BY 1) GROUP BY 1",
        )
    )
    assert dict(facts.persons_by_sex) == sexes
    assert sum(facts.persons_by_age.values()) <= persons
    assert facts.health_categories == ("MIDI",)


def test_no_facts_over_dicomweb() -> None:
    adapter = DicomAdapter.__new__(DicomAdapter)
    adapter._runner, adapter.index = None, None
    assert adapter.facts("pacs", AS_OF) is None
