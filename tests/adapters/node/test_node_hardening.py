"""Hostile and heavy input at a node's `POST /count`, over real HTTP on loopback (the real
Eunomia CDM): strict JSON naming the path, never a 500; large code sets counted right and
fast, on DuckDB and PostgreSQL; the deadline the hub sends is kept."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psycopg
import pytest

from hyperfed.adapters import limits
from hyperfed.adapters.hql.canonical import canonicalize
from hyperfed.adapters.hql.model import Query
from hyperfed.adapters.omop import OmopAdapter
from hyperfed.synth import SynthSpec, write_omop_duckdb
from tests.adapters.omop import pgload
from tests.servers import omop_node_app, serve

SNOMED = "http://snomed.info/sct"
GI = {"code": {"system": SNOMED, "code": "74474003"}}
FAKE = 10**9  # codes from here on are in no vocabulary and no source value
HEMOGLOBIN = {"code": {"system": "http://loinc.org", "code": "718-7"}}


@pytest.fixture(scope="module")
def node(eunomia_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(omop_node_app(eunomia_path, tmp_path_factory.mktemp("node"))) as url:
        yield url


def _post(url: str, body: bytes, ctype: str = "application/json") -> httpx.Response:
    return httpx.post(f"{url}/count", content=body, headers={"content-type": ctype}, timeout=60)


def _problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = json.loads(r.content.decode("utf-8"))
    return body


def _paths(body: dict[str, Any]) -> list[str]:
    return [e["path"] for e in body.get("errors", [])]


def test_a_5000_digit_integer_is_a_400_naming_its_path(node: str) -> None:
    text = '{"query": {"hql": "1", "criteria": {"age": {"min": ' + "1" * 5000 + "}}}}"
    assert _paths(_problem(_post(node, text.encode()), 400)) == ["query.criteria.age.min"]


def test_a_lone_surrogate_is_a_400_that_encodes(node: str) -> None:
    text = '{"query": {"hql": "1", "criteria": {"concept": "\\ud800"}}}'
    assert _paths(_problem(_post(node, text.encode()), 400)) == ["query.criteria.concept"]


@pytest.mark.parametrize("literal", ["NaN", "-Infinity", "1e999"])
def test_non_finite_numbers_are_a_400(node: str, literal: str) -> None:
    text = (
        '{"query": {"hql": "1", "criteria": {"code": {"system": "http://loinc.org", '
        f'"code": "718-7"}}, "value": {{"max": {literal}}}}}}}}}'
    )
    assert _paths(_problem(_post(node, text.encode()), 400)) == ["query.criteria.value.max"]


def test_duplicate_keys_are_a_400(node: str) -> None:
    text = '{"query": {"hql": "1", "criteria": {"concept": "hf:Female"}}, "query": {}}'
    body = _problem(_post(node, text.encode()), 400)
    assert _paths(body) == ["query"] and "given twice" in body["detail"]


def test_booleans_only_as_booleans(node: str) -> None:
    doc = {"query": {"hql": "1", "criteria": {**GI, "descendants": "yes"}}}
    body = _problem(_post(node, json.dumps(doc).encode()), 422)
    assert _paths(body) == ["query.criteria.descendants"]


def test_a_json_content_type_is_required(node: str) -> None:
    doc = {"query": {"hql": "1", "criteria": GI}}
    _problem(_post(node, json.dumps(doc).encode(), "text/plain"), 415)


def test_a_huge_body_is_a_413(node: str) -> None:
    body = b'{"query": "' + b"x" * (limits.MAX_NODE_BODY_BYTES + 1) + b'"}'
    _problem(_post(node, body), 413)


def test_min_minus_1e308_is_refused_not_an_engine_error(node: str) -> None:
    doc = {"query": {"hql": "1", "criteria": {**HEMOGLOBIN, "value": {"min": -1e308}}}}
    body = _problem(_post(node, json.dumps(doc).encode()), 422)
    assert _paths(body) == ["query.criteria.value.min"]


def test_too_many_codes_in_bindings_is_a_422(node: str) -> None:
    codes = [{"system": SNOMED, "code": str(FAKE + i)} for i in range(limits.MAX_CODE_SET + 1)]
    doc = {
        "query": {"hql": "1", "criteria": {"all": [GI, {"concept": "hf:Big"}]}},
        "bindings": {"hf:Big": {"kind": "codes", "codes": codes}},
    }
    body = _problem(_post(node, json.dumps(doc).encode()), 422)
    assert _paths(body) == ["query.criteria.all[1]"]


# -- large code sets ---------------------------------------------------------------------


def _eunomia_snomed(path: Path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "SELECT concept_code FROM concept WHERE vocabulary_id = 'SNOMED' ORDER BY 1"
        ).fetchall()
    return [str(r[0]) for r in rows]


def _big_any(real: list[str], n: int) -> dict[str, Any]:
    codes = real + [str(FAKE + i) for i in range(n - len(real))]
    return {"any": [{"code": {"system": SNOMED, "code": c}} for c in codes]}


_TRUTH = """
WITH roots AS (
    SELECT concept_id FROM concept WHERE vocabulary_id = 'SNOMED' AND concept_code IN ({codes})
), ids AS (
    SELECT descendant_concept_id AS id FROM concept_ancestor
    WHERE ancestor_concept_id IN (SELECT concept_id FROM roots)
    UNION SELECT concept_id FROM roots
)
SELECT COUNT(DISTINCT person_id) FROM (
    SELECT person_id FROM condition_occurrence WHERE condition_concept_id IN (SELECT id FROM ids)
    UNION ALL
    SELECT person_id FROM procedure_occurrence WHERE procedure_concept_id IN (SELECT id FROM ids)
    UNION ALL
    SELECT person_id FROM observation WHERE observation_concept_id IN (SELECT id FROM ids)
    UNION ALL
    SELECT person_id FROM measurement WHERE measurement_concept_id IN (SELECT id FROM ids)
) AS events
"""


def _truth(fetch: Callable[[str], list[tuple[Any, ...]]], real: list[str]) -> int:
    codes = ", ".join("'" + c.replace("'", "''") + "'" for c in real)
    return int(fetch(_TRUTH.format(codes=codes))[0][0])


def _count(adapter: OmopAdapter, criteria: dict[str, Any]) -> int | None:
    q = canonicalize(
        Query.model_validate({"hql": "1", "criteria": criteria, "as_of": "2020-01-01"})
    )
    return adapter.count(q, {}).total


def test_a_5000_code_set_counts_like_hand_written_sql(eunomia_path: Path) -> None:
    real = _eunomia_snomed(eunomia_path)
    assert len(real) > 100
    with duckdb.connect(str(eunomia_path), read_only=True) as con:
        expected = _truth(lambda sql: con.execute(sql).fetchall(), real)
    assert expected > 100
    adapter = OmopAdapter.from_source(f"duckdb://{eunomia_path}")
    try:
        assert _count(adapter, _big_any(real, 5000)) == expected
        # the same set as a concept's bindings
        q = canonicalize(
            Query.model_validate(
                {"hql": "1", "criteria": {"concept": "hf:Big"}, "as_of": "2020-01-01"}
            )
        )
        binding = {"kind": "codes", "codes": [{"system": SNOMED, "code": c} for c in real]}
        from hyperfed.adapters.hql.bindings import CodesBinding

        got = adapter.count(q, {"hf:Big": CodesBinding.model_validate(binding)}).total
        assert got == expected
    finally:
        adapter.close()


def test_paths_of_a_merged_code_set_are_as_written(eunomia_path: Path) -> None:
    adapter = OmopAdapter.from_source(f"duckdb://{eunomia_path}")
    try:
        criteria = _big_any([], 20)
        criteria["any"].insert(3, {"concept": "hf:Nowhere"})
        criteria["any"][12] = {
            "code": {"system": "https://athena.ohdsi.org/search-terms/terms", "code": "x"}
        }
        q = canonicalize(
            Query.model_validate({"hql": "1", "criteria": criteria, "as_of": "2020-01-01"})
        )
        # canonical form sorts the children: find where they went
        kids = q.criteria.any  # type: ignore[union-attr]
        nowhere = next(i for i, k in enumerate(kids) if getattr(k, "concept", None) == "hf:Nowhere")
        bad = next(
            i for i, k in enumerate(kids) if getattr(getattr(k, "code", None), "code", "") == "x"
        )
        result = adapter.count(q, {})
        paths = {u.path for u in result.unsupported}
        assert f"criteria.any[{nowhere}]" in paths
        assert f"criteria.any[{bad}]" in paths
    finally:
        adapter.close()


def test_a_5000_code_query_is_answered_well_within_its_deadline(
    node: str, eunomia_path: Path
) -> None:
    real = _eunomia_snomed(eunomia_path)
    doc = {
        "query": {"hql": "1", "criteria": _big_any(real, 5000), "as_of": "2020-01-01"},
        "deadline_ms": 20_000,
    }
    started = time.monotonic()
    r = _post(node, json.dumps(doc).encode())
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ok", r.json()
    assert time.monotonic() - started < 20


def test_the_node_stops_when_the_deadline_passes(node: str) -> None:
    # 9,000 criteria that cannot be merged (each counts its own occurrences): the compiler
    # must notice the deadline between them and answer "timeout" at once
    kids = [
        {"code": {"system": SNOMED, "code": str(FAKE + i)}, "occurrences": {"min": 2}}
        for i in range(9000)
    ]
    doc = {
        "query": {"hql": "1", "criteria": {"any": kids}, "as_of": "2020-01-01"},
        "deadline_ms": 300,
    }
    started = time.monotonic()
    r = _post(node, json.dumps(doc).encode())
    took = time.monotonic() - started
    assert r.status_code == 200, r.text
    assert r.json()["status"] in ("timeout", "ok"), r.json()
    assert took < 15, took


# -- a value bound at the limit, with unit conversion --------------------------------------


@pytest.fixture(scope="module")
def units_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("units") / "site.duckdb"
    write_omop_duckdb(SynthSpec(persons=1500, seed=11, hemoglobin_g_per_l_share=0.5), path)
    return path


def test_extreme_value_bounds_convert_without_breaking_the_engine(units_site: Path) -> None:
    with duckdb.connect(str(units_site), read_only=True) as con:
        hb = con.execute(
            "SELECT concept_id FROM concept "
            "WHERE vocabulary_id = 'LOINC' AND concept_code = '718-7'"
        ).fetchall()
        units = con.execute(
            "SELECT concept_id FROM concept WHERE vocabulary_id = 'UCUM' "
            "AND concept_code IN ('g/dL', 'g/L')"
        ).fetchall()
        expected = con.execute(
            "SELECT COUNT(DISTINCT person_id) FROM measurement WHERE measurement_concept_id IN "
            f"({', '.join(str(r[0]) for r in hb)}) AND unit_concept_id IN "
            f"({', '.join(str(r[0]) for r in units)}) AND value_as_number IS NOT NULL"
        ).fetchall()[0][0]
    assert expected > 0
    adapter = OmopAdapter.from_source(f"duckdb://{units_site}")
    try:
        for bounds in (
            {"min": -limits.MAX_VALUE, "unit": "g/dL"},
            {"min": -limits.MAX_VALUE, "max": limits.MAX_VALUE, "unit": "g/L"},
        ):
            assert _count(adapter, {**HEMOGLOBIN, "value": bounds}) == expected, bounds
    finally:
        adapter.close()


# -- PostgreSQL ----------------------------------------------------------------------------


@pytest.mark.postgres
def test_large_code_sets_on_postgres(pg_database: Callable[[str], str], eunomia_path: Path) -> None:
    dsn = pg_database("large_sets")
    pgload.load(eunomia_path, dsn, "cdm", upper=False)
    real = _eunomia_snomed(eunomia_path)
    with psycopg.connect(dsn) as con:
        con.execute("SET search_path TO cdm")
        expected = _truth(lambda sql: list(con.execute(sql.encode()).fetchall()), real)
    adapter = OmopAdapter.from_source(dsn, schema="cdm")
    try:
        assert _count(adapter, _big_any(real, 3000)) == expected
    finally:
        adapter.close()
