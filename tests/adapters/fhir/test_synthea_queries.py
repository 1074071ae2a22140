"""Queries over the real Synthea sample (`../shared/data/fhir/`, 30 patients as Bundles), through
the file path and through the REST backend, against counts computed by plain Python over the
JSON (`oracle`: the Bundles read with `json`, urn:uuid references resolved by their fullUrls,
the in-memory oracle's rules applied to the resources)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from hyperfed.adapters.base import Adapter, ExactCount
from hyperfed.adapters.fhir import FhirAdapter
from hyperfed.hub.prepare import prepare
from hyperfed.ontology import Ontology
from tests.adapters.memory import MemoryAdapter
from tests.crossmodel.battery import AS_OF, Question
from tests.servers import serve

from .conftest import SYNTHEA, need
from .fhir_server import create_app
from .oracle import bundle_resources, patients_of

SCT, LOINC = "http://snomed.info/sct", "http://loinc.org"


def code(system: str, code_: str, **filters: Any) -> dict[str, Any]:
    return {"code": {"system": system, "code": code_}, **filters}


RX, CVX = "http://www.nlm.nih.gov/research/umls/rxnorm", "http://hl7.org/fhir/sid/cvx"
SINUSITIS, PHARYNGITIS, BRONCHITIS = (
    code(SCT, "444814009"),
    code(SCT, "195662009"),
    code(SCT, "10509002"),
)
QUESTIONS = (
    Question("viral-sinusitis", SINUSITIS),
    Question("prediabetes-women", {"all": [code(SCT, "15777000"), {"concept": "hf:Female"}]}),
    Question("hypertension-not-prediabetes",
             {"all": [code(SCT, "38341003"), {"not": code(SCT, "15777000")}]}),
    Question("bmi-30-plus", code(LOINC, "39156-5", value={"min": 30, "unit": "kg/m2"})),
    Question("weight-over-200-lb", code(LOINC, "29463-7", value={"min": 200, "unit": "[lb_av]"})),
    Question("systolic-140-plus", code(LOINC, "8480-6", value={"min": 140, "unit": "mm[Hg]"})),
    Question("glucose-at-most-1-g/L", code(LOINC, "2339-0", value={"max": 1, "unit": "g/L"})),
    Question("glucose-in-mmol/L-is-another-dimension",
             code(LOINC, "2339-0", value={"max": 5.5, "unit": "mmol/L"})),
    Question("sinusitis-2010-2015",
             {**SINUSITIS, "during": {"from": "2010-01-01", "to": "2015-12-31"}}),
    Question("two-sinusitis-episodes", {**SINUSITIS, "occurrences": {"min": 2}}),
    Question("pharyngitis-as-a-child", {**PHARYNGITIS, "age": {"max": 17}}),
    Question("bronchitis-within-a-year-after-pharyngitis",
             {**BRONCHITIS, "within": {"of": PHARYNGITIS, "days_after": 365}}),
    Question("colonoscopy", code(SCT, "73761001")),
    Question("influenza-vaccine", code(CVX, "140")),
    Question("acetaminophen-request", code(RX, "313782")),
    Question("adults-over-40", {"age": {"min": 41}}),
    Question("sinusitis-by-sex", SINUSITIS, {"by": ["sex"]}),
    Question("everyone-by-age", {"concept": "hf:Person"},
             {"by": ["age"], "age_bands": [0, 18, 65]}),
)  # fmt: skip


@pytest.fixture(scope="module")
def resources() -> list[dict[str, Any]]:
    return bundle_resources(need(SYNTHEA))


@pytest.fixture(scope="module")
def oracle(resources: list[dict[str, Any]]) -> MemoryAdapter:
    return MemoryAdapter(patients_of(resources))


@pytest.fixture(scope="module")
def ontology() -> Ontology:
    return Ontology.load()


@pytest.fixture(scope="module", params=["files", "rest"])
def adapter(request: pytest.FixtureRequest, resources: list[dict[str, Any]]) -> Iterator[Adapter]:
    with contextlib.ExitStack() as stack:
        if request.param == "files":
            source = str(need(SYNTHEA))
        else:
            source = stack.enter_context(serve(create_app(resources)))
        yield stack.enter_context(contextlib.closing(FhirAdapter.from_source(source)))


def ask(adapter: Adapter, question: Question, ontology: Ontology) -> ExactCount:
    prepared = prepare(question.document(), ontology, {"fhir"}, AS_OF)
    return adapter.count(prepared.query, prepared.bindings["fhir"])


@pytest.mark.parametrize("question", QUESTIONS, ids=[q.id for q in QUESTIONS])
def test_against_plain_python(
    question: Question, adapter: Adapter, oracle: MemoryAdapter, ontology: Ontology
) -> None:
    want = ask(oracle, question, ontology)
    got = ask(adapter, question, ontology)
    assert not got.unsupported
    assert (got.total, got.strata) == (want.total, want.strata), got.notes


def test_the_questions_find_patients(oracle: MemoryAdapter, ontology: Ontology) -> None:
    totals = {q.id: ask(oracle, q, ontology).total for q in QUESTIONS}
    assert totals["glucose-in-mmol/L-is-another-dimension"] == 0
    assert sum(1 for v in totals.values() if v) >= len(QUESTIONS) - 2, totals
