"""Preparing a query on its own (pure): validation paths, the person-concept rule, model
checks, canonical form and bindings per model."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import pytest

from hyperfed.adapters.dicom.bindings import DicomBinding
from hyperfed.adapters.hql.bindings import CodesBinding, SexBinding
from hyperfed.adapters.hql.model import Query
from hyperfed.adapters.registry import register, unregister
from hyperfed.hub.prepare import QueryRejected, prepare
from hyperfed.ontology import Ontology
from tests.adapters.memory import MemoryAdapter

TODAY = dt.date(2024, 6, 30)
SNOMED = "http://snomed.info/sct"


@pytest.fixture(scope="module")
def onto() -> Ontology:
    return Ontology.load()


def problems(document: dict[str, Any], onto: Ontology, models: set[str] | None = None) -> list:
    with pytest.raises(QueryRejected) as caught:
        prepare(document, onto, models or {"omop"}, TODAY)
    return caught.value.problems


def test_every_problem_is_named_in_one_answer(onto: Ontology) -> None:
    found = problems(
        {
            "hql": "1",
            "criteria": {
                "all": [
                    {"concept": "hf:LungCancr"},
                    {"code": {"system": "nosuch", "code": "1"}},
                    {"concept": "hf:CT", "body_site": {"system": "nope", "code": "1"}},
                    {"concept": "hf:Female", "during": {"from": "2020-01-01"}},
                    {"code": {"system": SNOMED, "code": "1"}, "value": {"min": 1, "unit": "x"}},
                ]
            },
        },
        onto,
    )
    paths = [p["path"] for p in found]
    assert paths == [
        "criteria.all[0].concept",
        "criteria.all[1].code.system",
        "criteria.all[2].body_site.system",
        "criteria.all[3]",
        "criteria.all[4].value.unit",
    ]
    assert "hf:LungCancer" in found[0]["suggestions"]
    assert "describes a person" in found[3]["message"]


def test_structure_errors_come_first_with_paths(onto: Ontology) -> None:
    found = problems({"hql": "1", "criteria": {"all": [{"age": {"min": 5, "max": 2}}]}}, onto)
    assert [p["path"] for p in found] == ["criteria.all[0].age"]


def test_canonical_dated_query_and_bindings_per_model(onto: Ontology) -> None:
    p = prepare(
        {"hql": "1", "criteria": {"all": [{"concept": "hf:Female"}, {"concept": "hf:CT"}]}},
        onto,
        {"omop", "dicom"},
        TODAY,
    )
    assert p.query.as_of == TODAY
    female = "https://w3id.org/hyperfed/ontology#Female"  # every spelling becomes the hf: IRI
    ct = "https://w3id.org/hyperfed/ontology#CT"
    assert p.bindings["omop"][female] == SexBinding(sex="female")
    assert p.bindings["dicom"][ct] == DicomBinding(keyword="Modality", values=["CT"])
    assert isinstance(p.bindings["omop"][ct], CodesBinding)
    again = prepare(
        {
            "hql": "1",
            "criteria": {"all": [{"concept": "eucaim:IMG1000042"}, {"concept": "hf:Female"}]},
        },
        onto,
        {"omop", "dicom"},
        TODAY,
    )
    assert again.key == p.key  # another spelling, the same question


@pytest.mark.parametrize(
    "ref",
    ["hf:LungCancer", "eucaim:CLIN1000065", "CLIN1000065", "SNOMEDCT363358000", "snomed:363358000"],
)
def test_every_spelling_of_a_concept_gives_the_same_key(onto: Ontology, ref: str) -> None:
    doc = {"hql": "1", "criteria": {"concept": ref}}
    assert (
        prepare(doc, onto, {"omop"}, TODAY).key
        == prepare(
            {"hql": "1", "criteria": {"concept": "hf:LungCancer"}}, onto, {"omop"}, TODAY
        ).key
    )


class Picky(MemoryAdapter):
    MODEL: ClassVar[str] = "picky"

    @classmethod
    def query_problems(cls, query: Query) -> list[dict[str, Any]]:
        return [{"path": "criteria", "message": "picky refuses everything", "value": None}]


def test_a_model_can_refuse_what_it_cannot_read_before_fan_out(onto: Ontology) -> None:
    register(Picky)
    try:
        found = problems({"hql": "1", "criteria": {"concept": "hf:Person"}}, onto, {"picky"})
        assert found == [{"path": "criteria", "message": "picky refuses everything", "value": None}]
        # models without nodes in the federation are not asked
        prepare({"hql": "1", "criteria": {"concept": "hf:Person"}}, onto, {"omop"}, TODAY)
    finally:
        unregister("picky")


class CodeBlind(MemoryAdapter):
    """A model whose data carry no LOINC codes (as SDTM's test codes): the hub translates."""

    MODEL: ClassVar[str] = "codeblind"
    NATIVE_SYSTEMS = frozenset({SNOMED})


def test_codes_a_model_does_not_read_are_translated_through_the_ontology(onto: Ontology) -> None:
    register(CodeBlind)
    try:
        hb = {"code": {"system": "http://loinc.org", "code": "718-7"}}
        ct = {"code": {"system": SNOMED, "code": "77477000"}}
        unknown = {"code": {"system": "http://loinc.org", "code": "99999-9"}}
        doc = {"hql": "1", "criteria": {"all": [hb, ct, unknown]}}
        p = prepare(doc, onto, {"codeblind", "omop"}, TODAY)
        assert p.bindings["omop"] == {}  # OMOP reads LOINC itself
        # the concept whose binding holds LOINC 718-7 (hf:Hemoglobin), in its binding for the
        # model; SNOMED codes are native to it, the unknown code has no concept
        assert set(p.bindings["codeblind"]) == {"http://loinc.org|718-7"}
        got = p.bindings["codeblind"]["http://loinc.org|718-7"]
        assert got == onto.resolve("hf:Hemoglobin", "codeblind")
    finally:
        unregister("codeblind")
