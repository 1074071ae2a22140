"""The contract with a model that is not OMOP: the in-memory adapter (plain Python over the
population's patients) and the OMOP adapter (SQL over the same population) answer the whole
battery identically — totals and every stratum."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hyperfed.adapters.base import ExactCount
from hyperfed.adapters.omop import OmopAdapter
from hyperfed.hub.prepare import prepare
from hyperfed.ontology import Ontology
from tests.adapters.memory import MemoryAdapter
from tests.crossmodel import population
from tests.crossmodel.battery import AS_OF, QUESTIONS, Question


@pytest.fixture(scope="module")
def ontology() -> Ontology:
    return Ontology.load()


@pytest.fixture(scope="module", params=["clean", "messy"])
def source(request: pytest.FixtureRequest) -> Path:
    """The population as generated, and as a real node holds it (unknown attributes)."""
    name = "population_omop" if request.param == "clean" else "population_omop_messy"
    path: Path = request.getfixturevalue(name)
    return path


@pytest.fixture(scope="module")
def omop(source: Path) -> Iterator[OmopAdapter]:
    adapter = OmopAdapter.from_source(f"duckdb://{source}")
    yield adapter
    adapter.close()


@pytest.fixture(scope="module")
def memory(source: Path) -> MemoryAdapter:
    patients, vocabulary = population.load(source)
    return MemoryAdapter(patients, vocabulary)


def ask(adapter: Any, question: Question, ontology: Ontology) -> ExactCount:
    prepared = prepare(question.document(), ontology, {"omop"}, AS_OF)
    result: ExactCount = adapter.count(prepared.query, prepared.bindings["omop"])
    return result


@pytest.mark.parametrize("question", QUESTIONS, ids=[q.id for q in QUESTIONS])
def test_memory_and_omop_agree(
    question: Question, omop: OmopAdapter, memory: MemoryAdapter, ontology: Ontology
) -> None:
    expected = ask(memory, question, ontology)
    got = ask(omop, question, ontology)
    assert not got.unsupported and not expected.unsupported
    assert got.total == expected.total
    assert got.strata == expected.strata
    assert got.dimensions == expected.dimensions


def test_the_battery_is_not_trivial(population_omop: Path, ontology: Ontology) -> None:
    """Most questions select a real share of the population (a battery of zeros would let a
    compiler that answers FALSE everywhere pass)."""
    memory = MemoryAdapter(*population.load(population_omop))
    totals = {q.id: ask(memory, q, ontology).total for q in QUESTIONS}
    everyone = totals["everyone"]
    assert everyone == 3000
    assert totals["nobody"] == 0
    middling = [k for k, v in totals.items() if v is not None and 10 <= v < everyone]
    assert len(middling) >= len(QUESTIONS) - 4, totals
    assert len(QUESTIONS) >= 25
