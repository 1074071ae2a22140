"""The published OpenAPI documents of the hub and the node: valid OpenAPI 3.1 (checked by a
real validator), complete (every schema referenced is there, request bodies, error answers
and media types documented), and true — schemathesis sends generated requests, valid and
invalid, to real servers on loopback and checks every answer against the document: no 5xx,
no status code, media type, header or body the document does not describe.

Bounded: a fixed number of examples per operation, derandomised (the same cases every run),
no example database."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hyperfed.hub.app import create_app
from hyperfed.hub.settings import load_settings
from tests.servers import omop_node_app, serve

EXAMPLES = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def servers(
    eunomia_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    base = tmp_path_factory.mktemp("fuzz")
    with serve(omop_node_app(eunomia_path, base)) as node:
        (base / "hub.toml").write_text(
            '[hub]\ndatabase = "sqlite:///hub.db"\ndeadline = 20\n\n'
            f'[[nodes]]\nid = "eunomia"\nurl = "{node}"\nmodel = "omop"\n'
        )
        with serve(create_app(load_settings(base / "hub.toml"))) as hub:
            yield {"hub": hub, "node": node}


def _document(url: str) -> dict[str, Any]:
    r = httpx.get(f"{url}/openapi.json")
    assert r.status_code == 200
    doc: dict[str, Any] = r.json()
    return doc


@pytest.mark.parametrize("service", ["hub", "node"])
def test_the_documents_are_valid_openapi_3_1(servers: dict[str, str], service: str) -> None:
    doc = _document(servers[service])
    assert doc["openapi"].startswith("3.1")
    validate(doc)  # openapi-spec-validator: raises on any violation of the specification
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(doc)))
    assert refs, "the document references no schema at all"
    assert refs <= set(doc["components"]["schemas"]), refs - set(doc["components"]["schemas"])


def test_the_hub_document_describes_what_the_hub_does(servers: dict[str, str]) -> None:
    doc = _document(servers["hub"])
    schemas = doc["components"]["schemas"]
    for name in ("Query", "AgeRange", "EventCriterion", "AllCriterion", "Code", "Problem"):
        assert name in schemas, name
    post = doc["paths"]["/queries"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Query"}
    for status in ("400", "413", "415", "422"):
        assert "application/problem+json" in post["responses"][status]["content"], status
    assert "202" in post["responses"]
    turtle = doc["paths"]["/ontology"]["get"]["responses"]["200"]["content"]
    assert list(turtle) == ["text/turtle"]
    sparql = doc["paths"]["/ontology/sparql"]["post"]
    assert "application/sparql-query" in sparql["requestBody"]["content"]
    assert "404" in doc["paths"]["/queries/{job_id}"]["get"]["responses"]


def test_the_node_document_describes_the_count_request(servers: dict[str, str]) -> None:
    doc = _document(servers["node"])
    post = doc["paths"]["/count"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/CountRequest"}
    for name in ("CountRequest", "Query", "EventCriterion", "NodeCount", "Problem"):
        assert name in doc["components"]["schemas"], name
    for status in ("400", "413", "415", "422"):
        assert "application/problem+json" in post["responses"][status]["content"], status


def _fuzz(url: str, operation: str, mode: GenerationMode) -> None:
    """Generated requests of one operation (`METHOD /path`), checked against the document."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    method, path = operation.split(" ", 1)
    op = schema[path][method]
    failures: list[str] = []

    @FUZZ
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        try:
            case.call_and_validate(checks=CHECKS, timeout=60)
        except AssertionError as exc:  # collect, and let hypothesis go on to other cases
            failures.append(f"{case.method} {case.formatted_path}: {str(exc)[:600]}")
            raise

    run()


HUB_OPERATIONS = [
    "GET /",
    "GET /health",
    "GET /schema/query",
    "POST /queries",
    "GET /queries/{job_id}",
    "GET /audit",
    "GET /nodes",
    "GET /concepts",
    "GET /concepts/{ref}",
    "GET /ontology",
    "GET /api",
    "GET /catalog",
    "GET /catalog/_status",
    "POST /catalog/_refresh",
    "POST /catalog/_refresh/{node}",
    "POST /catalog/_validate",
    "GET /catalog/{node}/dataset/{dataset}/datacite",
]
NODE_OPERATIONS = ["GET /health", "GET /capabilities", "POST /count", "GET /catalog"]
# invalid requests, for the operations that take any input that can be invalid
NEGATIVE = {"POST /queries", "GET /audit", "GET /concepts", "POST /count"}


def _cases(operations: list[str]) -> list[Any]:
    return [
        pytest.param(op, mode, id=f"{op}-{mode.value}")
        for op in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if mode is GenerationMode.POSITIVE or op in NEGATIVE
    ]


def test_every_operation_is_fuzzed(servers: dict[str, str]) -> None:
    for service, listed in (("hub", HUB_OPERATIONS), ("node", NODE_OPERATIONS)):
        doc = _document(servers[service])
        found = {f"{m.upper()} {p}" for p, ops in doc["paths"].items() for m in ops}
        # the SPARQL endpoints are fuzzed by their own tests (the guard lives in the ontology)
        sparql = {"GET /ontology/sparql", "POST /ontology/sparql", "GET /sparql", "POST /sparql"}
        assert found - set(listed) <= sparql, found


@pytest.mark.parametrize(("operation", "mode"), _cases(HUB_OPERATIONS))
def test_the_hub_answers_as_documented(
    servers: dict[str, str], operation: str, mode: GenerationMode
) -> None:
    _fuzz(servers["hub"], operation, mode)


@pytest.mark.parametrize(("operation", "mode"), _cases(NODE_OPERATIONS))
def test_the_node_answers_as_documented(
    servers: dict[str, str], operation: str, mode: GenerationMode
) -> None:
    _fuzz(servers["node"], operation, mode)
