"""HQL v1: the public query contract — parsing, errors with JSON paths, canonical form."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from hyperfed.adapters.hql.canonical import canonical_json, canonicalize, query_key
from hyperfed.adapters.hql.errors import validation_problems
from hyperfed.adapters.hql.model import (
    AgeCriterion,
    AllCriterion,
    AnyCriterion,
    EventCriterion,
    NotCriterion,
    Query,
)
from hyperfed.adapters.hql.systems import UnknownSystem, canonical_system

ISSUE_EXAMPLE_1 = {
    "hql": "1",
    "criteria": {
        "all": [
            {"code": {"system": "http://snomed.info/sct", "code": "74474003"}},
            {"any": [{"concept": "hf:Female"}, {"age": {"min": 60}}]},
            {
                "not": {
                    "code": {
                        "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                        "code": "1191",
                    }
                }
            },
        ]
    },
}

ISSUE_EXAMPLE_2 = {
    "hql": "1",
    "criteria": {
        "all": [
            {
                "code": {"system": "http://loinc.org", "code": "718-7"},
                "value": {"max": 13, "unit": "g/dL"},
            },
            {
                "code": {"system": "http://snomed.info/sct", "code": "444814009"},
                "during": {"from": "2015-01-01", "to": "2019-12-31"},
            },
            {"concept": "hf:Male"},
            {"age": {"min": 18}},
        ]
    },
}


def test_issue_examples_parse_into_the_expected_tree() -> None:
    q = Query.model_validate(ISSUE_EXAMPLE_1)
    assert isinstance(q.criteria, AllCriterion)
    first, second, third = q.criteria.all
    assert isinstance(first, EventCriterion) and first.code is not None
    assert first.code.code == "74474003" and first.descendants is True
    assert isinstance(second, AnyCriterion)
    assert isinstance(second.any[0], EventCriterion) and second.any[0].concept == "hf:Female"
    assert isinstance(second.any[1], AgeCriterion) and second.any[1].age.min == 60
    assert isinstance(third, NotCriterion)

    q2 = Query.model_validate(ISSUE_EXAMPLE_2)
    assert isinstance(q2.criteria, AllCriterion)
    hb, sinusitis, male, adult = q2.criteria.all
    assert isinstance(hb, EventCriterion) and hb.value is not None
    assert hb.value.max == 13 and hb.value.unit == "g/dL" and hb.value.min is None
    assert isinstance(sinusitis, EventCriterion) and sinusitis.during is not None
    assert sinusitis.during.from_ == dt.date(2015, 1, 1)
    assert sinusitis.during.to == dt.date(2019, 12, 31)
    assert isinstance(male, EventCriterion) and male.concept == "hf:Male"
    assert isinstance(adult, AgeCriterion) and adult.age.min == 18


def test_query_round_trips_through_json_with_public_field_names() -> None:
    q = Query.model_validate(ISSUE_EXAMPLE_2)
    dumped = q.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
    assert dumped["criteria"]["all"][1]["during"] == {"from": "2015-01-01", "to": "2019-12-31"}
    assert Query.model_validate(dumped) == q


@pytest.mark.parametrize(
    ("document", "path", "fragment"),
    [
        ({"hql": "1", "criteria": {"all": [{"foo": 1}]}}, "criteria.all[0]", "one of the keys"),
        ({"hql": "1", "criteria": {"age": {"min": 70, "max": 60}}}, "criteria.age", "greater than"),
        (
            {
                "hql": "1",
                "criteria": {"all": [{"concept": "x"}, {"concept": "y", "value": {"min": "high"}}]},
            },
            "criteria.all[1].value.min",
            "valid number",
        ),
        ({"hql": "2", "criteria": {"concept": "x"}}, "hql", "'1'"),
        (
            {"hql": "1", "criteria": {"concept": "x", "code": {"system": "s", "code": "c"}}},
            "criteria",
            "exactly one",
        ),
        (
            {"hql": "1", "criteria": {"code": {"system": "http://loinc.org"}}},
            "criteria.code.code",
            "required",
        ),
        ({"hql": "1", "criteria": {"all": []}}, "criteria.all", "at least 1"),
        (
            {
                "hql": "1",
                "criteria": {"concept": "x", "during": {"from": "2020-02-01", "to": "2020-01-01"}},
            },
            "criteria.during",
            "after",
        ),
        ({"hql": "1", "criteria": {"concept": "x"}, "extra": 1}, "extra", "not permitted"),
    ],
)
def test_invalid_queries_name_the_json_path(document: dict, path: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        Query.model_validate(document)
    problems = validation_problems(info.value, document)
    assert any(p["path"] == path and fragment in p["message"] for p in problems), problems


def test_canonical_form_identifies_equivalent_spellings() -> None:
    a = Query.model_validate(ISSUE_EXAMPLE_1)
    b = Query.model_validate(
        {
            "hql": "1",
            "criteria": {
                "all": [
                    {"not": {"not": {"not": {"code": {"system": "RxNorm", "code": "1191"}}}}},
                    {
                        "all": [
                            {"code": {"system": "SNOMED", "code": "74474003"}, "descendants": True}
                        ]
                    },
                    {"any": [{"age": {"min": 60}}, {"concept": "hf:Female"}, {"age": {"min": 60}}]},
                ]
            },
        }
    )
    assert canonical_json(canonicalize(a)) == canonical_json(canonicalize(b))
    assert query_key(canonicalize(a)) == query_key(canonicalize(b))


def test_canonical_form_keeps_different_questions_apart() -> None:
    a = canonicalize(Query.model_validate(ISSUE_EXAMPLE_1))
    changed = dict(ISSUE_EXAMPLE_1)
    changed["criteria"] = {"all": [*ISSUE_EXAMPLE_1["criteria"]["all"][:2]]}  # type: ignore[index]
    b = canonicalize(Query.model_validate(changed))
    assert query_key(a) != query_key(b)
    no_desc = {
        "hql": "1",
        "criteria": {
            "code": {"system": "http://snomed.info/sct", "code": "74474003"},
            "descendants": False,
        },
    }
    with_desc = {
        "hql": "1",
        "criteria": {"code": {"system": "http://snomed.info/sct", "code": "74474003"}},
    }
    assert query_key(canonicalize(Query.model_validate(no_desc))) != query_key(
        canonicalize(Query.model_validate(with_desc))
    )


def test_canonical_form_expands_concepts_with_the_given_function() -> None:
    q = Query.model_validate({"hql": "1", "criteria": {"concept": "hf:Female"}})
    c = canonicalize(q, lambda ref: "https://example.org/" + ref.split(":")[1])
    assert isinstance(c.criteria, EventCriterion)
    assert c.criteria.concept == "https://example.org/Female"


def test_code_systems_accept_aliases_and_reject_unknown_ones() -> None:
    assert canonical_system("SNOMED").uri == "http://snomed.info/sct"
    assert canonical_system("http://loinc.org/").uri == "http://loinc.org"
    with pytest.raises(UnknownSystem, match="not-a-system"):
        canonical_system("not-a-system")


def test_json_schema_names_the_public_fields() -> None:
    schema = Query.model_json_schema(by_alias=True)
    text = str(schema)
    for field in (
        "criteria",
        "stratify",
        "as_of",
        "descendants",
        "occurrences",
        "within",
        "days_before",
        "'from'",
        "unit",
    ):
        assert field in text, field
