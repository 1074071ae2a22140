"""The FHIR search test server over real HTTP, against plain-Python expectations over the
same resources (synthetic population, 40 patients)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hyperfed.synth import SynthSpec
from hyperfed.synth.fhir import write_fhir
from tests.servers import serve

from .fhir_server import create_app

SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


@pytest.fixture(scope="module")
def resources(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("fhir")
    write_fhir(SynthSpec(persons=40, seed=4, cancer_scale=8.0, missing_unit_share=0.1), out)
    return [
        json.loads(line)
        for f in sorted(out.glob("*.ndjson"))
        for line in f.read_text().splitlines()
    ]


@pytest.fixture(scope="module")
def client(resources: list[dict[str, Any]]) -> Iterator[httpx.Client]:
    with serve(create_app(resources)) as url, httpx.Client(base_url=url, timeout=30) as c:
        yield c


def _of(resources: list[dict[str, Any]], rtype: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["resourceType"] == rtype]


def _pid(r: dict[str, Any]) -> str:
    ref = r.get("subject") or r.get("patient")
    return str(ref["reference"]).removeprefix("Patient/")


def _all(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every entry, following next links."""
    out: list[dict[str, Any]] = []
    resp = client.get(path, params=params)
    while True:
        assert resp.status_code == 200, resp.text
        bundle = resp.json()
        out += [e["resource"] for e in bundle.get("entry", [])]
        nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not nxt:
            return out
        resp = client.get(nxt[0])


def _total(client: httpx.Client, path: str, params: Any) -> int:
    resp = client.get(path, params=params)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert "entry" not in body
    return int(body["total"])


def test_summary_count_token_and_reference(client: httpx.Client, resources: list[Any]) -> None:
    conds = _of(resources, "Condition")
    code = conds[0]["code"]["coding"][0]["code"]
    want = [
        c
        for c in conds
        if any(x["code"] == code and x["system"] == SCT for x in c["code"]["coding"])
    ]
    assert _total(client, "/Condition", {"code": f"{SCT}|{code}", "_summary": "count"}) == len(want)
    assert _total(client, "/Condition", {"code": code, "_summary": "count"}) == len(want)
    assert _total(client, "/Condition", {"code": f"http://other|{code}", "_summary": "count"}) == 0
    pid = _pid(want[0])
    mine = [c for c in want if _pid(c) == pid]
    for param in ("subject", "patient"):
        for value in (f"Patient/{pid}", pid):
            got = _all(client, "/Condition", code=f"{SCT}|{code}", **{param: value})
            assert sorted(r["id"] for r in got) == sorted(r["id"] for r in mine)
    icd = [c for c in conds if any(x["system"].endswith("icd-10-cm") for x in c["code"]["coding"])]
    either = [c for c in conds if c in want or c in icd]
    got_or = _total(
        client,
        "/Condition",
        [("code", f"{SCT}|{code},http://hl7.org/fhir/sid/icd-10-cm|"), ("_summary", "count")],
    )
    assert got_or == len(either)


def test_paging_returns_every_match_once(client: httpx.Client, resources: list[Any]) -> None:
    obs = _of(resources, "Observation")
    got = _all(client, "/Observation", _count=37)
    assert sorted(r["id"] for r in got) == sorted(r["id"] for r in obs)
    first = client.get("/Observation", params={"_count": 37}).json()
    assert len(first["entry"]) == 37 and first["total"] == len(obs)


def test_dates_and_quantities(client: httpx.Client, resources: list[Any]) -> None:
    hb = [o for o in _of(resources, "Observation") if o["code"]["coding"][0]["code"] == "718-7"]

    def day(o: dict[str, Any]) -> str:
        return str(o["effectiveDateTime"])[:10]

    want = [o for o in hb if "2015-01-01" <= day(o) <= "2019-12-31"]
    got = _all(client, "/Observation", code=f"{LOINC}|718-7", date=["ge2015", "le2019"])
    assert sorted(r["id"] for r in got) == sorted(r["id"] for r in want)
    low = [
        o
        for o in hb
        if o["valueQuantity"].get("code") == "g/dL" and o["valueQuantity"]["value"] < 12
    ]
    got = _all(
        client, "/Observation", code=f"{LOINC}|718-7", **{"value-quantity": f"lt12|{UCUM}|g/dL"}
    )
    assert sorted(r["id"] for r in got) == sorted(r["id"] for r in low) and low
    any_unit = [o for o in hb if o["valueQuantity"]["value"] >= 12]
    got = _all(client, "/Observation", code=f"{LOINC}|718-7", **{"value-quantity": "ge12"})
    assert len(got) == len(any_unit)
    panels = [
        o
        for o in _of(resources, "Observation")
        if "component" in o and o["component"][0]["valueQuantity"]["value"] >= 140
    ]
    got = _all(
        client,
        "/Observation",
        **{"component-code": f"{LOINC}|8480-6", "component-value-quantity": "ge140"},
    )
    assert len(got) == len(panels) and panels


def test_has_elements_and_ids(client: httpx.Client, resources: list[Any]) -> None:
    procs = _of(resources, "Procedure")
    code = procs[0]["code"]["coding"][0]["code"]
    want = {_pid(p) for p in procs if p["code"]["coding"][0]["code"] == code}
    got = _all(client, "/Patient", **{"_has:Procedure:subject:code": f"{SCT}|{code}"})
    assert {r["id"] for r in got} == want and want
    females = {p["id"] for p in _of(resources, "Patient") if p["gender"] == "female"}
    n = _total(
        client,
        "/Patient",
        {"_has:Procedure:subject:code": f"{SCT}|{code}", "gender": "female", "_summary": "count"},
    )
    assert n == len(want & females)
    ids = sorted(females)[:3]
    got = _all(client, "/Patient", _id=",".join(ids), _elements="gender")
    assert sorted(r["id"] for r in got) == ids
    assert all(set(r) == {"resourceType", "id", "gender", "meta"} for r in got)
    assert all(r["meta"]["tag"][0]["code"] == "SUBSETTED" for r in got)


def test_strict_errors_and_capabilities(client: httpx.Client) -> None:
    for params in (
        {"code:below": f"{SCT}|404684003"},
        {"nonsense": "1"},
        {"_summary": "true"},
        {"value-quantity": "gexyz"},
    ):
        resp = client.get("/Condition" if "code:below" in params else "/Observation", params=params)
        assert resp.status_code == 400 and resp.json()["resourceType"] == "OperationOutcome"
    assert client.get("/Claim").status_code == 404
    caps = client.get("/metadata").json()
    names = {
        p["name"]
        for r in caps["rest"][0]["resource"]
        if r["type"] == "Observation"
        for p in r["searchParam"]
    }
    assert {"code", "value-quantity", "component-code", "subject"} <= names


def test_partial_dates(tmp_path: Path) -> None:
    people = [
        {"resourceType": "Patient", "id": "a", "birthDate": "1970"},
        {"resourceType": "Patient", "id": "b", "birthDate": "1970-06"},
        {"resourceType": "Patient", "id": "c", "birthDate": "1971-01-01"},
    ]
    with serve(create_app(people)) as url, httpx.Client(base_url=url) as c:

        def ids(**params: Any) -> list[str]:
            return sorted(
                e["resource"]["id"] for e in c.get("/Patient", params=params).json()["entry"]
            )

        assert ids(birthdate="1970") == ["a", "b"]
        assert ids(birthdate="eq1970-06") == ["b"]
        assert ids(birthdate="ge1970-07") == ["a", "c"]  # 1970 reaches into July
        assert ids(birthdate="lt1970-06") == ["a"]
