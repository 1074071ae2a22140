"""The DICOM adapter's index sources: a folder of files (on the fly, or a kept index), our own
Parquet index and NCI IDC's, against counts written by hand (DuckDB SQL over the Parquet, or
pydicom reads of the files)."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import idc_index_data
import pydicom
import pytest

from hyperfed.adapters.base import ExactCount
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.dicom import DicomAdapter
from hyperfed.adapters.errors import QueryTimeout, SourceError
from hyperfed.hub.prepare import prepare
from hyperfed.ontology import Ontology
from hyperfed.synth import SynthSpec
from hyperfed.synth.dicom import write_dicom

AS_OF = dt.date(2025, 1, 1)
IDC = str(idc_index_data.IDC_INDEX_PARQUET_FILEPATH)
SECRET = "s" * 40


@pytest.fixture(scope="module")
def ontology() -> Ontology:
    return Ontology.load()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic site: its series index and real files of its first 40 series."""
    base = tmp_path_factory.mktemp("site")
    write_dicom(SynthSpec(persons=1500, seed=9), base, files=40, instances=2)
    return base


def ask(adapter: DicomAdapter, criteria: dict[str, Any], ontology: Ontology,
        **extra: Any) -> ExactCount:  # fmt: skip
    document = {"hql": "1", "criteria": criteria, "as_of": AS_OF.isoformat(), **extra}
    prepared = prepare(document, ontology, {"dicom"}, AS_OF)
    result: ExactCount = adapter.count(prepared.query, prepared.bindings["dicom"])
    return result


def sql(query: str) -> Any:
    with duckdb.connect() as con:
        return con.execute(query).fetchall()[0]


def test_studies_and_series_of_an_index_count(site: Path, ontology: Ontology) -> None:
    parquet = site / "dicom_series.parquet"
    adapter = DicomAdapter.from_source(str(parquet), count_studies=True)
    try:
        got = ask(adapter, {"all": [{"concept": "hf:CT"}, {"concept": "hf:Female"}]}, ontology)
        t = f"read_parquet('{parquet}')"
        women = f"SELECT person_key FROM {t} GROUP BY 1 HAVING min(PatientSex) = 'F' AND max(PatientSex) = 'F'"  # noqa: E501
        persons, studies, series = sql(
            f"SELECT count(DISTINCT person_key), count(DISTINCT StudyInstanceUID), count(*) "
            f"FROM {t} WHERE Modality = 'CT' AND person_key IN ({women})"
        )
        assert (got.total, got.details) == (persons, {"studies": studies, "series": series})
        plain = ask(adapter, {"concept": "hf:Person"}, ontology)
        all_studies, all_series = sql(f"SELECT count(DISTINCT StudyInstanceUID), count(*) FROM {t}")
        assert plain.details == {"studies": all_studies, "series": all_series}
    finally:
        adapter.close()


def _files(root: Path) -> list[pydicom.Dataset]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(root.rglob("*.dcm"))]


def test_a_folder_is_indexed_on_the_fly(site: Path, ontology: Ontology) -> None:
    files = _files(site / "files")
    adapter = DicomAdapter.from_source(str(site / "files"), workers=1)
    try:
        for criteria, test in [
            ({"concept": "hf:CT"}, lambda ds: ds.Modality == "CT"),
            ({"concept": "hf:MR", "attributes": {"MagneticFieldStrength": {"min": 3}}},
             lambda ds: ds.Modality == "MR" and float(ds.MagneticFieldStrength) >= 3),
            ({"concept": "hf:Person"}, lambda ds: True),
        ]:  # fmt: skip
            expected = {ds.PatientID for ds in files if test(ds)}
            assert ask(adapter, criteria, ontology).total == len(expected) > 0
        # patients are pseudonymised: no PatientID reaches the in-memory index
        (keys,) = adapter.index.con.execute(  # type: ignore[union-attr]
            "SELECT list(DISTINCT person_key) FROM dicom_series"
        ).fetchall()[0]
        assert not {ds.PatientID for ds in files} & set(keys)
    finally:
        adapter.close()


def test_a_kept_folder_index_is_reused(site: Path, tmp_path: Path, ontology: Ontology) -> None:
    secret = tmp_path / "node.secret"
    secret.write_text(SECRET)
    options = {"index": str(tmp_path / "idx.parquet"), "secret_file": str(secret), "workers": 1}
    first = DicomAdapter.from_source(str(site / "files"), **options)
    second = DicomAdapter.from_source(str(site / "files"), **options)
    try:
        assert first.index is not None and first.index.report is not None
        assert second.index is not None and second.index.report is not None
        assert first.index.report.read == second.index.report.reused > 0
        assert second.index.report.read == 0
        n = len({ds.PatientID for ds in _files(site / "files")})
        assert ask(second, {"concept": "hf:Person"}, ontology).total == n
    finally:
        first.close()
        second.close()
    with pytest.raises(SourceError, match="secret_file or secret_env"):
        DicomAdapter.from_source(str(site / "files"), index=str(tmp_path / "other.parquet"))


def test_a_big_folder_asks_for_an_index(site: Path) -> None:
    with pytest.raises(SourceError, match=r"more than max_files=10 .*index-dicom"):
        DicomAdapter.from_source(str(site / "files"), max_files=10)


@pytest.mark.parametrize(
    ("source", "options", "words"),
    [
        ("/no/such/folder", {}, "not found"),
        ("s3://bucket/index.parquet", {}, "unsupported DICOM source"),
        ("/no/such/index.parquet", {}, "not found"),
        ("idc", {"mapping": "/no/such/mapping.toml"}, "cannot read column mapping"),
        ("idc", {"server_match": ["Modalty"]}, "Modality"),
        ("idc", {"page_size": 0}, "page_size"),
    ],
)
def test_bad_sources_and_options_name_the_problem(
    source: str, options: dict[str, Any], words: str
) -> None:
    with pytest.raises(SourceError, match=words):
        DicomAdapter.from_source(source, **options)


@pytest.fixture(scope="module")
def idc() -> Iterator[DicomAdapter]:
    adapter = DicomAdapter.from_source("idc")
    yield adapter
    adapter.close()


def test_idc_same_series_counts_agree_with_hand_written_sql(
    idc: DicomAdapter, ontology: Ontology
) -> None:
    got = ask(
        idc,
        {"code": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"},
         "body_site": {"system": "http://snomed.info/sct", "code": "39607008"},
         "attributes": {"Manufacturer": "SIEMENS"},
         "during": {"from": "2000-01-01", "to": "2005-12-31"}},
        ontology,
    )  # fmt: skip
    (expected,) = sql(
        f"SELECT count(DISTINCT (collection_id, PatientID)) FROM read_parquet('{IDC}') "
        "WHERE Modality = 'CT' AND upper(BodyPartExamined) IN ('LUNG', 'CHEST', 'NECKCHEST', "
        "'CHESTABDOMEN', 'CHESTABDPELVIS', 'WHOLEBODY') AND Manufacturer = 'SIEMENS' "
        "AND StudyDate BETWEEN '2000-01-01' AND '2005-12-31' AND PatientID IS NOT NULL"
    )
    assert got.total == expected > 100


def test_idc_person_attributes_come_from_the_series(idc: DicomAdapter, ontology: Ontology) -> None:
    got = ask(idc, {"all": [{"concept": "hf:MR"}, {"concept": "hf:Female"}]}, ontology)
    (expected,) = sql(
        f"WITH s AS (SELECT collection_id || '/' || PatientID AS p, Modality, "
        f"CASE WHEN upper(trim(PatientSex)) IN ('F', 'M', 'O') THEN upper(trim(PatientSex)) END "
        f"AS sex FROM read_parquet('{IDC}') WHERE PatientID IS NOT NULL) "
        "SELECT count(*) FROM (SELECT p FROM s GROUP BY p HAVING min(sex) = 'F' "
        "AND max(sex) = 'F' AND bool_or(Modality = 'MR'))"
    )
    assert got.total == expected > 100


def test_idc_describes_what_its_mapping_leaves_out(idc: DicomAdapter, ontology: Ontology) -> None:
    notes = " ".join(idc.describe())
    assert "SliceThickness" in notes and "idc" in notes
    assert not any(ch.isdigit() for ch in notes.split("leaves")[0])  # no counts published
    got = ask(idc, {"concept": "hf:CT", "attributes": {"SliceThickness": {"max": 1}}}, ontology)
    assert got.total is None
    assert got.unsupported[0].path == "criteria.attributes.SliceThickness"


def test_an_index_query_stops_at_its_deadline(idc: DicomAdapter, ontology: Ontology) -> None:
    """A persons table of IDC's 1M series with strata takes far longer than 10 ms: the
    query is interrupted; a deadline that has passed runs nothing."""
    document = {"hql": "1", "criteria": {"not": {"concept": "hf:CT"}}, "as_of": "2025-01-01",
                "stratify": {"by": ["sex", "age"]}}  # fmt: skip
    prepared = prepare(document, ontology, {"dicom"}, AS_OF)
    native = idc.compile(prepared.query, prepared.bindings["dicom"])
    with pytest.raises(QueryTimeout):
        idc.run(native, Deadline.after(0.01))
    with pytest.raises(QueryTimeout):
        idc.run(native, Deadline.after(0))


def test_series_without_a_patient_are_never_counted(
    site: Path, tmp_path: Path, ontology: Ontology
) -> None:
    parquet = tmp_path / "anonymous.parquet"
    with duckdb.connect() as con:  # every third series of the index loses its patient
        con.execute(
            "COPY (SELECT * REPLACE (CASE WHEN hash(SeriesInstanceUID) % 3 = 0 THEN NULL "
            "ELSE person_key END AS person_key) "
            f"FROM read_parquet('{site / 'dicom_series.parquet'}')) TO '{parquet}' (FORMAT parquet)"
        )
    t = f"read_parquet('{parquet}')"
    adapter = DicomAdapter.from_source(str(parquet))
    try:
        for criteria, where in [
            ({"concept": "hf:CT"}, "Modality = 'CT'"),
            ({"concept": "hf:CT", "occurrences": {"min": 2}}, None),
            ({"not": {"concept": "hf:CT"}}, None),
            ({"concept": "hf:Person"}, "TRUE"),
        ]:
            if where is not None:
                (expected,) = sql(f"SELECT count(DISTINCT person_key) FROM {t} WHERE {where}")
            elif "not" in criteria:
                (expected,) = sql(
                    f"SELECT count(DISTINCT person_key) FROM {t} WHERE person_key NOT IN "
                    f"(SELECT person_key FROM {t} WHERE Modality = 'CT' "
                    "AND person_key IS NOT NULL)"
                )
            else:
                (expected,) = sql(
                    f"SELECT count(*) FROM (SELECT person_key FROM {t} WHERE Modality = 'CT' "
                    "AND person_key IS NOT NULL GROUP BY 1 "
                    "HAVING count(DISTINCT StudyInstanceUID) >= 2)"
                )
            assert ask(adapter, criteria, ontology).total == expected > 0, criteria
    finally:
        adapter.close()
