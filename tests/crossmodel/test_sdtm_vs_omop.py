"""SDTM against OMOP on one population: the synthetic population written as SDTM domains
(CSV and SAS XPORT, `hyperfed.synth.sdtm`) and as an OMOP CDM file answer the whole battery
identically — totals and every stratum — through the hub's preparation (codes SDTM does not
carry are translated through the hyperontology into SDTM terms).

Also on the population as real nodes hold it: some subjects without a sex, or without any
birth date or age (in both models), so unknown attributes are compared too.

Every battery question but those in `UNSUPPORTED` is expressible in SDTM; a question listed
there must come back `unsupported` with its path and reason.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from hyperfed.adapters.base import ExactCount
from hyperfed.adapters.omop import OmopAdapter
from hyperfed.adapters.sdtm import SdtmAdapter
from hyperfed.hub.prepare import prepare
from hyperfed.ontology import Ontology
from hyperfed.synth.sdtm import write_sdtm
from tests.conftest import POPULATION
from tests.crossmodel.battery import AS_OF, QUESTIONS, Question

UNSUPPORTED: dict[str, tuple[str, str]] = {
    # SDTM records carry MedDRA terms, not ICD-10-CM codes; OMOP maps C34.90 to SNOMED CT
    # through its vocabulary, and the hyperontology names no concept with that code
    "icd10cm-lung-cancer-maps-to": ("criteria", "SDTM data carry no ICD-10-CM codes"),
}
"""question id -> (path, words of the reason) for questions SDTM cannot express."""

# the subjects of the messy variant: no sex; neither birth date nor age
NO_SEX, NO_BIRTH = (41, 1), (37, 0)


@pytest.fixture(scope="module")
def ontology() -> Ontology:
    return Ontology.load()


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("population-sdtm")
    write_sdtm(POPULATION, root / "csv", "csv")
    write_sdtm(POPULATION, root / "xpt", "xpt")
    messy = root / "messy"
    shutil.copytree(root / "csv", messy)
    dm = messy / "dm.csv"
    with duckdb.connect() as con:  # blank SEX, and BRTHDTC with AGE, of some subjects
        pid = "CAST(regexp_extract(USUBJID, '([0-9]+)$', 1) AS BIGINT)"
        con.execute(
            f"""COPY (SELECT * REPLACE (
                  CASE WHEN {pid} % {NO_SEX[0]} = {NO_SEX[1]} THEN NULL ELSE SEX END AS SEX,
                  CASE WHEN {pid} % {NO_BIRTH[0]} = {NO_BIRTH[1]} THEN NULL ELSE BRTHDTC END
                    AS BRTHDTC,
                  CASE WHEN {pid} % {NO_BIRTH[0]} = {NO_BIRTH[1]} THEN NULL ELSE AGE END AS AGE)
                FROM read_csv('{dm}', all_varchar = true)) TO '{root / "dm.csv"}' (HEADER)"""
        )
    shutil.move(root / "dm.csv", dm)
    return {"csv": root / "csv", "xpt": root / "xpt", "messy": messy}


@pytest.fixture(scope="module")
def omop_messy(population_omop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The OMOP file with the same subjects' sex and year of birth unknown."""
    path = tmp_path_factory.mktemp("population-omop-messy") / "omop.duckdb"
    shutil.copyfile(population_omop, path)
    with duckdb.connect(str(path)) as con:
        con.execute("ALTER TABLE person ALTER COLUMN year_of_birth DROP NOT NULL")
        con.execute("ALTER TABLE person ALTER COLUMN gender_concept_id DROP NOT NULL")
        no_sex = f"person_id % {NO_SEX[0]} = {NO_SEX[1]}"
        con.execute(f"UPDATE person SET gender_concept_id = NULL WHERE {no_sex}")
        con.execute(
            "UPDATE person SET year_of_birth = NULL, month_of_birth = NULL, day_of_birth = NULL "
            f"WHERE person_id % {NO_BIRTH[0]} = {NO_BIRTH[1]}"
        )
    return path


@pytest.fixture(scope="module", params=["csv", "xpt", "messy"])
def pair(
    request: pytest.FixtureRequest,
    folders: dict[str, Path],
    population_omop: Path,
    omop_messy: Path,
) -> Iterator[tuple[OmopAdapter, SdtmAdapter]]:
    omop_file = omop_messy if request.param == "messy" else population_omop
    omop = OmopAdapter.from_source(f"duckdb://{omop_file}")
    sdtm = SdtmAdapter.from_source(str(folders[request.param]))
    yield omop, sdtm
    omop.close()
    sdtm.close()


def ask(adapter: OmopAdapter | SdtmAdapter, q: Question, ontology: Ontology) -> ExactCount:
    prepared = prepare(q.document(), ontology, {"omop", "sdtm"}, AS_OF)
    return adapter.count(prepared.query, prepared.bindings[adapter.MODEL])


@pytest.mark.parametrize("question", QUESTIONS, ids=[q.id for q in QUESTIONS])
def test_sdtm_and_omop_agree(
    question: Question, pair: tuple[OmopAdapter, SdtmAdapter], ontology: Ontology
) -> None:
    omop, sdtm = pair
    got = ask(sdtm, question, ontology)
    if question.id in UNSUPPORTED:
        path, words = UNSUPPORTED[question.id]
        assert got.total is None
        assert [(u.path, words in u.reason) for u in got.unsupported] == [(path, True)]
        return
    expected = ask(omop, question, ontology)
    assert not expected.unsupported and not got.unsupported, got.unsupported
    assert got.total == expected.total
    assert got.strata == expected.strata
    assert got.dimensions == expected.dimensions


def test_the_battery_is_large_and_mostly_expressible() -> None:
    assert len(QUESTIONS) >= 25
    assert len(QUESTIONS) - len(UNSUPPORTED) >= 25


def test_the_messy_variant_has_unknown_sexes_and_ages(
    folders: dict[str, Path], ontology: Ontology
) -> None:
    """The messy folder really differs (a comparison of two clean copies proves less)."""
    sdtm = SdtmAdapter.from_source(str(folders["messy"]))
    try:
        by_sex = ask(sdtm, next(q for q in QUESTIONS if q.id == "everyone-by-sex"), ontology)
        unknown = POPULATION.persons // NO_SEX[0]
        assert by_sex.strata[("unknown",)] >= unknown
        by_age = ask(
            sdtm, next(q for q in QUESTIONS if q.id == "lung-cancer-by-sex-and-age"), ontology
        )
        assert any(k[1] == "unknown" for k in by_age.strata)
    finally:
        sdtm.close()
