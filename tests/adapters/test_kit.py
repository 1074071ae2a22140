"""The adapter kit itself: the compiler base's gating and rules (the same for every model),
the template, the registry and the open binding kinds. The in-memory test model is used
where a model is needed; nothing here is OMOP's."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from hyperfed.adapters.base import AdapterOptions, OptionPath
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.dicom.bindings import DicomBinding
from hyperfed.adapters.errors import QueryTimeout, SourceError, UnknownAdapter
from hyperfed.adapters.hql.bindings import (
    CodesBinding,
    EveryoneBinding,
    SexBinding,
    Unexpressible,
)
from hyperfed.adapters.hql.model import Code, Query, dated
from hyperfed.adapters.protocol import CountRequest
from hyperfed.adapters.registry import (
    adapter_classes,
    binding_kinds,
    load_adapter_class,
    register,
    unregister,
)
from tests.adapters.memory import MemoryAdapter

SNOMED = "http://snomed.info/sct"
GI = {"code": {"system": SNOMED, "code": "74474003"}}
AS_OF = dt.date(2024, 6, 30)
PATIENTS = [
    {"id": 1, "sex": "female", "birth": (1950, 3, 1), "events": []},
    {"id": 2, "sex": "male", "birth": (2000, None, None), "events": []},
]


def query(criteria: dict[str, Any], **extra: Any) -> Query:
    """As written (no canonical reordering), so paths below are the ones written here."""
    return dated(Query.model_validate({"hql": "1", "criteria": criteria, **extra}), AS_OF)


class Narrow(MemoryAdapter):
    """A model that declares fewer features: no values, no windows, no strata."""

    MODEL: ClassVar[str] = "narrow"
    SUPPORTS_VALUES = False
    SUPPORTS_RELATIVE_WINDOWS = False
    SUPPORTS_STRATIFY = False
    SUPPORTS_DESCENDANTS = False


def unsupported(adapter: MemoryAdapter, q: Query, bindings: dict[str, Any] | None = None) -> dict:
    result = adapter.count(q, bindings or {})
    assert result.total is None
    return {u.path: u.reason for u in result.unsupported}


@pytest.mark.parametrize(
    ("criteria", "path"),
    [
        ({**GI, "value": {"min": 1}}, "criteria.value"),
        ({"all": [GI, {**GI, "within": {"of": GI}}]}, "criteria.all[1].within"),
        ({**GI, "body_site": {"system": SNOMED, "code": "39607008"}}, "criteria.body_site"),
        ({**GI, "attributes": {"Manufacturer": "SIEMENS"}}, "criteria.attributes"),
        ({"not": {**GI, "within": {"of": {**GI, "value": {"max": 3}}}}}, "criteria.not.within"),
    ],
)
def test_a_filter_the_model_does_not_declare_is_unsupported_at_its_path(
    criteria: dict[str, Any], path: str
) -> None:
    found = unsupported(Narrow(PATIENTS), query(criteria))
    assert path in found, found
    assert "narrow" in found[path] or "memory" in found[path]


def test_gating_follows_the_declared_constants_not_the_model_name() -> None:
    # the full in-memory model declares values: the same query counts
    result = MemoryAdapter(PATIENTS).count(query({**GI, "value": {"min": 1}}), {})
    assert result.total == 0 and not result.unsupported
    assert Narrow(PATIENTS).features()["values"] is False
    assert MemoryAdapter(PATIENTS).features()["values"] is True


def test_stratify_needs_its_feature() -> None:
    q = query(GI, stratify={"by": ["sex"]})
    assert list(unsupported(Narrow(PATIENTS), q)) == ["stratify"]


def test_without_a_hierarchy_descendants_are_noted_never_silently_dropped() -> None:
    result = Narrow(PATIENTS).count(query(GI), {})
    assert result.total == 0
    assert any("descendants" in n and "74474003" in n for n in result.notes), result.notes
    assert not MemoryAdapter(PATIENTS).count(query(GI), {}).notes


@pytest.mark.parametrize(
    "criteria",
    [
        {"concept": "hf:Female", "during": {"from": "2020-01-01"}},
        {"concept": "hf:Person", "occurrences": {"min": 2}},
    ],
)
def test_person_concepts_take_no_event_filters(criteria: dict[str, Any]) -> None:
    bindings = {"hf:Female": SexBinding(sex="female"), "hf:Person": EveryoneBinding()}
    found = unsupported(MemoryAdapter(PATIENTS), query(criteria), bindings)
    assert "describes a person, not an event" in found["criteria"]


def test_anchors_are_events_without_windows_of_their_own() -> None:
    bindings = {"hf:Female": SexBinding(sex="female")}
    person_anchor = query({**GI, "within": {"of": {"concept": "hf:Female"}}})
    found = unsupported(MemoryAdapter(PATIENTS), person_anchor, bindings)
    assert "cannot anchor" in found["criteria.within.of"]
    nested = query({**GI, "within": {"of": {**GI, "occurrences": {"min": 2}}}})
    found = unsupported(MemoryAdapter(PATIENTS), nested)
    assert found == {
        "criteria.within.of": "an anchor takes no 'occurrences' or 'within' of its own"
    }


def test_bindings_a_model_does_not_read_are_unsupported_with_the_reason() -> None:
    bindings = {
        "hf:CT": DicomBinding(keyword="Modality", values=["CT"]),
        "hf:Lung": Unexpressible(reason="body parts are DICOM-only"),
    }
    q = query({"any": [{"concept": "hf:CT"}, {"concept": "hf:Lung"}, {"concept": "hf:Gone"}]})
    found = unsupported(MemoryAdapter(PATIENTS), q, bindings)
    assert "bound to dicom data" in found["criteria.any[0]"]
    assert found["criteria.any[1]"] == "body parts are DICOM-only"
    assert "not resolved" in found["criteria.any[2]"]


def test_everyone_and_sex_through_the_base() -> None:
    bindings = {"hf:Person": EveryoneBinding(), "hf:Male": SexBinding(sex="male")}
    adapter = MemoryAdapter(PATIENTS)
    assert adapter.count(query({"concept": "hf:Person"}), bindings).total == 2
    assert adapter.count(query({"not": {"concept": "hf:Male"}}), bindings).total == 1
    assert adapter.count(query({"age": {"min": 70, "max": 74}}), {}).total == 1


def test_compilers_stop_when_the_deadline_has_passed() -> None:
    passed = Deadline(time.monotonic() - 1, 0.5)
    with pytest.raises(QueryTimeout, match=r"0\.5 s deadline"):
        MemoryAdapter(PATIENTS).count(query({"all": [GI, GI]}), {}, passed)
    assert isinstance(QueryTimeout("x"), TimeoutError)


def test_the_tighter_limit_wins() -> None:
    d = Deadline.within(30.0, 0.2, None)
    assert d is not None and d.budget == 0.2 and 0 < d.remaining() <= 0.2
    assert Deadline.within(None, None) is None


def test_explain_shows_notes_then_the_native_query_or_the_unsupported_criteria() -> None:
    text = Narrow(PATIENTS).explain(query(GI), {})
    assert text.splitlines()[0].startswith("-- criteria: this node has no terminology hierarchy")
    assert text.splitlines()[-1] == "python predicate over patients"
    text = Narrow(PATIENTS).explain(query({**GI, "value": {"min": 1}}), {})
    assert "-- unsupported criteria.value:" in text
    assert "python predicate" not in text


def test_the_registry_finds_models_by_entry_point_and_lists_the_valid_names() -> None:
    assert "omop" in adapter_classes()
    assert load_adapter_class("omop").MODEL == "omop"
    with pytest.raises(UnknownAdapter) as caught:
        load_adapter_class("openehr")
    valid = str(caught.value).split("valid models: ")[1].split(", ")
    assert "omop" in valid and set(valid) == set(adapter_classes())
    register(MemoryAdapter)
    try:
        assert load_adapter_class("memory") is MemoryAdapter
        with pytest.raises(UnknownAdapter) as unknown:
            load_adapter_class("x")
        assert "memory" in str(unknown.value)
    finally:
        unregister("memory")
    assert "memory" not in adapter_classes()


def test_binding_kinds_are_open_and_validated_on_the_wire() -> None:
    assert {"everyone", "sex", "codes", "unexpressible"} <= set(binding_kinds())
    ok = CountRequest.model_validate(
        {
            "query": {"hql": "1", "criteria": {"concept": "hf:CT"}},
            "bindings": {"hf:CT": {"kind": "dicom", "keyword": "Modality", "values": ["CT"]}},
        }
    )
    assert ok.bindings["hf:CT"] == DicomBinding(keyword="Modality", values=["CT"])
    assert '"keyword":"Modality"' in ok.model_dump_json()  # serialised as its own kind
    with pytest.raises(ValidationError) as caught:
        CountRequest.model_validate(
            {"query": {"hql": "1", "criteria": GI}, "bindings": {"x": {"kind": "telepathy"}}}
        )
    assert "unknown binding kind 'telepathy'" in str(caught.value)
    codes = CodesBinding(codes=[Code(system=SNOMED, code="1")])
    assert codes.merge([CodesBinding(codes=[Code(system=SNOMED, code="0")])]).codes[0].code == "0"


def test_options_are_validated_naming_the_option() -> None:
    omop = load_adapter_class("omop")
    with pytest.raises(SourceError, match="omop option shema"):
        omop.from_source("duckdb:///nowhere.duckdb", shema="cdm")


def test_option_paths_are_relative_to_the_config(tmp_path: Path) -> None:
    class Opts(AdapterOptions):
        cache: OptionPath | None = None
        mapping: OptionPath | None = None
        label: str | None = None

    got = Opts.resolve_paths({"cache": "site.duckdb", "mapping": "idc", "label": "a/b.c"}, tmp_path)
    assert got == {"cache": str(tmp_path / "site.duckdb"), "mapping": "idc", "label": "a/b.c"}
    assert Opts.resolve_paths({"cache": "/abs/x.db"}, tmp_path) == {"cache": "/abs/x.db"}


def test_flat_code_systems_get_no_descendants_note() -> None:
    class FlatNarrow(Narrow):
        pass

    q = query({"code": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"}})
    notes = Narrow(PATIENTS).count(q, {}).notes
    assert any("descendants" in n for n in notes)
    from tests.adapters.memory import _Compiler

    original = _Compiler.FLAT_SYSTEMS
    _Compiler.FLAT_SYSTEMS = frozenset({"http://dicom.nema.org/resources/ontology/DCM"})
    try:
        assert not FlatNarrow(PATIENTS).count(q, {}).notes
    finally:
        _Compiler.FLAT_SYSTEMS = original
