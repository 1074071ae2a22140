"""The synthetic population as SDTM mirrors the OMOP writer: the same persons answer the same
questions. Expected counts: hand-written SQL over the OMOP DuckDB file; observed: hand-written
SQL over the SDTM files (read_csv / pyreadstat) and over the loader's layout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pyreadstat
import pytest

from hyperfed.adapters.sdtm.checks import check_study
from hyperfed.adapters.sdtm.loader import Study, load_folder
from hyperfed.synth import SynthSpec, write_omop_duckdb
from hyperfed.synth.errors import SynthWriteError
from hyperfed.synth.sdtm import write_sdtm

SPEC = SynthSpec(persons=1500, seed=7, hemoglobin_g_per_l_share=0.2)


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("synth_sdtm")
    write_omop_duckdb(SPEC, root / "omop.duckdb")
    write_sdtm(SPEC, root / "csv", "csv")
    write_sdtm(SPEC, root / "xpt", "xpt")
    return {"omop": root / "omop.duckdb", "csv": root / "csv", "xpt": root / "xpt"}


@pytest.fixture(scope="module")
def omop(sites: dict[str, Path]) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(sites["omop"]), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def layout(sites: dict[str, Path]) -> Iterator[Study]:
    study = load_folder(sites["xpt"])
    yield study
    study.close()


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchall()[0][0])


def _concept_persons(table: str, column: str, vocab: str, codes: list[str]) -> str:
    quoted = ", ".join(f"'{c}'" for c in codes)
    return (
        f"SELECT count(DISTINCT person_id) FROM {table} WHERE {column} IN "
        f"(SELECT concept_id FROM concept WHERE vocabulary_id = '{vocab}' "
        f"AND concept_code IN ({quoted}))"
    )


def _csv(folder: Path, domain: str) -> str:
    return f"read_csv('{folder / (domain + '.csv')}', all_varchar = true)"


# (question, OMOP SQL, SDTM SQL over the CSV files with {dm}, {mh} ... placeholders)
QUESTIONS = [
    ("persons", "SELECT count(*) FROM person", "SELECT count(DISTINCT USUBJID) FROM {dm}"),
    (
        "women",
        "SELECT count(*) FROM person WHERE gender_concept_id = 8532",
        "SELECT count(*) FROM {dm} WHERE SEX = 'F'",
    ),
    (
        "hypertension",
        _concept_persons("condition_occurrence", "condition_concept_id", "SNOMED", ["59621000"]),
        "SELECT count(DISTINCT USUBJID) FROM {mh} WHERE MHDECOD = 'ESSENTIAL HYPERTENSION'",
    ),
    (
        "lung cancer incl. NSCLC",
        _concept_persons(
            "condition_occurrence", "condition_concept_id", "SNOMED", ["363358000", "254637007"]
        ),
        "SELECT count(DISTINCT USUBJID) FROM {mh} WHERE MHDECOD IN "
        "('LUNG NEOPLASM MALIGNANT', 'NON-SMALL CELL LUNG CANCER')",
    ),
    (
        "GI bleeding (acute)",
        _concept_persons("condition_occurrence", "condition_concept_id", "SNOMED", ["74474003"]),
        "SELECT count(DISTINCT USUBJID) FROM {ae} WHERE AEDECOD = 'GASTROINTESTINAL HAEMORRHAGE'",
    ),
    (
        "metformin",
        _concept_persons("drug_exposure", "drug_concept_id", "RxNorm", ["6809"]),
        "SELECT count(DISTINCT USUBJID) FROM {cm} WHERE CMDECOD = 'METFORMIN HYDROCHLORIDE'",
    ),
    (
        "carboplatin",
        _concept_persons("drug_exposure", "drug_concept_id", "RxNorm", ["40048"]),
        "SELECT count(DISTINCT USUBJID) FROM {ex} WHERE EXTRT = 'CARBOPLATIN'",
    ),
    (
        "CT",
        _concept_persons("procedure_occurrence", "procedure_concept_id", "SNOMED", ["77477000"]),
        "SELECT count(DISTINCT USUBJID) FROM {pr} WHERE PRDECOD = 'COMPUTED TOMOGRAPHY'",
    ),
    (
        "hemoglobin < 12 g/dL (g/dL and g/L rows)",
        "SELECT count(DISTINCT m.person_id) FROM measurement m JOIN concept u "
        "ON u.concept_id = m.unit_concept_id WHERE m.measurement_concept_id = "
        "(SELECT concept_id FROM concept WHERE concept_code = '718-7') AND "
        "((u.concept_code = 'g/dL' AND m.value_as_number < 12) OR "
        "(u.concept_code = 'g/L' AND m.value_as_number < 120))",
        "SELECT count(DISTINCT USUBJID) FROM {lb} WHERE LBTESTCD = 'HGB' AND "
        "((LBSTRESU = 'g/dL' AND CAST(LBSTRESN AS DOUBLE) < 12) OR "
        "(LBSTRESU = 'g/L' AND CAST(LBSTRESN AS DOUBLE) < 120))",
    ),
    (
        "systolic >= 140 mm[Hg]",
        "SELECT count(DISTINCT person_id) FROM measurement WHERE measurement_concept_id = "
        "(SELECT concept_id FROM concept WHERE concept_code = '8480-6') "
        "AND value_as_number >= 140",
        "SELECT count(DISTINCT USUBJID) FROM {vs} WHERE VSTESTCD = 'SYSBP' "
        "AND CAST(VSSTRESN AS DOUBLE) >= 140",
    ),
    (
        "hemoglobin without unit (rows)",
        "SELECT count(*) FROM measurement WHERE measurement_concept_id = "
        "(SELECT concept_id FROM concept WHERE concept_code = '718-7') "
        "AND coalesce(unit_concept_id, 0) = 0",
        "SELECT count(*) FROM {lb} WHERE LBTESTCD = 'HGB' AND LBSTRESU IS NULL",
    ),
    ("deaths", "SELECT count(*) FROM death", "SELECT count(*) FROM {dm} WHERE DTHFL = 'Y'"),
]


@pytest.mark.parametrize(
    ("question", "omop_sql", "sdtm_sql"), QUESTIONS, ids=[q[0] for q in QUESTIONS]
)
def test_sdtm_files_mirror_omop(
    question: str,
    omop_sql: str,
    sdtm_sql: str,
    sites: dict[str, Path],
    omop: duckdb.DuckDBPyConnection,
) -> None:
    expected = _one(omop, omop_sql)
    names = {d: _csv(sites["csv"], d) for d in ("dm", "mh", "ae", "cm", "ex", "lb", "vs", "pr")}
    got = _one(duckdb.connect(), sdtm_sql.format(**names))
    assert got == expected, question
    assert expected > 0, f"{question}: the population should have some"


def test_xpt_files_equal_csv(sites: dict[str, Path]) -> None:
    for domain in ("dm", "lb", "cm"):
        xpt, _ = pyreadstat.read_xport(str(sites["xpt"] / f"{domain}.xpt"))
        csv = pd.read_csv(sites["csv"] / f"{domain}.csv", dtype=str, keep_default_na=False)
        assert list(xpt.columns) == list(csv.columns)
        assert len(xpt) == len(csv)
        assert list(xpt.USUBJID) == list(csv.USUBJID)


def test_layout_of_the_synthetic_site(layout: Study, omop: duckdb.DuckDBPyConnection) -> None:
    assert layout.count("subjects") == SPEC.persons
    assert check_study(layout).ok
    # hemoglobin in g/L rows: the layout maps both units to UCUM
    got = layout.con.execute(
        "SELECT ucum, count(*) FROM findings WHERE testcd = 'HGB' GROUP BY ucum ORDER BY ucum"
    ).fetchall()
    expected = omop.execute(
        "SELECT u.concept_code, count(*) FROM measurement m LEFT JOIN concept u "
        "ON u.concept_id = m.unit_concept_id AND m.unit_concept_id <> 0 "
        "WHERE m.measurement_concept_id = (SELECT concept_id FROM concept WHERE concept_code "
        "= '718-7') GROUP BY u.concept_code ORDER BY u.concept_code"
    ).fetchall()
    assert got == expected
    # age at RFSTDTC from BRTHDTC: the layout's birth interval is the single birth day
    births = layout.con.execute(
        "SELECT count(*) FROM subjects WHERE birth_lo = birth_hi AND birth_source = 'BRTHDTC'"
    ).fetchall()
    assert births == [(SPEC.persons,)]
    omop_births = omop.execute(
        "SELECT min(birth_datetime)::DATE, max(birth_datetime)::DATE FROM person"
    ).fetchall()
    assert (
        layout.con.execute("SELECT min(birth_lo), max(birth_lo) FROM subjects").fetchall()
        == omop_births
    )


def test_existing_files_are_kept(sites: dict[str, Path]) -> None:
    with pytest.raises(SynthWriteError, match="already holds"):
        write_sdtm(SPEC, sites["csv"], "csv")


def test_large_xpt_domains_are_written_in_parts(layout: Study, tmp_path: Path) -> None:
    """Parts (lb01.xpt, lb02.xpt ...) bound the writer's memory; read back as split datasets
    of one domain, they give the same layout as one file per domain."""
    folder = tmp_path / "parts"
    summary = write_sdtm(SPEC, folder, "xpt", xpt_rows_per_file=4096)
    parts = sorted(p.name for p in folder.glob("lb*.xpt"))
    assert parts[0] == "lb01.xpt" and len(parts) > 1 and "lb.xpt" not in parts
    assert (folder / "dm.xpt").is_file()  # 1,500 rows: one file
    assert summary.row_counts["LB"] == layout.count("findings") - summary.row_counts["VS"]
    split = load_folder(folder)
    try:
        for table in ("subjects", "events", "interventions", "findings"):
            assert split.count(table) == layout.count(table), table
        rows = "SELECT domain, usubjid, seq, testcd, value, ucum, date_lo FROM findings"
        assert sorted(split.con.execute(rows).fetchall(), key=str) == sorted(
            layout.con.execute(rows).fetchall(), key=str
        )
    finally:
        split.close()
    # written again over itself: the old parts go
    write_sdtm(SPEC, folder, "xpt", replace=True)
    assert sorted(p.name for p in folder.glob("lb*.xpt")) == ["lb.xpt"]
