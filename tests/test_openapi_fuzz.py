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
from joserfc.jwk import OKPKey
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hyperfed.adapters.node.trust import node_assertion, public_jwk
from hyperfed.hub.app import create_app
from hyperfed.hub.auth import Principal
from hyperfed.hub.auth.rules import HUB_RULES
from hyperfed.hub.registry import Registration
from hyperfed.hub.settings import load_settings
from tests.identity import bearer
from tests.servers import omop_node_app, serve

EXAMPLES = 30
ROLES = ("researcher", "operator", "admin")
AUDIENCE = "hyperfed-hub"  # the hub's default [identity] audience
PULL_NODE = "fuzz-pull"  # a pull node registered with the hub: the pull routes' caller
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
) -> Iterator[dict[str, Any]]:
    """The hub's and the node's URLs, and `Authorization` headers of the hub's accounts by
    role."""
    base = tmp_path_factory.mktemp("fuzz")
    with serve(omop_node_app(eunomia_path, base)) as node:
        (base / "hub.toml").write_text(
            '[hub]\ndatabase = "sqlite:///hub.db"\ndeadline = 20\n\n'
            f'[[nodes]]\nid = "eunomia"\nurl = "{node}"\nmodel = "omop"\n'
        )
        app = create_app(load_settings(base / "hub.toml"))
        node_key = OKPKey.generate_key("Ed25519")
        app.state.hub.registry.register(
            Principal(id="setup", roles=frozenset({"admin"})),
            Registration(id=PULL_NODE, mode="pull", public_key=public_jwk(node_key)),
        )
        with serve(app) as hub:
            store = app.state.hub.store
            tokens = {role: bearer(hub, store, f"fuzz-{role}", [role]) for role in ROLES}
            yield {"hub": hub, "node": node, "tokens": tokens, "node_key": node_key}


def _document(url: str) -> dict[str, Any]:
    r = httpx.get(f"{url}/openapi.json")
    assert r.status_code == 200
    doc: dict[str, Any] = r.json()
    return doc


@pytest.mark.parametrize("service", ["hub", "node"])
def test_the_documents_are_valid_openapi_3_1(servers: dict[str, Any], service: str) -> None:
    doc = _document(servers[service])
    assert doc["openapi"].startswith("3.1")
    validate(doc)  # openapi-spec-validator: raises on any violation of the specification
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(doc)))
    assert refs, "the document references no schema at all"
    assert refs <= set(doc["components"]["schemas"]), refs - set(doc["components"]["schemas"])


def test_the_hub_document_describes_what_the_hub_does(servers: dict[str, Any]) -> None:
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


def test_the_node_document_describes_the_count_request(servers: dict[str, Any]) -> None:
    doc = _document(servers["node"])
    post = doc["paths"]["/count"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/CountRequest"}
    for name in ("CountRequest", "Query", "EventCriterion", "NodeCount", "Problem"):
        assert name in doc["components"]["schemas"], name
    for status in ("400", "413", "415", "422"):
        assert "application/problem+json" in post["responses"][status]["content"], status


def _fuzz(
    url: str,
    operation: str,
    mode: GenerationMode,
    headers: dict[str, str] | None = None,
    node_key: OKPKey | None = None,
) -> None:
    """Generated requests of one operation (`METHOD /path`), sent with `headers`, checked
    against the document. With `node_key`: as the pull node, a fresh assertion each call
    (each works once), on its own path, long polls cut to 0.2 s (30 s each otherwise)."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    method, path = operation.split(" ", 1)
    op = schema[path][method]
    failures: list[str] = []

    @FUZZ
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        sent = headers
        if node_key is not None:
            sent = {"Authorization": f"Bearer {node_assertion(node_key, PULL_NODE, AUDIENCE)}"}
            if mode is GenerationMode.POSITIVE:
                case.path_parameters = {**(case.path_parameters or {}), "node_id": PULL_NODE}
                if isinstance(case.query, dict) and isinstance(case.query.get("wait"), int | float):
                    case.query["wait"] = min(case.query["wait"], 0.2)
                elif "tasks" in path:
                    case.query = {**(case.query or {}), "wait": 0.2}
        try:
            case.call_and_validate(checks=CHECKS, headers=sent, timeout=60)
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
    "GET /audit/verify",
    "GET /audit/export",
    "GET /me",
    "GET /me/queries",
    "GET /me/budget",
    "GET /registry/nodes",
    "POST /registry/nodes",
    "GET /registry/nodes/{node_id}",
    "DELETE /registry/nodes/{node_id}",
    "POST /registry/nodes/{node_id}/handshake",
    "POST /registry/nodes/{node_id}/approve",
    "POST /registry/nodes/{node_id}/suspend",
    "POST /registry/nodes/{node_id}/resume",
    "POST /registry/nodes/{node_id}/rekey",
    "GET /admin/principals/{subject}",
    "PUT /admin/principals/{subject}",
    "POST /admin/keys/rotate",
    "GET /.well-known/oauth-authorization-server",
    "GET /.well-known/openid-configuration",
    "GET /oauth/jwks",
    "POST /oauth/token",
    "GET /oauth/authorize",
    "POST /oauth/authorize",
    "GET /pull/{node_id}/tasks",
    "POST /pull/{node_id}/results/{task_id}",
]
NODE_OPERATIONS = ["GET /health", "GET /capabilities", "POST /count", "GET /catalog"]
# invalid requests, for the operations that take any input that can be invalid
NEGATIVE = {"POST /queries", "GET /audit", "GET /concepts", "POST /count"}


def _role(operation: str) -> str | None:
    """The role the fuzzer signs in with for `operation` (None: anonymous), by the rule
    table: a public route is fuzzed anonymously, any other with a role it allows."""
    method, path = operation.split(" ", 1)
    rules = {(m, p.replace(":path}", "}")): roles for (m, p), roles in HUB_RULES.items()}
    allowed = rules[(method, path)]
    if "anonymous" in allowed:
        return None
    return next(role for role in ROLES if role in allowed)


def _cases(operations: list[str]) -> list[Any]:
    return [
        pytest.param(op, mode, id=f"{op}-{mode.value}")
        for op in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if mode is GenerationMode.POSITIVE or op in NEGATIVE
    ]


def test_every_operation_is_fuzzed(servers: dict[str, Any]) -> None:
    for service, listed in (("hub", HUB_OPERATIONS), ("node", NODE_OPERATIONS)):
        doc = _document(servers[service])
        found = {f"{m.upper()} {p}" for p, ops in doc["paths"].items() for m in ops}
        # the SPARQL endpoints are fuzzed by their own tests (the guard lives in the ontology)
        sparql = {"GET /ontology/sparql", "POST /ontology/sparql", "GET /sparql", "POST /sparql"}
        assert found - set(listed) <= sparql, found


@pytest.mark.parametrize(("operation", "mode"), _cases(HUB_OPERATIONS))
def test_the_hub_answers_as_documented(
    servers: dict[str, Any], operation: str, mode: GenerationMode
) -> None:
    if operation.startswith(("GET /pull/", "POST /pull/")):
        _fuzz(servers["hub"], operation, mode, node_key=servers["node_key"])
        return
    role = _role(operation)
    _fuzz(servers["hub"], operation, mode, servers["tokens"][role] if role else None)


@pytest.mark.parametrize(("operation", "mode"), _cases(NODE_OPERATIONS))
def test_the_node_answers_as_documented(
    servers: dict[str, Any], operation: str, mode: GenerationMode
) -> None:
    _fuzz(servers["node"], operation, mode)
