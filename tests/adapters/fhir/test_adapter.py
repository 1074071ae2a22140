"""The FHIR adapter on the kit: registration, options, bad input at start-up (serve or refuse,
the operator's choice in the node config), what it tells operators, caches, view overrides,
and the fast first-day rule for dates."""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

import duckdb
import pytest
from sqlglot import exp

from hyperfed.adapters.errors import SourceError
from hyperfed.adapters.fhir import FhirAdapter, FhirOptions
from hyperfed.adapters.fhir.dates import date_start_sql, day_sql
from hyperfed.adapters.node import open_node
from hyperfed.adapters.node.config import load_node_config
from hyperfed.adapters.registry import load_adapter_class
from hyperfed.hub.prepare import prepare
from hyperfed.ontology import Ontology
from tests.crossmodel.battery import AS_OF, Question

from .conftest import condition, patient, write_ndjson


def test_registered_by_entry_point() -> None:
    cls = load_adapter_class("fhir")
    assert cls is FhirAdapter
    declared = cls.declared_features()
    assert declared["body_site"] and declared["descendants"] and not declared["attributes"]
    assert cls.cli() is not None
    assert "https://athena.ohdsi.org/search-terms/terms" not in (cls.NATIVE_SYSTEMS or ())


def test_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="fhir option on_error"):
        FhirAdapter.from_source(str(tmp_path), on_error="ignore")
    with pytest.raises(SourceError, match="fhir option colour"):
        FhirAdapter.from_source(str(tmp_path), colour="blue")
    with pytest.raises(SourceError, match="no such file or folder"):
        FhirAdapter.from_source(str(tmp_path / "missing"))


def test_resolve_source(tmp_path: Path) -> None:
    assert FhirAdapter.resolve_source("export", tmp_path) == str(tmp_path / "export")
    assert FhirAdapter.resolve_source("https://fhir.example.org/r4", tmp_path) == (
        "https://fhir.example.org/r4"
    )


def _node_toml(source: Path, on_error: str) -> Path:
    """A node config beside `source` naming it relatively, with the operator's choice."""
    config = source.parent / f"node-{on_error}.toml"
    config.write_text(
        f'[node]\nid = "f"\nmodel = "fhir"\nsource = "{source.name}"\n\n'
        f'[adapter]\non_error = "{on_error}"\n'
    )
    return config


def test_bad_input_served_or_refused_as_configured(
    messy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="hyperfed.adapters.fhir"):
        service = open_node(load_node_config(_node_toml(messy, "serve")))
    try:
        logged = caplog.text
        # the start-up report: file, line or entry, reason
        assert "Patient.ndjson:4: not valid JSON" in logged
        assert (
            "Condition.ndjson.gz:4 Condition/c4: refers to Patient/nobody, which is not loaded"
            in logged
        )
        assert "bundle.json entry[2]" in logged
        notes = " ".join(service.capabilities().notes)
        assert "input problems" in notes and "invalid_json" in notes
        assert "nobody" not in notes and "p1" not in notes  # counts only, no ids
    finally:
        service.adapter.close()
    with pytest.raises(SourceError) as refused:
        open_node(load_node_config(_node_toml(messy, "refuse")))
    text = str(refused.value)
    assert "refusing to serve bad FHIR input" in text and "Patient.ndjson:4" in text


def test_served_data_are_counted(messy: Path) -> None:
    onto = Ontology.load()
    doc = Question("q", {"code": {"system": "http://snomed.info/sct", "code": "44054006"}})
    prepared = prepare(doc.document(), onto, {"fhir"}, AS_OF)
    with contextlib.closing(FhirAdapter.from_source(str(messy))) as a:
        result = a.count(prepared.query, prepared.bindings["fhir"])
    # c1 (p1), c2 (absolute URL to p2), c3 (versioned p2), id-less line 6 (p1), c9 (orphan
    # Bundle, p1); not c4 (missing Patient), c5 (no subject), c6 (a Group)
    assert result.total == 2


def test_cache_and_view_overrides(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    write_ndjson(
        src / "x.ndjson",
        [json.dumps(patient("p1", "female", "1970")), json.dumps(condition("c1", "Patient/p1"))],
    )
    cache = tmp_path / "store.duckdb"
    with contextlib.closing(FhirAdapter.from_source(str(src), cache=str(cache))) as a:
        assert "(from the cache)" not in a.describe()[0]
    with contextlib.closing(FhirAdapter.from_source(str(src), cache=str(cache))) as a:
        assert "(from the cache)" in a.describe()[0]
    # an override without a column the compiler reads: that view is not queried, and said so
    shipped = json.loads(
        (Path(__file__).parents[3] / "adapters/fhir/views/condition.json").read_text()
    )
    shipped["select"][0]["column"] = [
        c for c in shipped["select"][0]["column"] if c["name"] != "onset_date"
    ]
    override = tmp_path / "condition.json"
    override.write_text(json.dumps(shipped))
    with contextlib.closing(FhirAdapter.from_source(str(src), views=[str(override)])) as a:
        assert "view condition lacks column(s) onset_date: it is not queried" in a.describe()
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "condition", "resource": "Condition", "select": [{"column": ')
    with pytest.raises(SourceError, match=r"broken\.json"):
        FhirAdapter.from_source(str(src), views=[str(broken)])


def test_day_sql_agrees_with_date_start_sql() -> None:
    texts = [
        "2019",
        "2019-04",
        "2019-04-05",
        "2019-04-05T23:30:00-05:00",
        "2019-04-05T00:00:00Z",
        "2020-02-29",
        "2019-02-30",
        "not a date",
        "",
        None,
    ]
    col = exp.column("t")
    with duckdb.connect() as con:
        rows = con.execute(
            f"SELECT t, {day_sql(col).sql('duckdb')}, {date_start_sql(col).sql('duckdb')} "
            "FROM (SELECT unnest(?::VARCHAR[]) AS t)",
            [texts],
        ).fetchall()
    for text, fast, slow in rows:
        assert fast == slow, text


def test_sample_node_config() -> None:
    path = Path(__file__).resolve().parents[3] / "deploy" / "config" / "node.fhir.example.toml"
    config = load_node_config(path)
    assert config.node.model == "fhir"
    options = FhirAdapter.options(config.adapter_options())
    assert isinstance(options, FhirOptions)
    assert options.on_error == "serve" and options.vocabulary == "/srv/athena"
