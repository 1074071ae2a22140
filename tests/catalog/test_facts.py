"""Dataset facts: exact on the node, protected before they leave (adapters/facts.py).

Expected values are computed here from the inputs with the documented rules (threshold,
then rounding half up), with noise off so they are exact."""

from __future__ import annotations

import datetime as dt
import json
import math
import pickle

import pytest
from pydantic import TypeAdapter, ValidationError

from hyperfed.adapters.disclosure import Policy
from hyperfed.adapters.facts import (
    ExactFacts,
    FactsError,
    ProtectedFacts,
    protect_facts,
    reprotect_facts,
    temporal_coverage,
    typical_ages,
)
from hyperfed.catalog import DatasetDescription, DatasetEntry
from tests.catalog.samples import NODE_POLICY, SECRET, exact

NO_NOISE = Policy(threshold=10, rounding=10, epsilon=None)


def released(n: int, k: int = 10, base: int = 10) -> int | None:
    """The documented rule without noise: below k suppressed, else round half up."""
    if n < k:
        return None
    r = math.floor(n / base + 0.5) * base
    return r if r >= k else None


def test_totals_are_thresholded_and_rounded() -> None:
    f = protect_facts(ExactFacts(persons=1234, records=7), NO_NOISE, SECRET, "d")
    assert f.number_of_unique_individuals is not None
    assert f.number_of_unique_individuals.count == released(1234) == 1230
    assert f.number_of_records is None  # 7 < k: omitted, not zero


def test_values_below_k_are_not_named_at_all() -> None:
    facts = exact(1, imaging=True)
    f = protect_facts(facts, NO_NOISE, SECRET, "img")
    for name, counts in facts.facets.items():
        want = {v: released(n) for v, n in counts.items() if released(n) is not None}
        got = {v.value: v.count for v in f.facets.get(name, [])}
        assert got == want, name
    assert "MR" not in {v.value for v in f.facets["modality"]}  # 3 persons
    assert "ACME-ONE-OFF" not in {v.value for v in f.facets["manufacturer"]}
    assert {c.code for c in f.code_values} == {"363358000"}  # 254637007 has 6 persons
    assert {s.value for s in f.coding_systems} == {"http://snomed.info/sct"}  # ICD-10: 4
    assert {s.value for s in f.sexes} == {"female", "male"}  # other: 3


def test_typical_ages_come_from_released_bands() -> None:
    ages = {3: 2, 17: 4, **{a: 6 for a in range(20, 70)}, 85: 12, 96: 3}
    f = protect_facts(
        ExactFacts(persons=400, records=400, persons_by_age=ages), NO_NOISE, SECRET, "d", age_band=5
    )
    bands: dict[int, int] = {}
    for age, n in ages.items():
        bands[age // 5 * 5] = bands.get(age // 5 * 5, 0) + n
    kept = sorted(low for low, n in bands.items() if released(n) is not None)
    assert typical_ages(f) == (kept[0], kept[-1] + 4) == (20, 89)
    assert all(b.count >= 10 for b in f.age_bands)


def test_no_released_band_means_no_ages() -> None:
    f = protect_facts(
        ExactFacts(persons=50, records=50, persons_by_age={a: 1 for a in range(50)}),
        NO_NOISE,
        SECRET,
        "d",
        age_band=5,
    )
    assert typical_ages(f) is None  # every 5-year band holds 5 persons


def test_temporal_coverage_skips_small_years() -> None:
    years = {1998: 2, 2005: 30, 2006: 31, 2020: 9}
    f = protect_facts(
        ExactFacts(persons=100, records=100, persons_by_year=years), NO_NOISE, SECRET, "d"
    )
    assert temporal_coverage(f) == (dt.date(2005, 1, 1), dt.date(2006, 12, 31))


def test_noisy_facts_never_publish_a_small_number() -> None:
    for seed in range(12):
        f = protect_facts(exact(seed, imaging=seed % 2 == 0), NODE_POLICY, SECRET, f"d{seed}")
        counts = [
            *(p.count for p in (f.number_of_unique_individuals, f.number_of_records) if p),
            *(b.count for b in f.age_bands),
            *(v.count for v in [*f.years, *f.sexes, *f.coding_systems]),
            *(c.count for c in f.code_values),
            *(v.count for values in f.facets.values() for v in values),
        ]
        assert counts and all(c >= NODE_POLICY.threshold for c in counts)
        assert all(c % 10 == 0 for c in counts)


def test_facts_are_deterministic_per_dataset() -> None:
    a = protect_facts(exact(3), NODE_POLICY, SECRET, "same")
    assert protect_facts(exact(3), NODE_POLICY, SECRET, "same") == a


def test_floor_removes_what_falls_below_its_threshold() -> None:
    f = protect_facts(exact(2, imaging=True), NO_NOISE, SECRET, "img")
    floor = Policy(threshold=50, rounding=10)
    g = reprotect_facts(f, floor)
    assert g.threshold == 50
    assert {v.value for v in g.facets["modality"]} == {"CT"}  # PT (44 -> 40) falls out
    assert all(v.count >= 50 for values in g.facets.values() for v in values)
    assert all(b.count >= 50 for b in g.age_bands) and not g.age_bands


def test_exact_facts_cannot_be_serialised() -> None:
    facts = exact(1)
    with pytest.raises(TypeError, match="never leave the node"):
        TypeAdapter(ExactFacts)
    with pytest.raises(TypeError):
        pickle.dumps(facts)
    with pytest.raises(TypeError):
        json.dumps(facts)
    with pytest.raises(ValidationError):
        DatasetEntry(
            description=DatasetDescription(id="x", title="t", description="d"),
            facts=facts,  # type: ignore[arg-type]
        )


def test_protected_facts_below_their_threshold_are_refused() -> None:
    good = protect_facts(exact(1), NO_NOISE, SECRET, "d").model_dump(mode="json")
    lying = {**good, "sexes": [{"value": "other", "count": 3}]}
    with pytest.raises(ValidationError, match="below the threshold"):
        ProtectedFacts.model_validate(lying)


@pytest.mark.parametrize(
    ("facts", "message"),
    [
        (ExactFacts(persons=-1, records=0), "non-negative"),
        (ExactFacts(persons=1, records=1, persons_by_sex={"female": -2}), "persons_by_sex"),
        (ExactFacts(persons=1, records=1, persons_by_age={200: 1}), "not an age"),
        (ExactFacts(persons=1, records=1, facets={"Body Part": {"x": 1}}), "facet name"),
    ],
)
def test_bad_exact_facts_are_named(facts: ExactFacts, message: str) -> None:
    with pytest.raises(FactsError, match=message):
        protect_facts(facts, NO_NOISE, SECRET, "d")
