"""Counts on a messy trial folder (`trial.py`): partial and non-ISO dates in windows, ages,
`within` and occurrences; AGE in months; text in numeric columns; g/L against g/dL; tests not
done and events that did not occur; subjects missing from DM; MedDRA codes and their
hierarchy. Every expected count is worked out by hand from the fixture rows (see the
comments), never read from the adapter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hyperfed.adapters.base import ExactCount
from hyperfed.adapters.sdtm import SdtmAdapter
from hyperfed.hub.prepare import prepare
from hyperfed.ontology import Ontology
from tests.adapters.sdtm.trial import write_trial

MEDDRA = "http://terminology.hl7.org/CodeSystem/mdr"
HTN, HGB = {"concept": "hf:Hypertension"}, {"concept": "hf:Hemoglobin"}
MARCH = {"from": "2019-03-01", "to": "2019-03-31"}


@pytest.fixture(scope="module")
def ontology() -> Ontology:
    return Ontology.load()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_trial(tmp_path_factory.mktemp("trial"))


@pytest.fixture(scope="module")
def adapter(folder: Path) -> Iterator[SdtmAdapter]:
    a = SdtmAdapter.from_source(str(folder))
    yield a
    a.close()


def count(
    adapter: SdtmAdapter,
    ontology: Ontology,
    criteria: dict[str, Any],
    as_of: str = "2019-06-15",
    stratify: dict[str, Any] | None = None,
) -> ExactCount:
    doc: dict[str, Any] = {"hql": "1", "criteria": criteria, "as_of": as_of}
    if stratify is not None:
        doc["stratify"] = stratify
    p = prepare(doc, ontology, {"sdtm"}, __import__("datetime").date(2025, 1, 1))
    return adapter.count(p.query, p.bindings["sdtm"])


def meddra(code: str, **filters: Any) -> dict[str, Any]:
    return {"code": {"system": MEDDRA, "code": code}, **filters}


CASES: list[tuple[str, dict[str, Any], int]] = [
    ("everyone", {"concept": "hf:Person"}, 6),  # T-99 is not in DM
    # MH T-01 (lower case), T-03, T-05 (ambiguous date: no date, still a record), AE T-02;
    # T-06 answered "no" (MHOCCUR N); T-99 not in DM
    ("hypertension", HTN, 4),
    ("not hypertension", {"not": HTN}, 2),
    ("hypertension in March 2019", {**HTN, "during": MARCH}, 2),  # T-01 (2019-03), T-02
    ("hypertension in 2019", {**HTN, "during": {"from": "2019-01-01", "to": "2019-12-31"}}, 3),
    ("hypertension from 2019-03-10", {**HTN, "during": {"from": "2019-03-10"}}, 1),  # T-02
    # T-02 (2019-03-15); T-01's March 2019 and T-03's 2019 may be later
    ("hypertension until 2019-03-15", {**HTN, "during": {"to": "2019-03-15"}}, 1),
    ("asthma pre-specified, never answered", {"concept": "hf:Asthma"}, 0),
    ("MedDRA PT", meddra("10020772"), 1),  # T-02's AEPTCD
    ("MedDRA SOC with descendants", meddra("10047065"), 1),
    ("MedDRA SOC alone", meddra("10047065", descendants=False), 0),
    ("MedDRA LLT alone", meddra("10005750", descendants=False), 1),
    ("aged 1 on 2019-03-05 (AGE 18 MONTHS)", {"age": {"min": 1, "max": 1}}, 1),
    # T-01 59, T-06 68 or 69; T-03 (born June 1979) may still be 39; T-05 unknown
    ("40 or older", {"age": {"min": 40}}, 2),
    ("not 40 or older", {"not": {"age": {"min": 40}}}, 4),
    ("68 to 69", {"age": {"min": 68, "max": 69}}, 1),  # T-06 (born some day of 1950)
    ("68 or younger", {"age": {"max": 68}}, 4),  # T-01, T-02, T-03, T-04 (T-06 may be 69)
    ("hypertension at 1 or younger", {**HTN, "age": {"max": 1}}, 1),  # T-02
    # T-03: some day of 2019, born some day of June 1979: 39 or 40, never surely 39
    ("hypertension at 39 to 40", {**HTN, "age": {"min": 39, "max": 40}}, 1),
    ("hypertension at 39", {**HTN, "age": {"min": 39, "max": 39}}, 0),
    ("female", {"concept": "hf:Female"}, 3),
    ("male (sex in lower case)", {"concept": "hf:Male"}, 2),
    ("unknown sex", {"concept": "hf:UnknownSex"}, 1),  # T-06 'u'
    # T-01 (besides a test not done), T-02, T-03, T-05 (unknown unit); T-06 only not done
    ("hemoglobin", HGB, 4),
    ("hemoglobin <= 12 g/dL", {**HGB, "value": {"max": 12, "unit": "g/dL"}}, 1),  # 118 g/L
    # 12.5 g/dL, 118 g/L, 12.9 g/dL (LBORRES: LBSTRESN is text); 13.1 has no unit
    ("hemoglobin <= 13 g/dL", {**HGB, "value": {"max": 13, "unit": "g/dL"}}, 3),
    ("hemoglobin <= 130 g/L", {**HGB, "value": {"max": 130, "unit": "g/L"}}, 3),
    ("hemoglobin raw value >= 13", {**HGB, "value": {"min": 13}}, 2),  # 118, 13.1
    ("hemoglobin in mmol/L", {**HGB, "value": {"max": 8, "unit": "mmol/L"}}, 0),
    ("two hemoglobin results", {**HGB, "occurrences": {"min": 2}}, 1),  # T-03
    # T-03's second result has an ambiguous date: one result in March only
    ("two hemoglobin results in March", {**HGB, "occurrences": {"min": 2}, "during": MARCH}, 0),
    ("hemoglobin in March", {**HGB, "during": MARCH}, 4),  # 2019/03/06 and 2019-03 count
    # T-02: metformin 2019-04-01, 17 days after 2019-03-15; T-01's hypertension is some day
    # of March 2019: metformin on 2019-03-20 is not surely after it
    (
        "metformin after hypertension",
        {"concept": "hf:Metformin", "within": {"of": HTN, "days_after": 30}},
        1,
    ),
    (
        "metformin around hypertension",
        {"concept": "hf:Metformin", "within": {"of": HTN, "days_before": 30, "days_after": 30}},
        2,
    ),
    (
        "aspirin in December 2018",
        {"concept": "hf:Aspirin", "during": {"from": "2018-12-01", "to": "2018-12-31"}},
        1,
    ),
    # T-02's aspirin in April 2019; T-03's December 2018 may be before the 15th
    ("aspirin from 2018-12-15", {"concept": "hf:Aspirin", "during": {"from": "2018-12-15"}}, 1),
    # T-02: hypertension 2019-03-15, aspirin some day of April 2019 (up to 46 days after)
    (
        "aspirin 20 days after hypertension",
        {"concept": "hf:Aspirin", "within": {"of": HTN, "days_after": 20}},
        0,
    ),
    (
        "aspirin 46 days after hypertension",
        {"concept": "hf:Aspirin", "within": {"of": HTN, "days_after": 46}},
        1,
    ),
    (
        "aspirin 45 days after hypertension",
        {"concept": "hf:Aspirin", "within": {"of": HTN, "days_after": 45}},
        0,
    ),
    ("no glucose results here", {"concept": "hf:Glucose"}, 0),
    ("not glucose", {"not": {"concept": "hf:Glucose"}}, 6),
]


@pytest.mark.parametrize(("name", "criteria", "expected"), CASES, ids=[c[0] for c in CASES])
def test_counts_by_hand(
    adapter: SdtmAdapter, ontology: Ontology, name: str, criteria: dict[str, Any], expected: int
) -> None:
    as_of = "2019-03-05" if "2019-03-05" in name else "2019-06-15"
    got = count(adapter, ontology, criteria, as_of)
    assert not got.unsupported, got.unsupported
    assert got.total == expected


def test_strata_by_sex_and_age(adapter: SdtmAdapter, ontology: Ontology) -> None:
    by_sex = count(adapter, ontology, {"concept": "hf:Person"}, stratify={"by": ["sex"]})
    assert by_sex.strata == {("female",): 3, ("male",): 2, ("unknown",): 1}
    # on 2019-06-15: T-01 59, T-02 1, T-03 39 or 40 (unknown), T-04 29, T-05 unknown, T-06 68+
    by_age = count(
        adapter,
        ontology,
        {"concept": "hf:Person"},
        stratify={"by": ["age"], "age_bands": [0, 18, 40, 60]},
    )
    assert by_age.strata == {
        ("0-17",): 1,
        ("18-39",): 1,
        ("40-59",): 1,
        ("60+",): 1,
        ("unknown",): 2,
    }


def test_excluded_arms_are_nobody(folder: Path, ontology: Ontology) -> None:
    adapter = SdtmAdapter.from_source(str(folder), exclude_arms="SCRNFAIL")
    try:
        assert count(adapter, ontology, {"concept": "hf:Person"}).total == 5
        assert count(adapter, ontology, {"concept": "hf:Female"}).total == 2
    finally:
        adapter.close()


def test_notes_say_what_was_not_compared(adapter: SdtmAdapter, ontology: Ontology) -> None:
    got = count(adapter, ontology, {**HGB, "value": {"max": 8, "unit": "mmol/L"}})
    assert any("HGB results here are in g/L, g/dL" in n and "mmol/L" in n for n in got.notes)
    none = count(adapter, ontology, {"concept": "hf:Glucose"})
    assert any("no records of this study can match" in n for n in none.notes)


def test_what_sdtm_cannot_express_is_unsupported_with_its_path(
    adapter: SdtmAdapter, ontology: Ontology
) -> None:
    icd = {"code": {"system": "http://hl7.org/fhir/sid/icd-10", "code": "Z99.9"}}
    got = count(adapter, ontology, {"all": [HTN, {"not": icd}]})
    assert got.total is None
    (u,) = got.unsupported
    assert u.path == "criteria.all[1].not" and "no ICD-10 codes" in u.reason
    valued = count(adapter, ontology, {**HTN, "value": {"min": 1}})
    assert [x.path for x in valued.unsupported] == ["criteria"]
    assert "a value applies to findings" in valued.unsupported[0].reason
    site = count(adapter, ontology, {**HTN, "body_site": {"system": "snomed", "code": "39607008"}})
    assert [x.path for x in site.unsupported] == ["criteria.body_site"]
    cancer = count(adapter, ontology, {"concept": "hf:Cancer"})  # no SDTM binding of its own
    assert [x.path for x in cancer.unsupported] == ["criteria"]
    assert "hf:LungCancer" in cancer.unsupported[0].reason
