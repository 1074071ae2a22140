"""Hostile input at the hub's API, over real HTTP on loopback (a real Eunomia node behind it):
every refusal is a 4xx problem+json that names the JSON path or the header, never a 500,
and its body always encodes. Each case gave a 500, a silent acceptance or an unbounded read
before the hardening (issue 6)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from hyperfed.adapters import limits
from hyperfed.hub.app import create_app
from hyperfed.hub.settings import load_settings
from tests.identity import bearer
from tests.servers import omop_node_app, serve

GI = {"code": {"system": "http://snomed.info/sct", "code": "74474003"}}


@pytest.fixture(scope="module")
def federation(
    eunomia_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str]]]:
    """The hub's URL and a researcher's `Authorization` headers."""
    base = tmp_path_factory.mktemp("hardening")
    with serve(omop_node_app(eunomia_path, base)) as node:
        (base / "hub.toml").write_text(
            '[hub]\ndatabase = "sqlite:///hub.db"\ndeadline = 20\n\n'
            f'[[nodes]]\nid = "eunomia"\nurl = "{node}"\nmodel = "omop"\n'
        )
        app = create_app(load_settings(base / "hub.toml"))
        with serve(app) as url:
            yield url, bearer(url, app.state.hub.store, "hardening-researcher", ["researcher"])


@pytest.fixture(scope="module")
def hub(federation: tuple[str, dict[str, str]]) -> str:
    return federation[0]


@pytest.fixture(scope="module")
def auth(federation: tuple[str, dict[str, str]]) -> dict[str, str]:
    """A researcher's `Authorization` headers (POST /queries needs them)."""
    return federation[1]


def _raw(
    url: str, auth: dict[str, str], body: bytes, content_type: str = "application/json"
) -> httpx.Response:
    return httpx.post(
        f"{url}/queries", content=body, headers={**auth, "content-type": content_type}, timeout=30
    )


def _problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = json.loads(r.content.decode("utf-8"))  # it encodes, strictly
    assert body["status"] == status
    return body


def _paths(body: dict[str, Any]) -> list[str]:
    return [e["path"] for e in body.get("errors", [])]


def _doc(criteria: Any) -> dict[str, Any]:
    return {"hql": "1", "as_of": "2020-01-01", "criteria": criteria}


def test_a_valid_query_still_runs(hub: str, auth: dict[str, str]) -> None:
    r = httpx.post(f"{hub}/queries", json=_doc(GI), headers=auth, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["nodes"][0]["status"] == "ok"


@pytest.mark.parametrize(
    ("literal", "shown"), [("NaN", "NaN"), ("Infinity", "Infinity"), ("1e400", "1e400")]
)
def test_non_finite_numbers_are_refused_with_their_path(
    hub: str, auth: dict[str, str], literal: str, shown: str
) -> None:
    text = (
        '{"hql": "1", "criteria": {"code": {"system": "http://loinc.org", "code": "718-7"}, '
        f'"value": {{"min": {literal}, "unit": "g/dL"}}}}}}'
    )
    body = _problem(_raw(hub, auth, text.encode()), 400)
    assert _paths(body) == ["criteria.value.min"]
    assert shown in body["detail"]


def test_a_5000_digit_integer_is_a_4xx_naming_its_path(hub: str, auth: dict[str, str]) -> None:
    text = '{"hql": "1", "criteria": {"age": {"min": ' + "9" * 5000 + "}}}"
    body = _problem(_raw(hub, auth, text.encode()), 400)
    assert _paths(body) == ["criteria.age.min"]
    assert "5,000 digits" in body["detail"]


def test_integers_beyond_2_53_are_refused(hub: str, auth: dict[str, str]) -> None:
    text = '{"hql": "1", "criteria": {"age": {"min": 9007199254740993}}}'
    body = _problem(_raw(hub, auth, text.encode()), 400)
    assert _paths(body) == ["criteria.age.min"]


def test_a_lone_surrogate_is_refused_and_the_answer_encodes(hub: str, auth: dict[str, str]) -> None:
    text = '{"hql": "1", "criteria": {"concept": "hf:Lung\\ud800"}}'
    body = _problem(_raw(hub, auth, text.encode()), 400)
    assert _paths(body) == ["criteria.concept"]
    assert "surrogate" in body["detail"]


def test_a_lone_surrogate_in_a_key_is_refused(hub: str, auth: dict[str, str]) -> None:
    text = '{"hql": "1", "criteria": {"concept": "hf:Female", "\\udc00x": 1}}'
    body = _problem(_raw(hub, auth, text.encode()), 400)
    assert "surrogate" in body["detail"]


@pytest.mark.parametrize("value", ['"yes"', "0", "1", '"true"', "null"])
def test_booleans_only_as_booleans(hub: str, auth: dict[str, str], value: str) -> None:
    text = '{"hql": "1", "criteria": {"code": {"system": "http://snomed.info/sct", '
    text += f'"code": "74474003"}}, "descendants": {value}}}}}'
    body = _problem(_raw(hub, auth, text.encode()), 422)
    assert "criteria.descendants" in _paths(body)


@pytest.mark.parametrize("value", ['"60"', "true", "60.5"])
def test_integers_only_as_integers(hub: str, auth: dict[str, str], value: str) -> None:
    body = _problem(
        _raw(hub, auth, f'{{"hql": "1", "criteria": {{"age": {{"min": {value}}}}}}}'.encode()), 422
    )
    assert _paths(body) == ["criteria.age.min"]


def test_duplicate_keys_are_refused_naming_key_and_path(hub: str, auth: dict[str, str]) -> None:
    text = (
        '{"hql": "1", "criteria": {"all": [{"concept": "hf:Female"}, '
        '{"code": {"system": "http://snomed.info/sct", "code": "1", "code": "74474003"}}]}}'
    )
    body = _problem(_raw(hub, auth, text.encode()), 400)
    assert _paths(body) == ["criteria.all[1].code.code"]
    assert "'code' is given twice" in body["detail"]


def test_a_huge_value_bound_is_refused_before_any_node_sees_it(
    hub: str, auth: dict[str, str]
) -> None:
    doc = _doc(
        {
            "code": {"system": "http://loinc.org", "code": "718-7"},
            "value": {"min": -1e308, "unit": "g/dL"},
        }
    )
    body = _problem(httpx.post(f"{hub}/queries", json=doc, headers=auth, timeout=30), 422)
    assert _paths(body) == ["criteria.value.min"]


def test_deep_nesting_is_refused(hub: str, auth: dict[str, str]) -> None:
    criteria: dict[str, Any] = {"concept": "hf:Female"}
    for _ in range(limits.MAX_JSON_DEPTH):
        criteria = {"not": criteria}
    body = _problem(_raw(hub, auth, json.dumps(_doc(criteria)).encode()), 400)
    assert "nested too deeply" in body["detail"]
    assert body["errors"][0]["path"].startswith("criteria.not.not")


def test_very_deep_nesting_is_a_400_not_a_500(hub: str, auth: dict[str, str]) -> None:
    body = _problem(_raw(hub, auth, b"[" * 200_000 + b"]" * 200_000), 400)
    assert "nested too deeply" in body["detail"]


def test_long_strings_are_refused(hub: str, auth: dict[str, str]) -> None:
    body = _problem(
        httpx.post(f"{hub}/queries", json=_doc({"concept": "x" * 5000}), headers=auth, timeout=30),
        400,
    )
    assert _paths(body) == ["criteria.concept"]
    body = _problem(
        httpx.post(f"{hub}/queries", json=_doc({"concept": "x" * 600}), headers=auth, timeout=30),
        422,
    )
    assert _paths(body) == ["criteria.concept"]


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", None])
def test_json_routes_want_json(hub: str, auth: dict[str, str], ctype: str | None) -> None:
    headers = {**auth, "content-type": ctype} if ctype else dict(auth)
    r = httpx.post(f"{hub}/queries", content=json.dumps(_doc(GI)).encode(), headers=headers)
    body = _problem(r, 415)
    assert body["header"] == "content-type"


def test_json_with_charset_and_problem_json_types_are_fine(hub: str, auth: dict[str, str]) -> None:
    r = _raw(hub, auth, json.dumps(_doc(GI)).encode(), "application/json; charset=utf-8")
    assert r.status_code == 200, r.text


def test_a_query_without_a_token_is_refused(hub: str) -> None:
    body = _problem(httpx.post(f"{hub}/queries", json=_doc(GI), timeout=30), 401)
    assert "sign in first" in body["detail"]


def test_an_8000_character_prefer_is_refused_naming_the_header(
    hub: str, auth: dict[str, str]
) -> None:
    r = httpx.post(
        f"{hub}/queries", json=_doc(GI), headers={**auth, "Prefer": "r" * 8000}, timeout=30
    )
    body = _problem(r, 431)
    assert body["header"] == "prefer"
    assert "256" in body["detail"]
    ok = httpx.post(
        f"{hub}/queries", json=_doc(GI), headers={**auth, "Prefer": "r" * 256}, timeout=30
    )
    assert ok.status_code == 200, ok.text


def test_an_authorization_past_4096_characters_is_refused_naming_the_header(hub: str) -> None:
    token = "Bearer " + "t" * (limits.MAX_HEADER_CHARS["authorization"] - len("Bearer "))
    r = httpx.post(
        f"{hub}/queries", json=_doc(GI), headers={"Authorization": token + "t"}, timeout=30
    )
    body = _problem(r, 431)
    assert body["header"] == "authorization"
    assert "4,096" in body["detail"]
    # at the limit the header is read, and the (forged) token refused as a token
    r = httpx.post(f"{hub}/queries", json=_doc(GI), headers={"Authorization": token}, timeout=30)
    _problem(r, 401)


def test_oversized_headers_are_refused(hub: str) -> None:
    r = httpx.get(f"{hub}/health", headers={"X-Padding": "p" * (limits.MAX_HEADER_BYTES + 1)})
    assert _problem(r, 431)["header"] == "x-padding"


def _send_raw(url: str, data: bytes, read_timeout: float = 10) -> bytes:
    parsed = urlparse(url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=read_timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b'"status":413' in b"".join(chunks):
                break
        return b"".join(chunks)


def test_a_huge_declared_body_is_refused_before_it_is_read(hub: str, auth: dict[str, str]) -> None:
    # 50 MB announced, 10 bytes sent: the hub must answer 413 without waiting for the rest
    head = (
        "POST /queries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: {auth['Authorization']}\r\n"
        f"Content-Length: {50 * 1024 * 1024}\r\n\r\n"
    ).encode()
    started = time.monotonic()
    answer = _send_raw(hub, head + b'{"hql": "1')
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"application/problem+json" in answer
    assert time.monotonic() - started < 8


def test_a_chunked_body_past_the_limit_is_refused(hub: str, auth: dict[str, str]) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"hql": "1", "criteria": {"concept": "'
        for _ in range(limits.MAX_BODY_BYTES // 65536 + 2):
            yield b"x" * 65536
        yield b'"}}'

    r = httpx.post(
        f"{hub}/queries", content=chunks(), headers={**auth, "content-type": "application/json"}
    )
    assert _problem(r, 413)["limit"] == limits.MAX_BODY_BYTES


def test_too_many_codes_is_a_422_naming_the_path(hub: str, auth: dict[str, str]) -> None:
    n = limits.MAX_CODE_SET + 1
    codes = [
        {"code": {"system": "http://snomed.info/sct", "code": str(10**8 + i)}} for i in range(n)
    ]
    started = time.monotonic()
    r = httpx.post(f"{hub}/queries", json=_doc({"any": codes}), headers=auth, timeout=60)
    body = _problem(r, 422)
    assert _paths(body) == [f"criteria.any[{limits.MAX_CODE_SET}]"]
    assert time.monotonic() - started < 30


def test_unknown_methods_get_405_with_allow(hub: str, auth: dict[str, str]) -> None:
    for method, path, allowed in [
        ("DELETE", "/queries", "POST"),
        ("PUT", "/health", "GET"),
        ("PATCH", "/ontology/sparql", "GET, POST"),
    ]:
        r = httpx.request(method, f"{hub}{path}", headers=auth)
        _problem(r, 405)
        assert set(r.headers["allow"].replace(" ", "").split(",")) >= set(allowed.split(", "))


def test_sparql_bodies_that_are_not_utf8_are_a_400(hub: str) -> None:
    r = httpx.post(
        f"{hub}/ontology/sparql",
        content=b"SELECT * WHERE { ?s ?p \xff }",
        headers={"content-type": "application/sparql-query"},
    )
    assert "UTF-8" in _problem(r, 400)["detail"]
    r = httpx.post(
        f"{hub}/ontology/sparql",
        content=b"query=SELECT%20%FF",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert "UTF-8" in _problem(r, 400)["detail"]
    r = httpx.post(
        f"{hub}/ontology/sparql",
        content=b"query=SELECT \xff",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert "UTF-8" in _problem(r, 400)["detail"]
    r = httpx.post(
        f"{hub}/ontology/sparql", content=b"SELECT 1", headers={"content-type": "text/plain"}
    )
    _problem(r, 415)


def test_sparql_form_posts_still_work(hub: str) -> None:
    r = httpx.post(
        f"{hub}/ontology/sparql",
        data={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"},
    )
    assert r.status_code == 200, r.text
    assert int(r.json()["results"]["bindings"][0]["n"]["value"]) > 100
