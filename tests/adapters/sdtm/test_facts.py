"""SDTM dataset facts (`SdtmAdapter.facts`) on the small messy trial of `trial.py`, every
expected number worked out by hand from its rows (the comments say how)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hyperfed.adapters.sdtm import SdtmAdapter
from tests.adapters.sdtm.trial import write_trial

MEDDRA = "http://terminology.hl7.org/CodeSystem/mdr"


def test_facts_of_the_trial(tmp_path: Path) -> None:
    adapter = SdtmAdapter.from_source(str(write_trial(tmp_path / "trial")), exclude_arms="SCRNFAIL")
    try:
        facts = adapter.facts("trial", dt.date(2024, 6, 30))
    finally:
        adapter.close()
    # kept: T-01 F, T-02 m, T-03 M, T-05 F, T-06 u (T-04 is a screen failure)
    assert facts.persons == 5
    assert dict(facts.persons_by_sex) == {"female": 2, "male": 2, "unknown": 1}
    # T-01 born 1960-05-10: 64; T-02 born 2017-08-06..09-05 (middle 08-21): 6; T-03 born in
    # June 1979 (middle 06-15): 45; T-06 born in 1950 (middle 07-02): 73; T-05 no age
    assert dict(facts.persons_by_age) == {64: 1, 6: 1, 45: 1, 73: 1}
    # MH 5 + AE 1 (T-99 is not in DM) + CM 4 + LB 7 (T-99 again left out)
    assert facts.records == 17
    # 2019: T-01, T-02, T-03 (MH), T-05 and T-06 (LB); 2018: T-03 (aspirin, 2018-12)
    assert dict(facts.persons_by_year) == {2019: 5, 2018: 1}
    # one MedDRA preferred term (T-02's AE); the LB file has no LOINC codes
    assert dict(facts.coding_systems) == {MEDDRA: 1}
    assert dict(facts.code_values) == {(MEDDRA, "10020772"): 1}
    assert facts.health_categories == ()


def test_every_subject_without_exclusions(tmp_path: Path) -> None:
    adapter = SdtmAdapter.from_source(str(write_trial(tmp_path / "trial")))
    try:
        facts = adapter.facts("trial", dt.date(2024, 6, 30))
    finally:
        adapter.close()
    # T-04 (F, born 1990-01-01: 34) is kept now, with no other rows
    assert facts.persons == 6 and facts.persons_by_sex["female"] == 3
    assert facts.persons_by_age[34] == 1 and facts.records == 17
