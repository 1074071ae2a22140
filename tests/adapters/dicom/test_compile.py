"""Compile tests of the DICOM adapter: HQL in, SQL or QIDO-RS requests out, no data."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from hyperfed.adapters.dicom import DicomAdapter, DicomBinding
from hyperfed.adapters.dicom.layout import SERIES_COLUMNS
from hyperfed.adapters.dicom.matching import IndexSpace
from hyperfed.adapters.dicom.qidoplan import QidoQuery, compile_qido_count
from hyperfed.adapters.dicom.sqlplan import DicomSqlQuery, compile_index_count
from hyperfed.adapters.hql.bindings import Bindings, EveryoneBinding, SexBinding
from hyperfed.adapters.hql.model import Query
from hyperfed.hub.prepare import QueryRejected, prepare
from hyperfed.ontology import Ontology

DCM = "http://dicom.nema.org/resources/ontology/DCM"
SCT = "http://snomed.info/sct"
CT = {"code": {"system": DCM, "code": "CT"}}
CHEST = {"system": SCT, "code": "816094009"}
FEATURES = DicomAdapter.declared_features()
ALL = IndexSpace([c.name for c in SERIES_COLUMNS], "the test index")
# what the IDC mapping fills (no slice thickness, pixel spacing, kernel, contrast, birth year)
IDC = IndexSpace(
    ["dataset", "person_key", "StudyInstanceUID", "SeriesInstanceUID", "Modality",
     "BodyPartExamined", "Manufacturer", "ManufacturerModelName", "StudyDate", "SeriesDate",
     "PatientSex", "age_years", "SeriesNumber", "SOPClassUID", "n_instances"],
    "the IDC index",
)  # fmt: skip
BINDINGS: Bindings = {
    "hf:Female": SexBinding(sex="female"),
    "hf:Person": EveryoneBinding(),
    "hf:Lung": DicomBinding(keyword="BodyPartExamined", values=["CHEST", "LUNG"]),
}


def q(criteria: dict[str, Any], **extra: Any) -> Query:
    return Query.model_validate({"hql": "1", "criteria": criteria, "as_of": "2025-01-01", **extra})


def sql(criteria: dict[str, Any], space: IndexSpace = ALL, **extra: Any) -> DicomSqlQuery:
    return compile_index_count(q(criteria, **extra), BINDINGS, space, FEATURES)


def unsupported(native: DicomSqlQuery | QidoQuery) -> dict[str, str]:
    assert native.sql is None if isinstance(native, DicomSqlQuery) else native.root is None
    return {u.path: u.reason for u in native.unsupported}


def test_one_same_series_criterion_is_one_scan_counting_distinct_persons() -> None:
    native = sql(
        {**CT, "body_site": CHEST, "attributes": {"Manufacturer": "SIEMENS",
         "SliceThickness": {"max": 1.5}}, "during": {"from": "2010-01-01", "to": "2019-12-31"}}
    )  # fmt: skip
    text = native.render()
    assert text.startswith('SELECT COUNT(DISTINCT "s1"."person_key") AS n FROM "dicom_series"')
    assert "GROUP BY" not in text and " IN (SELECT" not in text  # no persons table, no subquery
    for part in (
        '"s1"."Modality" = \'CT\'',
        "\"s1\".\"BodyPartExamined\" IN ('CHEST', 'CHESTABDOMEN', 'CHESTABDPELVIS', "
        "'NECKCHEST', 'WHOLEBODY')",
        '"s1"."Manufacturer" = \'SIEMENS\'',
        '"s1"."SliceThickness" <= 1.5',
        '"s1"."StudyDate" >= CAST(\'2010-01-01\' AS DATE)',
        '"s1"."StudyDate" <= CAST(\'2019-12-31\' AS DATE)',
    ):
        assert part in text, part


def test_event_logic_is_set_algebra_and_person_attributes_a_persons_table() -> None:
    both = sql({"all": [CT, {"not": {"code": {"system": DCM, "code": "MR"}}}]}).render()
    assert "EXCEPT" in both and "WITH p AS" not in both
    women = sql({"all": [CT, {"concept": "hf:Female"}, {"age": {"min": 60}}]}).render()
    assert "WITH p AS" in women and "p.sex = 'F'" in women
    assert "p.birth_year <= 1965" in women  # 60 on 2025-01-01 counting the birthday as 1 January


def test_strata_group_the_persons_by_sex_and_age_band() -> None:
    native = sql(CT, stratify={"by": ["sex", "age"], "age_bands": [0, 40, 60]})
    assert native.strata == ("sex", "age")
    text = native.render()
    assert "WHEN p.birth_year > 1985 THEN '0-39'" in text and "ELSE '60+'" in text
    assert "GROUP BY 1, 2" in text


def test_values_are_literals_never_sql() -> None:
    evil = "SIEMENS'; DROP TABLE dicom_series; --"
    text = sql({**CT, "attributes": {"Manufacturer": evil}}).render()
    assert "'SIEMENS''; DROP TABLE dicom_series; --'" in text


@pytest.mark.parametrize(
    ("criteria", "path", "words"),
    [
        ({**CT, "body_site": {"system": SCT, "code": "22298006"}}, "criteria.body_site",
         "not an anatomic region"),  # myocardial infarction: not a CID 4031 region
        ({**CT, "body_site": {"system": "http://radlex.org", "code": "RID1301"}},
         "criteria.body_site", "SNOMED CT"),
        ({**CT, "attributes": {"SliceThicknes": 1}}, "criteria.attributes.SliceThicknes",
         "did you mean SliceThickness"),
        ({**CT, "attributes": {"Manufacturer": {"min": 1}}}, "criteria.attributes.Manufacturer",
         "not a number"),
        ({**CT, "attributes": {"SliceThickness": "thin"}}, "criteria.attributes.SliceThickness",
         "is a number"),
        ({**CT, "attributes": {"PatientWeight": {"max": 80}}},
         "criteria.attributes.PatientWeight", "does not hold PatientWeight"),
        ({"code": {"system": DCM, "code": "113076"}}, "criteria", "not a DICOM modality"),
        ({"code": {"system": SCT, "code": "44054006"}}, "criteria", "not an imaging code"),
        ({"code": {"system": "http://loinc.org", "code": "718-7"}}, "criteria", "CID 4031"),
        ({**CT, "value": {"min": 1}}, "criteria.value", "cannot evaluate 'value'"),
    ],
)  # fmt: skip
def test_what_an_index_cannot_answer_is_unsupported_at_its_path(
    criteria: dict[str, Any], path: str, words: str
) -> None:
    found = unsupported(sql(criteria))
    assert path in found and words in found[path], found


def test_columns_a_mapping_leaves_empty_are_unsupported_not_zero() -> None:
    found = unsupported(sql({**CT, "attributes": {"SliceThickness": {"max": 1.5}}}, IDC))
    assert "column mapping leaves it empty" in found["criteria.attributes.SliceThickness"]
    # IDC has ages at the study but no birth years: ages today come from them
    ok = sql({"all": [CT, {"age": {"min": 60}}]}, IDC).render()
    assert 'MIN(YEAR("x"."StudyDate") - "x"."age_years")' in ok


def test_a_dicom_binding_of_the_ontology_is_one_condition() -> None:
    text = sql({"concept": "hf:Lung", "attributes": {"Modality": "ct"}}).render()
    assert "\"s1\".\"BodyPartExamined\" IN ('CHEST', 'LUNG')" in text
    assert '"s1"."Modality" = \'CT\'' in text  # a code string is compared in upper case


def test_studies_and_series_query_follows_the_positive_criteria() -> None:
    native = compile_index_count(
        q({"all": [CT, {"not": {"concept": "hf:Lung"}}]}), BINDINGS, ALL, FEATURES,
        with_details=True,
    )  # fmt: skip
    assert native.details is not None
    details = native.details.sql("duckdb")
    assert "COUNT(DISTINCT" in details
    persons, series = details.rsplit("AND (", 1)  # the series: those of the positive criterion
    assert "'LUNG'" in persons and "'LUNG'" not in series and "'CT'" in series
    assert "studies and series" in native.text()


def test_the_qido_plan_lists_its_requests_and_what_the_node_tests() -> None:
    query = q({"all": [
        {**CT, "body_site": CHEST, "attributes": {"SliceThickness": {"max": 1.5}},
         "during": {"from": "2010-01-01", "to": "2019-12-31"}},
        {"not": {"code": {"system": DCM, "code": "MR"}, "attributes": {"Manufacturer": "A&B"}}},
    ]})  # fmt: skip
    plan = compile_qido_count(query, BINDINGS, FEATURES, "http://pacs.example/dicom-web")
    assert plan.root is not None and len(plan.searches) == 3  # two series searches, persons
    text = plan.text()
    lines = [line for line in text.splitlines() if line.startswith("[")]
    assert lines[0].startswith(
        "[1] GET http://pacs.example/dicom-web/series?Modality=CT&StudyDate=20100101-20191231"
    )
    assert "includefield=BodyPartExamined" in lines[0] and "includefield=SliceThickness" in lines[0]
    assert "Manufacturer" not in lines[1].split("?")[1].split("&includefield")[0]  # node-side
    assert "limit=100&offset=0" in lines[0]
    assert lines[2].startswith("[3] GET http://pacs.example/dicom-web/studies?")
    assert "SliceThickness in [-, 1.5]" in text and "Manufacturer = A&B" in text
    assert "# persons counted: (patients of [1] and not patients of [2])" in text


def test_identical_qido_searches_are_made_once() -> None:
    query = q({"any": [CT, {**CT, "occurrences": {"min": 2}}]})
    plan = compile_qido_count(query, BINDINGS, FEATURES, "http://pacs/dicom-web")
    assert len(plan.searches) == 1 and plan.persons is None


@pytest.fixture(scope="module")
def ontology() -> Ontology:
    return Ontology.load()


def test_the_hub_refuses_unknown_keywords_naming_them(ontology: Ontology) -> None:
    document = {"hql": "1", "criteria": {"all": [
        {**CT, "attributes": {"Manufacturer": "SIEMENS", "SliceThicknes": {"max": 1}}},
        {"concept": "hf:MR", "attributes": {"modality": "MR"}},
    ]}}  # fmt: skip
    with pytest.raises(QueryRejected) as caught:
        prepare(document, ontology, {"dicom", "omop"}, dt.date(2025, 1, 1))
    problems = {p["path"]: p for p in caught.value.problems}
    bad = problems["criteria.all[0].attributes.SliceThicknes"]
    assert bad["value"] == "SliceThicknes" and bad["suggestions"][0] == "SliceThickness"
    assert "unknown DICOM keyword 'SliceThicknes'" in bad["message"]
    assert problems["criteria.all[1].attributes.modality"]["suggestions"] == ["Modality"]


def test_snomed_procedure_codes_reach_dicom_as_ontology_bindings(ontology: Ontology) -> None:
    """DCM is read natively; a SNOMED CT code is translated by the hub (77477000 CT ->
    Modality CT), and a SNOMED CT region the ontology does not know stays a code."""
    document = {"hql": "1", "criteria": {"all": [
        {"code": {"system": SCT, "code": "77477000"}},
        {"code": {"system": SCT, "code": "72696002"}},  # knee: a CID 4031 region
        CT,
    ]}}  # fmt: skip
    prepared = prepare(document, ontology, {"dicom"}, dt.date(2025, 1, 1))
    bindings = prepared.bindings["dicom"]
    assert bindings[f"{SCT}|77477000"] == DicomBinding(keyword="Modality", values=["CT"])
    assert f"{DCM}|CT" not in bindings and f"{SCT}|72696002" not in bindings
    text = compile_index_count(prepared.query, bindings, ALL, FEATURES).render()
    assert "'KNEE'" in text and "'CT'" in text
