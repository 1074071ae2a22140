"""The DICOM adapter over DICOMweb: a real Orthanc holding pydicom's test files, queried with
QIDO-RS. Expected counts come from pydicom reads of the same files (plain Python below), and
the same files as a folder source must count the same persons."""

from __future__ import annotations

import datetime as dt
import math
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from hyperfed.adapters.base import ExactCount
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.dicom import DicomAdapter, QidoTimeout
from hyperfed.adapters.errors import QueryTimeout, SourceError
from hyperfed.hub.prepare import prepare
from hyperfed.ontology import Ontology
from tests.adapters.dicom.conftest import read, upload_files
from tests.orthanc import OrthancServer

AS_OF = dt.date(2025, 1, 1)
DCM = "http://dicom.nema.org/resources/ontology/DCM"


@dataclass(frozen=True)
class Series:
    """One series as pydicom reads its first file."""

    patient: str
    study: str
    uid: str
    date: dt.date
    modality: str
    sex: str
    age: int | None
    thickness: float | None
    manufacturer: str
    agent: str


def _series() -> list[Series]:
    found: dict[str, Series] = {}
    for path in upload_files():
        ds = read(path)
        assert ds is not None
        if ds.SeriesInstanceUID in found:
            continue
        age = str(ds.get("PatientAge") or "")
        found[ds.SeriesInstanceUID] = Series(
            patient=str(ds.PatientID),
            study=str(ds.StudyInstanceUID),
            uid=str(ds.SeriesInstanceUID),
            date=dt.datetime.strptime(str(ds.StudyDate), "%Y%m%d").date(),
            modality=str(ds.Modality),
            sex=str(ds.get("PatientSex") or ""),
            age=int(age[:3]) if age.endswith("Y") else None,
            thickness=float(ds.SliceThickness) if ds.get("SliceThickness") else None,
            manufacturer=str(ds.get("Manufacturer") or ""),
            agent=str(ds.get("ContrastBolusAgent") or ""),
        )
    return list(found.values())


SERIES = _series()
PATIENTS = {s.patient for s in SERIES}


def sex(patient: str) -> str | None:
    values = {s.sex for s in SERIES if s.patient == patient and s.sex}
    return values.pop() if len(values) == 1 else None


def birth_year(patient: str) -> int | None:  # no birth dates in these files: from PatientAge
    years = [s.date.year - s.age for s in SERIES if s.patient == patient and s.age is not None]
    return min(years) if years else None


def having(test: Callable[[Series], bool]) -> set[str]:
    return {s.patient for s in SERIES if test(s)}


def studies(patient: str, test: Callable[[Series], bool]) -> set[str]:
    return {s.study for s in SERIES if s.patient == patient and test(s)}


def ct(s: Series) -> bool:
    return s.modality == "CT"


def mr(s: Series) -> bool:
    return s.modality == "MR"


def age_today(patient: str) -> int | None:
    year = birth_year(patient)
    return None if year is None else AS_OF.year - year


# (id, criteria, expected patients), the expected set written from the files directly
QUESTIONS: list[tuple[str, dict[str, Any], set[str]]] = [
    ("ct", {"concept": "hf:CT"}, having(ct)),
    ("mr-dcm-code", {"code": {"system": DCM, "code": "MR"}}, having(mr)),
    ("everyone", {"concept": "hf:Person"}, PATIENTS),
    ("women", {"concept": "hf:Female"}, {p for p in PATIENTS if sex(p) == "F"}),
    ("unknown-sex", {"concept": "hf:UnknownSex"}, {p for p in PATIENTS if sex(p) is None}),
    ("never-mr", {"not": {"concept": "hf:MR"}}, PATIENTS - having(mr)),
    ("thin-mr", {"concept": "hf:MR", "attributes": {"SliceThickness": {"max": 5}}},
     having(lambda s: mr(s) and s.thickness is not None and s.thickness <= 5)),
    ("ge-ct-2000s", {"concept": "hf:CT", "attributes": {"Manufacturer": "GE MEDICAL SYSTEMS"},
                     "during": {"from": "2000-01-01", "to": "2009-12-31"}},
     having(lambda s: ct(s) and s.manufacturer == "GE MEDICAL SYSTEMS"
            and dt.date(2000, 1, 1) <= s.date <= dt.date(2009, 12, 31))),
    ("contrast-ct", {"concept": "hf:CT", "attributes": {"ContrastBolusAgent": True}},
     having(lambda s: ct(s) and bool(s.agent))),
    ("ct-at-43-or-older", {"concept": "hf:CT", "age": {"min": 43}},
     having(lambda s: ct(s) and s.age is not None and s.age >= 43)),
    ("two-mr-studies", {"concept": "hf:MR", "occurrences": {"min": 2}},
     {p for p in PATIENTS if len(studies(p, mr)) >= 2}),
    ("ct-and-60-plus-today", {"all": [{"concept": "hf:CT"}, {"age": {"min": 60}}]},
     {p for p in having(ct) if (age_today(p) or 0) >= 60}),
    ("cr-within-ten-years-after-a-ct",
     {"code": {"system": DCM, "code": "CR"}, "within": {"of": {"concept": "hf:CT"},
                                                         "days_after": 3650}},
     {s.patient for s in SERIES if s.modality == "CR" and any(
         c.date <= s.date <= c.date + dt.timedelta(days=3650)
         for c in SERIES if c.patient == s.patient and ct(c))}),
]  # fmt: skip


@pytest.fixture(scope="module")
def ontology() -> Ontology:
    return Ontology.load()


@pytest.fixture(scope="module")
def pacs(orthanc: OrthancServer) -> Iterator[DicomAdapter]:
    adapter = DicomAdapter.from_source(orthanc.dicomweb, page_size=4, count_studies=True)
    yield adapter
    adapter.close()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DicomAdapter]:
    root = tmp_path_factory.mktemp("pydicom-files")
    for i, path in enumerate(upload_files()):
        shutil.copy(path, root / f"{i:03d}-{path.name}")
    adapter = DicomAdapter.from_source(str(root), count_studies=True, workers=1)
    yield adapter
    adapter.close()


def ask(adapter: DicomAdapter, document: dict[str, Any], ontology: Ontology) -> ExactCount:
    prepared = prepare(document, ontology, {"dicom"}, AS_OF)
    result: ExactCount = adapter.count(prepared.query, prepared.bindings["dicom"])
    return result


def doc(criteria: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"hql": "1", "criteria": criteria, "as_of": AS_OF.isoformat(), **extra}


def test_the_questions_are_not_trivial() -> None:
    sizes = [len(expected) for _, _, expected in QUESTIONS]
    assert len(PATIENTS) == 4 and sum(0 < n < len(PATIENTS) for n in sizes) >= 9


@pytest.mark.parametrize(("qid", "criteria", "expected"), QUESTIONS, ids=[q[0] for q in QUESTIONS])
def test_a_pacs_counts_what_pydicom_reads(
    qid: str, criteria: dict[str, Any], expected: set[str], pacs: DicomAdapter,
    folder: DicomAdapter, ontology: Ontology,
) -> None:  # fmt: skip
    got = ask(pacs, doc(criteria), ontology)
    assert not got.unsupported and got.total == len(expected)
    same = ask(folder, doc(criteria), ontology)
    assert same.total == got.total and same.details == got.details


def test_studies_and_series_of_the_counted_persons(pacs: DicomAdapter, ontology: Ontology) -> None:
    got = ask(pacs, doc({"concept": "hf:MR"}), ontology)
    assert got.details == {
        "studies": len({s.study for s in SERIES if mr(s)}),
        "series": len({s.uid for s in SERIES if mr(s)}),
    }
    everyone = ask(pacs, doc({"concept": "hf:Person"}), ontology)
    assert everyone.details == {"studies": len({s.study for s in SERIES}), "series": len(SERIES)}


def test_strata_by_sex_are_computed_on_the_node(pacs: DicomAdapter, ontology: Ontology) -> None:
    got = ask(pacs, doc({"concept": "hf:Person"}, stratify={"by": ["sex"]}), ontology)
    labels = {"F": "female", "M": "male", "O": "other", None: "unknown"}
    expected: dict[tuple[str, ...], int] = {}
    for p in PATIENTS:
        key = (labels[sex(p)],)
        expected[key] = expected.get(key, 0) + 1
    assert got.strata == expected and got.dimensions == ("sex",)


def test_requests_are_pages_of_each_search(orthanc: OrthancServer, ontology: Ontology) -> None:
    """page_size=4: a search of n results takes floor(n/4) + 1 requests; a question of one
    criterion needs its series search only, negation adds the study search of every patient."""
    adapter = DicomAdapter.from_source(orthanc.dicomweb, page_size=4)
    try:
        assert adapter.qido is not None
        ask(adapter, doc({"concept": "hf:MR"}), ontology)
        n_mr = len([s for s in SERIES if mr(s)])
        assert len(adapter.qido.requests) == math.floor(n_mr / 4) + 1
        assert all("/series?Modality=MR" in url for url in adapter.qido.requests)
        adapter.qido.requests.clear()
        ask(adapter, doc({"not": {"concept": "hf:MR"}}), ontology)
        n_studies = len({s.study for s in SERIES})
        assert len(adapter.qido.requests) == math.floor(n_mr / 4) + math.floor(n_studies / 4) + 2
    finally:
        adapter.close()


def test_explain_prints_the_requests(pacs: DicomAdapter, ontology: Ontology) -> None:
    prepared = prepare(doc({"concept": "hf:CT", "attributes": {"SliceThickness": {"max": 3}}}),
                       ontology, {"dicom"}, AS_OF)  # fmt: skip
    text = pacs.explain(prepared.query, prepared.bindings["dicom"])
    assert f"[1] GET {pacs.source}/series?Modality=CT" in text
    assert "SliceThickness in [-, 3.0]" in text


def test_the_deadline_stops_the_searches(pacs: DicomAdapter, ontology: Ontology) -> None:
    prepared = prepare(doc({"not": {"concept": "hf:CT"}}), ontology, {"dicom"}, AS_OF)
    native = pacs.compile(prepared.query, prepared.bindings["dicom"])
    with pytest.raises(QueryTimeout) as caught:
        pacs.run(native, Deadline.after(0.0005))
    assert isinstance(caught.value, QidoTimeout)


def test_an_unreachable_pacs_is_a_source_error(ontology: Ontology) -> None:
    adapter = DicomAdapter.from_source("http://127.0.0.1:9/dicom-web", timeout=2)
    prepared = prepare(doc({"concept": "hf:CT"}), ontology, {"dicom"}, AS_OF)
    with pytest.raises(SourceError, match=r"127\.0\.0\.1:9"):
        adapter.count(prepared.query, prepared.bindings["dicom"])
    report = DicomAdapter.check("http://127.0.0.1:9/dicom-web", timeout=2)
    assert not report.ok and report.errors[0].code == "source.unreadable"


def test_a_pacs_that_answers_passes_its_check(orthanc: OrthancServer) -> None:
    report = DicomAdapter.check(orthanc.dicomweb)
    assert report.ok and report.facts["answers"] == "yes"
