"""A DICOM node and an OMOP node of the same synthetic population answer the same questions.

The DICOM node holds the population's imaging (every imaging procedure of the OMOP site is a
study of its DICOM twin, `hyperfed.synth.dicom`), so it knows only the persons with imaging:
on OMOP each question is asked as "question AND the person has an imaging procedure". Two
more facts of the DICOM twin are what a DICOM index keeps and are mirrored on the OMOP side:

- an index never keeps a birth date, only the birth year: ages **on the reference date**
  count the birthday as 1 January on DICOM, so questions reading them are compared with an
  OMOP twin whose month and day of birth are unknown (HQL's rule: they count as 1 January);
- the age **at an event** is the PatientAge of the study: compared with the full OMOP site.

Every battery question (`tests/crossmodel/battery.py`) and a set of imaging questions run
through both nodes, on the clean population and on the "messy" one (unknown sexes and birth
years; see tests/conftest.py). Identical counts wherever both express the question; where
one cannot, `unsupported` with the criterion's path, listed below with the reason. The
questions only a DICOM node can answer (same-series qualifiers) are checked against
hand-written DuckDB SQL over the twin's Parquet file instead.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from hyperfed.adapters.base import ExactCount
from hyperfed.adapters.dicom import DicomAdapter
from hyperfed.adapters.hql.model import AgeCriterion, Criterion, Query
from hyperfed.adapters.omop import OmopAdapter
from hyperfed.hub.prepare import prepare
from hyperfed.ontology import Ontology
from hyperfed.synth.dicom import write_dicom
from tests.conftest import POPULATION
from tests.crossmodel.battery import AS_OF, QUESTIONS, SNOMED, Question

DCM = "http://dicom.nema.org/resources/ontology/DCM"
CHEST = {"system": SNOMED, "code": "816094009"}
# persons with an imaging procedure on the OMOP site: the population of its DICOM twin
IMAGED = {
    "any": [
        {"code": {"system": SNOMED, "code": "363679005"}},  # imaging (CT, MR, PET, MG, X-ray)
        {"code": {"system": SNOMED, "code": "312681000"}},  # bone densitometry
    ]
}


@dataclass(frozen=True)
class Imaging:
    """An imaging question: its DICOM form, and its OMOP form (None: the DICOM form as is)."""

    id: str
    criteria: dict[str, Any]
    omop: dict[str, Any] | None = None
    stratify: dict[str, Any] | None = None

    def document(self, criteria: dict[str, Any] | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {"hql": "1", "criteria": criteria or self.criteria}
        doc["as_of"] = AS_OF.isoformat()
        if self.stratify is not None:
            doc["stratify"] = self.stratify
        return doc


CT, MR, PET = {"concept": "hf:CT"}, {"concept": "hf:MR"}, {"concept": "hf:PET"}
IMAGING: tuple[Imaging, ...] = (
    Imaging("ct", CT),
    Imaging("ct-as-dcm-code", {"code": {"system": DCM, "code": "CT"}}, CT),
    Imaging("ct-as-snomed-procedure", {"code": {"system": SNOMED, "code": "77477000"}}),
    # one series that is a CT of the chest: same series on DICOM, one procedure on OMOP
    Imaging("chest-ct", {**CT, "body_site": CHEST}, {"concept": "hf:ChestCT"}),
    Imaging("mr-2015-2019", {**MR, "during": {"from": "2015-01-01", "to": "2019-12-31"}}),
    Imaging("pet-or-mammography-women",
            {"all": [{"any": [PET, {"concept": "hf:Mammography"}]}, {"concept": "hf:Female"}]}),
    Imaging("ct-never-mr", {"all": [CT, {"not": MR}]}),
    Imaging("two-or-more-cts", {**CT, "occurrences": {"min": 2}}),
    Imaging("one-mr-only", {**MR, "occurrences": {"min": 1, "max": 1}}),
    Imaging("ct-at-60-or-older", {**CT, "age": {"min": 60}}),
    Imaging("ct-up-to-90-days-after-an-mr", {**CT, "within": {"of": MR, "days_after": 90}}),
    Imaging("pet-men-60-plus-today", {"all": [PET, {"concept": "hf:Male"}, {"age": {"min": 60}}]}),
    Imaging("ct-by-sex-and-age", CT, stratify={"by": ["sex", "age"]}),
)  # fmt: skip

# Questions a DICOM node answers and OMOP cannot (same-series qualifiers), with the path OMOP
# reports and hand-written SQL over the DICOM twin's series table (a Parquet file: {t}).
SAME_SERIES: tuple[tuple[str, dict[str, Any], str, str], ...] = (
    (
        "thin-slice-siemens-ct",
        {**CT, "attributes": {"Manufacturer": "SIEMENS", "SliceThickness": {"max": 1.5}}},
        "criteria.attributes",
        "SELECT count(DISTINCT person_key) FROM {t} WHERE Modality = 'CT' "
        "AND Manufacturer = 'SIEMENS' AND SliceThickness <= 1.5",
    ),
    (
        "sharp-kernel-chest-ct-2010s",
        {"code": {"system": DCM, "code": "CT"}, "body_site": CHEST,
         "attributes": {"ConvolutionKernel": ["Br64", "LUNG", "L", "FC52"]},
         "during": {"from": "2010-01-01", "to": "2019-12-31"}},
        "criteria.body_site",
        "SELECT count(DISTINCT person_key) FROM {t} WHERE Modality = 'CT' "
        "AND BodyPartExamined IN ('CHEST', 'CHESTABDOMEN', 'CHESTABDPELVIS', "
        "'NECKCHEST', 'WHOLEBODY') AND ConvolutionKernel IN ('Br64', 'LUNG', 'L', 'FC52') "
        "AND StudyDate BETWEEN DATE '2010-01-01' AND DATE '2019-12-31'",
    ),
    (
        "contrast-mr-at-3-tesla-two-studies",
        {**MR, "attributes": {"ContrastBolusAgent": True, "MagneticFieldStrength": {"min": 3}},
         "occurrences": {"min": 2}},
        "criteria.attributes",
        "SELECT count(*) FROM (SELECT person_key FROM {t} WHERE Modality = 'MR' "
        "AND ContrastBolusAgent IS NOT NULL AND MagneticFieldStrength >= 3 "
        "GROUP BY person_key HAVING count(DISTINCT StudyInstanceUID) >= 2)",
    ),
    (
        "women-with-a-non-contrast-ct-of-at-least-200-slices",
        {"all": [{**CT, "attributes": {"ContrastBolusAgent": False,
                                      "NumberOfSeriesRelatedInstances": {"min": 200}}},
                 {"concept": "hf:Female"}]},
        "criteria.all[0].attributes",
        "SELECT count(*) FROM (SELECT person_key FROM {t} GROUP BY person_key "
        "HAVING min(PatientSex) = 'F' AND max(PatientSex) = 'F' "
        "AND bool_or(Modality = 'CT' AND ContrastBolusAgent IS NULL AND n_instances >= 200))",
    ),
)  # fmt: skip

# Battery questions a DICOM index cannot express, and why. (Paths are checked against the
# canonical form the hub sends, whose children are sorted.)
UNSUPPORTED_ON_DICOM: dict[str, str] = {
    "lung-cancer": "a diagnosis",
    "lung-cancer-code-only": "a diagnosis",
    "nsclc": "a diagnosis",
    "concept-lung-cancer": "a diagnosis",
    "icd10cm-lung-cancer-maps-to": "an ICD-10-CM diagnosis",
    "everyone-but-gi": "a diagnosis",
    "t2d-without-metformin": "a diagnosis and a drug",
    "hypertension-without-t2d": "diagnoses",
    "t2d-and-hypertension": "diagnoses",
    "t2d-or-asthma": "diagnoses",
    "de-morgan-not-t2d-and-not-asthma": "diagnoses",
    "nested-female-or-60-with-gi": "a diagnosis and a drug",
    "hemoglobin-below-12-g/dL-any-unit": "a laboratory value",
    "hemoglobin-120-to-140-g/L-men": "a laboratory value",
    "hemoglobin-raw-value-above-100": "a laboratory value",
    "sinusitis-2015-2019": "a diagnosis",
    "t2d-diagnosed-at-39-or-younger": "a diagnosis",
    "t2d-at-40-to-49": "a diagnosis",
    "three-to-five-hemoglobin-results": "a laboratory test",
    "two-hemoglobin-results-in-2020": "a laboratory test",
    "ct-within-30-days-before-lung-cancer": "the CT is imaging, its anchor a diagnosis",
    "carboplatin-up-to-90-days-after-lung-cancer": "a drug",
    "two-cts-around-lung-cancer": "the CTs are imaging, their anchor a diagnosis",
    "lung-cancer-by-sex-and-age": "a diagnosis",
    "t2d-not-metformin-by-age": "a diagnosis and a drug",
}
IMAGING_CODES = {"77477000"}  # the battery's only imaging code (CT)


def at_path(query: Query, path: str) -> Any:
    """The criterion (or event filter) a JSON path names in `query`."""
    node: Any = query
    for part in path.split("."):
        name, _, index = part.partition("[")
        node = getattr(node, "not_" if name == "not" else name, None)
        if index:
            node = node[int(index.rstrip("]"))]
    return node


@pytest.fixture(scope="module")
def ontology() -> Ontology:
    return Ontology.load()


def _year_only(source: Path, target: Path) -> Path:
    """An OMOP copy whose persons' birth month and day are unknown (as a DICOM index)."""
    shutil.copyfile(source, target)
    with duckdb.connect(str(target)) as con:
        con.execute("UPDATE person SET month_of_birth = NULL, day_of_birth = NULL")
    return target


def _key(pid: str) -> str:
    return f"md5('hf-synth/{POPULATION.seed}/' || CAST({pid} AS VARCHAR))"


def _messy_dicom(clean: Path, target: Path) -> Path:
    """The DICOM twin of the messy OMOP site: the same persons without a sex or a birth
    year; PatientAge of persons without a birth month and day counted from 1 January."""
    with duckdb.connect() as con:
        con.execute(
            f"CREATE TABLE ids AS SELECT i AS pid, {_key('i')} AS person_key "
            f"FROM range(1, {POPULATION.persons + 1}) t(i)"
        )
        con.execute(
            f"""COPY (SELECT s.* REPLACE (
                  CASE WHEN ids.pid % 41 = 1 THEN NULL ELSE s.PatientSex END AS PatientSex,
                  CASE WHEN ids.pid % 37 = 0 THEN NULL
                       WHEN ids.pid % 7 = 3 THEN year(s.StudyDate) - s.birth_year
                       ELSE s.age_years END AS age_years,
                  CASE WHEN ids.pid % 37 = 0 THEN NULL ELSE s.birth_year END AS birth_year)
                FROM read_parquet('{clean}') s JOIN ids USING (person_key))
              TO '{target}' (FORMAT parquet)"""
        )
    return target


@dataclass
class Nodes:
    dicom: DicomAdapter
    omop: OmopAdapter
    omop_year_only: OmopAdapter
    parquet: Path


@pytest.fixture(scope="module", params=["clean", "messy"])
def nodes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Nodes]:
    base = tmp_path_factory.mktemp(f"dicom-twin-{request.param}")
    write_dicom(POPULATION, base)
    parquet = base / "dicom_series.parquet"
    if request.param == "clean":
        omop_file: Path = request.getfixturevalue("population_omop")
    else:
        omop_file = request.getfixturevalue("population_omop_messy")
        parquet = _messy_dicom(parquet, base / "messy.parquet")
    year_only = _year_only(omop_file, base / "year-only.duckdb")
    opened = Nodes(
        DicomAdapter.from_source(str(parquet)),
        OmopAdapter.from_source(f"duckdb://{omop_file}"),
        OmopAdapter.from_source(f"duckdb://{year_only}"),
        parquet,
    )
    yield opened
    for adapter in (opened.dicom, opened.omop, opened.omop_year_only):
        adapter.close()


def ask(adapter: Any, model: str, document: dict[str, Any], ontology: Ontology) -> ExactCount:
    prepared = prepare(document, ontology, {model}, AS_OF)
    result: ExactCount = adapter.count(prepared.query, prepared.bindings[model])
    return result


def _reads_age_today(c: Criterion) -> bool:
    if isinstance(c, AgeCriterion):
        return True
    kids = getattr(c, "all", None) or getattr(c, "any", None) or []
    inner = getattr(c, "not_", None)
    return any(_reads_age_today(k) for k in [*kids, *([inner] if inner is not None else [])])


def _omop_reference(nodes: Nodes, document: dict[str, Any]) -> OmopAdapter:
    query = Query.model_validate(document)
    by_age = query.stratify is not None and "age" in query.stratify.by
    return nodes.omop_year_only if by_age or _reads_age_today(query.criteria) else nodes.omop


def _on_omop(document: dict[str, Any], criteria: dict[str, Any]) -> dict[str, Any]:
    return {**document, "criteria": {"all": [criteria, IMAGED]}}


def _agree(nodes: Nodes, ontology: Ontology, dicom_doc: dict[str, Any],
           omop_criteria: dict[str, Any]) -> ExactCount:  # fmt: skip
    omop_doc = _on_omop(dicom_doc, omop_criteria)
    expected = ask(_omop_reference(nodes, dicom_doc), "omop", omop_doc, ontology)
    got = ask(nodes.dicom, "dicom", dicom_doc, ontology)
    assert not expected.unsupported, expected.unsupported
    assert not got.unsupported, got.unsupported
    assert got.total == expected.total
    assert got.strata == expected.strata
    assert got.dimensions == expected.dimensions
    return got


@pytest.mark.parametrize("question", QUESTIONS, ids=[q.id for q in QUESTIONS])
def test_the_battery_agrees_or_is_unsupported_with_its_path(
    question: Question, nodes: Nodes, ontology: Ontology
) -> None:
    if question.id in UNSUPPORTED_ON_DICOM:
        prepared = prepare(question.document(), ontology, {"dicom"}, AS_OF)
        got = nodes.dicom.count(prepared.query, prepared.bindings["dicom"])
        assert got.total is None and got.unsupported
        for u in got.unsupported:  # each names a criterion that is not imaging
            assert u.path.startswith("criteria"), u
            found = at_path(prepared.query, u.path)
            assert found is not None, u
            code = getattr(getattr(found, "code", None), "code", None)
            assert code not in IMAGING_CODES, u
        return
    _agree(nodes, ontology, question.document(), question.criteria)


@pytest.mark.parametrize("question", IMAGING, ids=[q.id for q in IMAGING])
def test_imaging_questions_agree(question: Imaging, nodes: Nodes, ontology: Ontology) -> None:
    got = _agree(nodes, ontology, question.document(), question.omop or question.criteria)
    assert got.total is not None and got.total > 0


@pytest.mark.parametrize(("qid", "criteria", "omop_path", "sql"), SAME_SERIES,
                         ids=[q[0] for q in SAME_SERIES])  # fmt: skip
def test_same_series_qualifiers_count_on_dicom_and_are_unsupported_on_omop(
    qid: str, criteria: dict[str, Any], omop_path: str, sql: str, nodes: Nodes,
    ontology: Ontology,
) -> None:  # fmt: skip
    document = {"hql": "1", "criteria": criteria, "as_of": AS_OF.isoformat()}
    with duckdb.connect() as con:
        ((expected,),) = con.execute(sql.format(t=f"read_parquet('{nodes.parquet}')")).fetchall()
    got = ask(nodes.dicom, "dicom", document, ontology)
    assert not got.unsupported and got.total == expected
    assert expected > 0
    on_omop = ask(nodes.omop, "omop", document, ontology)
    assert on_omop.total is None
    assert omop_path in {u.path for u in on_omop.unsupported}, on_omop.unsupported


def test_a_chest_ct_concept_is_unsupported_on_dicom_and_counted_on_omop(
    nodes: Nodes, ontology: Ontology
) -> None:
    """hf:ChestCT needs two attributes of one series: the ontology says so, and the
    same-series form ("chest-ct" above) counts the same persons as OMOP's concept."""
    document = {"hql": "1", "criteria": {"concept": "hf:ChestCT"}, "as_of": AS_OF.isoformat()}
    got = ask(nodes.dicom, "dicom", document, ontology)
    assert got.total is None and got.unsupported[0].path == "criteria"
    assert "BodyPartExamined" in got.unsupported[0].reason
    assert ask(nodes.omop, "omop", document, ontology).total


def test_the_dicom_twin_holds_exactly_the_imaged_persons(nodes: Nodes, ontology: Ontology) -> None:
    everyone = {"hql": "1", "criteria": {"concept": "hf:Person"}, "as_of": AS_OF.isoformat()}
    got = ask(nodes.dicom, "dicom", everyone, ontology).total
    with duckdb.connect() as con:
        ((persons,),) = con.execute(
            f"SELECT count(DISTINCT person_key) FROM read_parquet('{nodes.parquet}')"
        ).fetchall()
    assert got == persons
    assert 0 < persons < POPULATION.persons
    assert ask(nodes.omop, "omop", _on_omop(everyone, everyone["criteria"]), ontology).total == got
