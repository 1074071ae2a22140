"""The FHIR REST backend over real HTTP against the FHIR search test server (loopback, started
here): the whole battery on a synthetic population, against the plain-Python oracle over the
same resources; the requests it makes (`_summary=count`, `_has`, paging, code lists split);
the deadline; a server's refusal and a server that cannot be used."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from hyperfed.adapters.base import Adapter, ExactCount
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.errors import QueryTimeout, SourceError
from hyperfed.adapters.fhir import FhirAdapter, RestError
from hyperfed.adapters.fhir.rest import FhirRestAdapter, RestQuery
from hyperfed.hub.prepare import prepare
from hyperfed.ontology import Ontology
from hyperfed.synth import SynthSpec
from hyperfed.synth.athena import write_athena_vocabulary
from hyperfed.synth.fhir import write_fhir
from tests.adapters.memory import MemoryAdapter, Vocabulary
from tests.crossmodel.battery import AS_OF, QUESTIONS, Question
from tests.servers import serve

from .fhir_server import create_app
from .oracle import athena_vocabulary, ndjson_resources, patients_of

SPEC = SynthSpec(persons=150, seed=11, hemoglobin_g_per_l_share=0.4, cancer_scale=4.0)
LUNG_FEMALE = {
    "all": [
        {"code": {"system": "http://snomed.info/sct", "code": "363358000"}},
        {"concept": "hf:Female"},
    ]
}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rest")
    write_fhir(SPEC, out / "ndjson")
    write_athena_vocabulary(out / "athena")
    return out


@pytest.fixture(scope="module")
def resources(data: Path) -> list[dict[str, Any]]:
    return ndjson_resources(data / "ndjson")


@pytest.fixture(scope="module")
def app(resources: list[dict[str, Any]]) -> FastAPI:
    return create_app(resources)


@pytest.fixture(scope="module")
def url(app: FastAPI) -> Iterator[str]:
    with serve(app) as base:
        yield base


@pytest.fixture(scope="module")
def ontology() -> Ontology:
    return Ontology.load()


@pytest.fixture(scope="module", params=["vocabulary", "none"])
def pair(
    request: pytest.FixtureRequest, url: str, data: Path, resources: list[dict[str, Any]]
) -> Iterator[tuple[FhirAdapter, MemoryAdapter]]:
    """The REST adapter and the oracle, with the Athena export or without any vocabulary."""
    if request.param == "vocabulary":
        vocab = athena_vocabulary(data / "athena")
        adapter = FhirAdapter.from_source(url, vocabulary=str(data / "athena"))
    else:
        vocab = Vocabulary()
        adapter = FhirAdapter.from_source(url)
    yield adapter, MemoryAdapter(patients_of(resources, vocab), vocab)
    adapter.close()


def ask(adapter: Adapter, criteria: Any, ontology: Ontology, **extra: Any) -> ExactCount:
    q = Question("q", criteria, extra.pop("stratify", None))
    prepared = prepare(q.document(), ontology, {"fhir"}, AS_OF)
    return adapter.count(prepared.query, prepared.bindings["fhir"], **extra)


@pytest.mark.parametrize("question", QUESTIONS, ids=[q.id for q in QUESTIONS])
def test_battery_against_the_oracle(
    question: Question, pair: tuple[FhirAdapter, MemoryAdapter], ontology: Ontology
) -> None:
    adapter, oracle = pair
    assert isinstance(adapter, FhirRestAdapter)
    want = ask(oracle, question.criteria, ontology, stratify=question.stratify)
    got = ask(adapter, question.criteria, ontology, stratify=question.stratify)
    assert not got.unsupported
    assert (got.total, got.strata) == (want.total, want.strata), got.notes


def test_one_count_request_when_search_says_it_all(
    url: str, app: FastAPI, resources: list[dict[str, Any]], ontology: Ontology
) -> None:
    with contextlib.closing(FhirAdapter.from_source(url)) as adapter:
        oracle = MemoryAdapter(patients_of(resources))
        before = len(app.state.requests)
        got = ask(adapter, LUNG_FEMALE, ontology)
        made = app.state.requests[before:]
        assert got.total == ask(oracle, LUNG_FEMALE, ontology).total > 0
        counts = [r for r in made if "_summary=count" in r]
        assert counts == made  # counted, never paged
        last = made[-1]
        assert last.startswith("Patient?") and "gender=female" in last
        assert (
            "_has%3ACondition%3Asubject%3Acode=" in last or "_has:Condition:subject:code=" in last
        )


def test_paging_and_split_code_lists(
    url: str, app: FastAPI, resources: list[dict[str, Any]], ontology: Ontology, data: Path
) -> None:
    oracle = MemoryAdapter(patients_of(resources))
    criteria = {"any": [LUNG_FEMALE, {"not": {"concept": "hf:Female"}}]}
    with contextlib.closing(
        FhirAdapter.from_source(url, page_size=7, codes_per_request=1)
    ) as small:
        before = len(app.state.requests)
        got = ask(small, criteria, ontology)
        made = app.state.requests[before:]
        assert got.total == ask(oracle, criteria, ontology).total
        assert any("_offset=" in r for r in made)  # next links followed
        assert any("_count=7" in r for r in made)
    # with the vocabulary: lung cancer, NSCLC below it, ICD-10-CM C34.90 mapping to it
    with contextlib.closing(
        FhirAdapter.from_source(url, codes_per_request=1, vocabulary=str(data / "athena"))
    ) as split:
        before = len(app.state.requests)
        lung = {"code": {"system": "http://snomed.info/sct", "code": "363358000"}}
        ask(split, lung, ontology)
        conditions = [r for r in app.state.requests[before:] if r.startswith("Condition?")]
        found = [[c for c in ("363358000", "254637007", "C34.90") if c in r] for r in conditions]
        assert {tuple(f) for f in found} == {("254637007",), ("363358000",), ("C34.90",)}


def test_explain_lists_the_requests(url: str, ontology: Ontology) -> None:
    with contextlib.closing(FhirAdapter.from_source(url)) as adapter:
        prepared = prepare(Question("q", LUNG_FEMALE).document(), ontology, {"fhir"}, AS_OF)
        native = adapter.compile(prepared.query, prepared.bindings["fhir"])
        assert isinstance(native, RestQuery)
        text = adapter.explain(prepared.query, prepared.bindings["fhir"])
        assert (
            "Condition?code=http://snomed.info/sct|363358000&_elements=subject&_count=1000" in text
        )
        assert "Patient?_elements=gender,birthDate" in text
        assert "\n# FHIR search requests to " + url in text  # after the notes


def test_the_deadline_is_honoured(url: str, ontology: Ontology) -> None:
    with contextlib.closing(FhirAdapter.from_source(url)) as adapter, pytest.raises(QueryTimeout):
        ask(adapter, LUNG_FEMALE, ontology, deadline=Deadline.after(0))


def test_a_refused_search_names_the_request(url: str, ontology: Ontology) -> None:
    below = FhirAdapter.from_source(url, server_below=True)  # this server has no :below
    with contextlib.closing(below) as adapter, pytest.raises(RestError) as caught:
        assert adapter.features()["descendants"] is True
        ask(adapter, LUNG_FEMALE, ontology)
    message = str(caught.value)
    assert "code:below=" in message and "(400)" in message
    assert "modifier 'below' is not supported" in message


def test_servers_that_cannot_be_used(tmp_path: Path) -> None:
    bare = FastAPI()

    @bare.get("/metadata")
    def metadata() -> dict[str, Any]:
        return {
            "resourceType": "CapabilityStatement",
            "rest": [{"resource": [{"type": "Condition"}]}],
        }

    with serve(bare) as base, pytest.raises(SourceError, match="does not serve Patient"):
        FhirAdapter.from_source(base)
    with serve(FastAPI()) as gone:
        pass
    with pytest.raises(SourceError, match="metadata"):
        FhirAdapter.from_source(gone)


def test_describe_and_features(url: str, data: Path) -> None:
    with contextlib.closing(FhirAdapter.from_source(url)) as plain:
        assert plain.features()["descendants"] is False
        text = " ".join(plain.describe())
        assert "descendants of codes are not included" in text and "Condition" in text
    with contextlib.closing(
        FhirAdapter.from_source(url, vocabulary=str(data / "athena"))
    ) as with_vocab:
        assert with_vocab.features()["descendants"] is True
