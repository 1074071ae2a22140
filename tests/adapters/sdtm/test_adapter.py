"""The SDTM adapter on the kit: registration and declarations, the binding kind, options,
the cache file, describe/check, and what the compiler refuses (with the criterion's path)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from hyperfed.adapters.errors import SourceError
from hyperfed.adapters.hql.bindings import binding_kinds, parse_binding
from hyperfed.adapters.hql.model import Query
from hyperfed.adapters.registry import load_adapter_class
from hyperfed.adapters.sdtm import SdtmAdapter
from hyperfed.adapters.sdtm.bindings import SdtmBinding
from hyperfed.hub.prepare import prepare
from hyperfed.ontology import Ontology, OntologyInvalid
from tests.adapters.sdtm.trial import write_trial

MEDDRA = "http://terminology.hl7.org/CodeSystem/mdr"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_trial(tmp_path_factory.mktemp("adapter-trial"))


def q(criteria: dict[str, object], **extra: object) -> Query:
    return Query.model_validate({"hql": "1", "criteria": criteria, "as_of": "2019-06-15", **extra})


def test_registered_with_its_kind_and_systems() -> None:
    cls = load_adapter_class("sdtm")
    assert cls is SdtmAdapter
    assert binding_kinds()["sdtm"] is SdtmBinding
    assert frozenset({MEDDRA}) == SdtmAdapter.NATIVE_SYSTEMS
    features = SdtmAdapter.declared_features()
    assert {k for k, v in features.items() if v} == {
        "temporal", "relative_windows", "values", "occurrences", "descendants", "stratify",
    }  # fmt: skip


def test_binding_kind_pairs_variables_with_their_domains() -> None:
    b = parse_binding(
        {"kind": "sdtm", "domains": ["mh", "AE"], "variables": ["MHDECOD", "aedecod", "AETERM"],
         "terms": ["Asthma"]}
    )  # fmt: skip
    assert isinstance(b, SdtmBinding)
    assert b.domains == ["AE", "MH"] and b.suffixes("AE") == ["DECOD", "TERM"]
    assert b.suffixes("MH") == ["DECOD"]
    with pytest.raises(ValidationError, match="belongs to none of the domains"):
        SdtmBinding(domains=["MH"], variables=["AEDECOD"], terms=["X"])
    with pytest.raises(ValidationError, match="domain CM has no variable"):
        SdtmBinding(domains=["MH", "CM"], variables=["MHDECOD"], terms=["X"])


def test_the_ontology_reads_and_checks_the_kind(tmp_path: Path) -> None:
    onto = Ontology.load()
    ct = onto.resolve("hf:CTScan", "sdtm")
    assert ct == SdtmBinding(
        domains=["PR"], variables=["PRDECOD", "PRTRT"], terms=["COMPUTED TOMOGRAPHY", "CT OF CHEST"]
    )
    bad = tmp_path / "bad.ttl"
    bad.write_text(
        "@prefix hf: <https://w3id.org/hyperfed/ontology#> .\n"
        'hf:Asthma hf:binding [ hf:model "sdtm" ; hf:sdtmDomain "MH" ; '
        'hf:sdtmVariable "AEDECOD" ; hf:sdtmTerm "ASTHMA" ] .\n'
    )
    with pytest.raises(OntologyInvalid, match=r"hf:Asthma.*AEDECOD belongs to none"):
        Ontology.load([bad])


def test_a_code_without_descendants_is_translated_to_its_concept_alone() -> None:
    onto = Ontology.load()
    lung = {"code": {"system": "http://snomed.info/sct", "code": "363358000"}}
    doc = {"hql": "1", "criteria": {"any": [lung, {**lung, "descendants": False}]}}
    p = prepare(doc, onto, {"sdtm", "omop"}, dt.date(2025, 1, 1))
    assert p.bindings["omop"] == {}  # OMOP reads SNOMED CT itself
    with_narrower = p.bindings["sdtm"]["http://snomed.info/sct|363358000"]
    alone = p.bindings["sdtm"]["http://snomed.info/sct|363358000|self"]
    assert isinstance(with_narrower, SdtmBinding) and isinstance(alone, SdtmBinding)
    assert alone.terms == ["LUNG NEOPLASM MALIGNANT"]
    assert with_narrower.terms == ["LUNG NEOPLASM MALIGNANT", "NON-SMALL CELL LUNG CANCER"]


def test_options_are_validated_by_name(folder: Path) -> None:
    for options, words in (
        ({"on_error": "explode"}, "sdtm option on_error"),
        ({"schema": "cdm"}, "sdtm option schema"),
        ({"csv_encoding": "klingon"}, "unknown encoding 'klingon'"),
        ({"required_domains": ["D M"]}, "sdtm option required_domains"),
    ):
        with pytest.raises(SourceError, match=words):
            SdtmAdapter.from_source(str(folder), **options)
    with pytest.raises(SourceError, match="a folder path"):
        SdtmAdapter.from_source("postgresql://x/y")
    assert SdtmAdapter.resolve_source("trial", Path("/srv")) == "/srv/trial"
    assert SdtmAdapter.resolve_source("/data/t", Path("/srv")) == "/data/t"


def test_the_cache_file_is_reused_until_a_file_changes(folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "trial.duckdb"
    criteria = {"concept": "x:htn"}
    binding = {"x:htn": SdtmBinding(domains=["MH"], variables=["MHDECOD"], terms=["HYPERTENSION"])}
    first = SdtmAdapter.from_source(str(folder), cache=str(cache))
    try:
        assert first.count(q(criteria), dict(binding)).total == 3  # T-01, T-03, T-05
        assert not any("cache file" in n for n in first.study.report.notes)
    finally:
        first.close()
    again = SdtmAdapter.from_source(str(folder), cache=str(cache))
    try:
        assert any("layout read from the cache file" in n for n in again.describe())
        assert again.count(q(criteria), dict(binding)).total == 3
        assert again.schema == first.schema
    finally:
        again.close()
    mh = folder / "mh.csv"
    original = mh.read_text()
    try:
        mh.write_text(original.replace("T,MH,T-05,1,HYPERTENSION,HYPERTENSION,,,03/05/2019\n", ""))
        os.utime(mh, ns=(mh.stat().st_atime_ns, mh.stat().st_mtime_ns + 10**9))
        rebuilt = SdtmAdapter.from_source(str(folder), cache=str(cache))
        try:
            assert not any("cache file" in n for n in rebuilt.describe())
            assert rebuilt.count(q(criteria), dict(binding)).total == 2
        finally:
            rebuilt.close()
        other = SdtmAdapter.from_source(str(folder), cache=str(cache), exclude_arms=["A"])
        try:  # other options: rebuilt too (only T-04, a screen failure, and nobody else)
            assert other.count(q({"concept": "x:all"}), {"x:all": binding["x:htn"]}).total == 0
            assert other.schema.subjects == 1
        finally:
            other.close()
    finally:
        mh.write_text(original)


def test_describe_and_check(folder: Path) -> None:
    adapter = SdtmAdapter.from_source(str(folder))
    try:
        lines = adapter.describe()
        assert lines[0].startswith(f"SDTM folder {folder}: 6 subjects, 5 datasets (AE, CM, DM")
        assert lines[1:] == adapter.study.report.notes  # no start-up problems here
        assert not any("T-0" in x for x in lines)  # nothing about a subject
    finally:
        adapter.close()
    report = SdtmAdapter.check(str(folder))
    assert report.model == "sdtm" and not report.ok
    assert "unknown-subject" in report.codes()
    bad = SdtmAdapter.check(str(folder), on_error="explode")
    assert [p.code for p in bad.errors] == ["bad-option"]
    assert json.loads(bad.to_json())["errors"] == 1


def test_compiled_sql_reads_the_layout_only(folder: Path) -> None:
    adapter = SdtmAdapter.from_source(str(folder))
    try:
        onto = Ontology.load()
        doc = {
            "hql": "1",
            "criteria": {
                "all": [
                    {"concept": "hf:Hemoglobin", "value": {"max": 12, "unit": "g/dL"}},
                    {"not": {"concept": "hf:Metformin", "within": {
                        "of": {"concept": "hf:Hypertension"}, "days_after": 30}}},
                    {"age": {"min": 18}},
                ]
            },
            "stratify": {"by": ["sex"]},
        }  # fmt: skip
        p = prepare(doc, onto, {"sdtm"}, dt.date(2025, 1, 1))
        sql = adapter.explain(p.query, p.bindings["sdtm"])
        for table in ('"findings"', '"interventions"', '"events"', '"subjects"'):
            assert table in sql
        assert "raw_" not in sql and "sdtm_" not in sql
        assert "'HGB'" in sql and "'g/L'" in sql and "INTERVAL" in sql.upper()
    finally:
        adapter.close()


def test_unknown_variables_and_unread_kinds_are_unsupported(folder: Path) -> None:
    adapter = SdtmAdapter.from_source(str(folder))
    try:
        sev = {"x:sev": SdtmBinding(domains=["AE"], variables=["AESEV"], terms=["SEVERE"])}
        got = adapter.count(q({"all": [{"concept": "hf:Person"}, {"concept": "x:sev"}]}),
                            {**sev, "hf:Person": parse_binding({"kind": "everyone"})})  # fmt: skip
        assert got.total is None
        (u,) = got.unsupported
        assert u.path == "criteria.all[1]" and "AESEV is not a variable" in u.reason
        dicom = parse_binding({"kind": "dicom", "keyword": "Modality", "values": ["CT"]})
        got = adapter.count(q({"concept": "hf:CT"}), {"hf:CT": dicom})
        assert [x.path for x in got.unsupported] == ["criteria"]
        assert "bound to dicom data" in got.unsupported[0].reason
        rx = {"code": {"system": "rxnorm", "code": "999999"}}
        got = adapter.count(q(rx), {})
        assert "no RxNorm codes" in got.unsupported[0].reason
    finally:
        adapter.close()


def test_a_passed_deadline_stops_the_query(folder: Path) -> None:
    from hyperfed.adapters.deadline import Deadline
    from hyperfed.adapters.errors import QueryTimeout

    adapter = SdtmAdapter.from_source(str(folder))
    try:
        binding = {
            "x:htn": SdtmBinding(domains=["MH"], variables=["MHDECOD"], terms=["HYPERTENSION"])
        }
        native = adapter.compile(q({"concept": "x:htn"}), binding)
        with pytest.raises(QueryTimeout, match="deadline"):
            adapter.run(native, Deadline(at=0.0, budget=0.5))
        with pytest.raises(QueryTimeout):
            adapter.count(q({"concept": "x:htn"}), binding, Deadline(at=0.0, budget=0.5))
        assert adapter.run(native, Deadline.after(30)).total == 3
    finally:
        adapter.close()
