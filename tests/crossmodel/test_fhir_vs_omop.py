"""One population, two models, same answers: an OMOP node and a FHIR node built from the same
synthetic population (`POPULATION`, written by the OMOP writer and by the FHIR NDJSON writer)
answer every question of the battery with identical exact counts — totals and every stratum.

The FHIR node is pointed at the population's vocabulary as an Athena export (descendants);
without it, a question whose codes have descendants may count fewer patients, and then the
result says so (never a silent narrowing). Questions one model cannot express come back
`unsupported` with the criterion's path: `UNSUPPORTED` lists them with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hyperfed.adapters.base import Adapter, ExactCount
from hyperfed.adapters.fhir import FhirAdapter
from hyperfed.adapters.omop import OmopAdapter
from hyperfed.hub.prepare import prepare
from hyperfed.ontology import Ontology
from hyperfed.synth.athena import write_athena_vocabulary
from hyperfed.synth.fhir import write_fhir
from tests.conftest import POPULATION
from tests.crossmodel.battery import AS_OF, QUESTIONS, SNOMED, Question, code

THORAX = "51185008"
DCM_CT = code("http://dicom.nema.org/resources/ontology/DCM", "CT")
EXTRA: tuple[Question, ...] = (
    Question(
        "ct-series-of-the-thorax", {**DCM_CT, "body_site": {"system": SNOMED, "code": THORAX}}
    ),
)
"""Questions beyond the shared battery that only some models express."""

UNSUPPORTED: dict[tuple[str, str], tuple[str, str]] = {
    # (question, model) -> (path, reason)
    ("ct-series-of-the-thorax", "omop"): (
        "criteria.body_site",
        "the omop data model cannot evaluate 'body_site' on an event",
    ),
}
"""Where one model cannot express a question, and why (the other counts it)."""


@pytest.fixture(scope="module")
def ontology() -> Ontology:
    return Ontology.load()


@pytest.fixture(scope="module")
def population_fhir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("population-fhir")
    write_fhir(POPULATION, out / "ndjson")
    write_athena_vocabulary(out / "athena")
    return out


@pytest.fixture(scope="module")
def omop(population_omop: Path) -> Iterator[OmopAdapter]:
    adapter = OmopAdapter.from_source(f"duckdb://{population_omop}")
    yield adapter
    adapter.close()


@pytest.fixture(scope="module")
def fhir(population_fhir: Path) -> Iterator[FhirAdapter]:
    adapter = FhirAdapter.from_source(
        str(population_fhir / "ndjson"), vocabulary=str(population_fhir / "athena")
    )
    yield adapter
    adapter.close()


@pytest.fixture(scope="module")
def fhir_plain(population_fhir: Path, fhir: FhirAdapter) -> Iterator[FhirAdapter]:
    """The same FHIR files without a vocabulary export."""
    adapter = FhirAdapter.from_source(str(population_fhir / "ndjson"))
    yield adapter
    adapter.close()


def ask(adapter: Adapter, question: Question, ontology: Ontology) -> ExactCount:
    prepared = prepare(question.document(), ontology, {adapter.MODEL}, AS_OF)
    return adapter.count(prepared.query, prepared.bindings[adapter.MODEL])


@pytest.mark.parametrize("question", QUESTIONS, ids=[q.id for q in QUESTIONS])
def test_fhir_and_omop_agree(
    question: Question, omop: OmopAdapter, fhir: FhirAdapter, ontology: Ontology
) -> None:
    expected = ask(omop, question, ontology)
    got = ask(fhir, question, ontology)
    assert not expected.unsupported and not got.unsupported, (expected, got)
    assert got.total == expected.total, got.notes
    assert got.strata == expected.strata
    assert got.dimensions == expected.dimensions


@pytest.mark.parametrize("question", EXTRA, ids=[q.id for q in EXTRA])
def test_what_one_model_cannot_express_is_unsupported_with_its_path(
    question: Question,
    omop: OmopAdapter,
    fhir: FhirAdapter,
    ontology: Ontology,
    population_fhir: Path,
) -> None:
    for adapter in (omop, fhir):
        result = ask(adapter, question, ontology)
        reason = UNSUPPORTED.get((question.id, adapter.MODEL))
        if reason is None:
            assert not result.unsupported and result.total is not None
            continue
        assert result.total is None
        assert [(u.path, u.reason) for u in result.unsupported] == [reason]
    # and the model that counts it counts right: CT series of the thorax, read off the JSON
    studies = (population_fhir / "ndjson" / "ImagingStudy.ndjson").read_text().splitlines()
    want = {
        s["subject"]["reference"]
        for s in map(json.loads, studies)
        if any(
            x["modality"]["code"] == "CT" and x.get("bodySite", {}).get("code") == THORAX
            for x in s["series"]
        )
    }
    assert ask(fhir, question, ontology).total == len(want) > 0


@pytest.mark.parametrize("question", QUESTIONS, ids=[q.id for q in QUESTIONS])
def test_without_a_vocabulary_narrowing_is_never_silent(
    question: Question, omop: OmopAdapter, fhir_plain: FhirAdapter, ontology: Ontology
) -> None:
    expected = ask(omop, question, ontology)
    got = ask(fhir_plain, question, ontology)
    assert got.total is not None and expected.total is not None
    if got.total != expected.total or got.strata != expected.strata:
        assert any("descendants of" in n and "are not included" in n for n in got.notes), (
            got.total,
            expected.total,
            got.notes,
        )


def test_the_battery_is_large_and_mostly_shared(fhir: FhirAdapter, ontology: Ontology) -> None:
    shared = [q for q in QUESTIONS if not any(k[0] == q.id for k in UNSUPPORTED)]
    assert len(QUESTIONS) >= 25 and len(shared) == len(QUESTIONS)
    totals: dict[str, Any] = {q.id: ask(fhir, q, ontology).total for q in QUESTIONS}
    assert totals["everyone"] == POPULATION.persons
    assert sum(1 for v in totals.values() if v and v < POPULATION.persons) >= 25
