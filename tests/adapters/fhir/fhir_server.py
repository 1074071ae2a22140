"""A small FHIR R4 search server for the tests of the FHIR REST backend (not shipped).

It implements exactly the search features the backend uses, over resources held in memory:

- ``GET /{type}?...`` returns a ``searchset`` Bundle sorted by id, ``total`` always set;
  ``_count`` (default 50, at most 1000) pages it, with ``self`` and ``next`` links (an
  ``_offset`` parameter of our own in the next link); ``_summary=count`` returns only the
  total; ``_elements=a,b`` keeps those top-level elements (and resourceType, id, meta) and
  tags the resource SUBSETTED; ``_id=a,b`` selects ids;
- reference parameters ``subject`` / ``patient`` (``Patient/x`` or ``x``) and
  ``medication`` (``Medication/x``, comma = OR);
- token parameters (``code``, ``gender``, ``modality`` ...): ``system|code``, ``code``,
  ``system|`` and ``|code``; a comma is OR, a repeated parameter AND;
- date parameters with the prefixes ``eq ge le gt lt`` (ranges by precision: ``2020`` is
  the whole year);
- quantity parameters ``[prefix]number|system|code`` (system and code optional; no unit
  conversion: the code must match);
- ``_has:Type:reference:parameter=value`` on Patient (one level);
- ``GET /metadata``: a CapabilityStatement listing the parameters.

Anything else — an unknown parameter, a modifier such as ``:below`` (this server has no
terminology) — is a 400 with an OperationOutcome, as a strict server would answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

__all__ = ["SEARCH_PARAMS", "create_app", "values_at"]

# type -> parameter -> (kind, paths)
SEARCH_PARAMS: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "Patient": {"gender": ("token", ("gender",)), "birthdate": ("date", ("birthDate",))},
    "Condition": {
        "code": ("token", ("code",)),
        "onset-date": ("date", ("onsetDateTime", "onsetPeriod.start")),
    },
    "Observation": {
        "code": ("token", ("code",)),
        "component-code": ("token", ("component.code",)),
        "date": ("date", ("effectiveDateTime", "effectivePeriod.start", "effectiveInstant")),
        "value-quantity": ("quantity", ("valueQuantity",)),
        "component-value-quantity": ("quantity", ("component.valueQuantity",)),
    },
    "Procedure": {
        "code": ("token", ("code",)),
        "date": ("date", ("performedDateTime", "performedPeriod.start")),
    },
    "MedicationRequest": {
        "code": ("token", ("medicationCodeableConcept",)),
        "medication": ("reference", ("medicationReference",)),
        "authoredon": ("date", ("authoredOn",)),
    },
    "MedicationStatement": {
        "code": ("token", ("medicationCodeableConcept",)),
        "medication": ("reference", ("medicationReference",)),
        "effective": ("date", ("effectiveDateTime", "effectivePeriod.start")),
    },
    "MedicationAdministration": {
        "code": ("token", ("medicationCodeableConcept",)),
        "medication": ("reference", ("medicationReference",)),
        "effective-time": ("date", ("effectiveDateTime", "effectivePeriod.start")),
    },
    "Medication": {"code": ("token", ("code",))},
    "Immunization": {
        "vaccine-code": ("token", ("vaccineCode",)),
        "date": ("date", ("occurrenceDateTime",)),
    },
    "DiagnosticReport": {
        "code": ("token", ("code",)),
        "date": ("date", ("effectiveDateTime", "effectivePeriod.start")),
    },
    "Encounter": {
        "class": ("token", ("class",)),
        "type": ("token", ("type",)),
        "date": ("date", ("period.start",)),
    },
    "ImagingStudy": {
        "modality": ("token", ("modality", "series.modality")),
        "bodysite": ("token", ("series.bodySite",)),
        "started": ("date", ("started",)),
    },
    "AllergyIntolerance": {"code": ("token", ("code",)), "onset": ("date", ("onsetDateTime",))},
}
_PATIENT_REF = {"AllergyIntolerance": "patient", "Immunization": "patient"}
_PREFIXES = ("eq", "ge", "le", "gt", "lt")


class SearchError(ValueError):
    pass


def values_at(resource: Any, path: str) -> list[Any]:
    """The values at a dotted path (lists flattened at every step), as FHIRPath navigates."""
    nodes = [resource]
    for step in path.split("."):
        nxt: list[Any] = []
        for node in nodes:
            if isinstance(node, dict) and step in node:
                value = node[step]
                nxt.extend(value if isinstance(value, list) else [value])
        nodes = nxt
    return nodes


def _codings(value: Any) -> Iterator[tuple[str | None, str | None]]:
    if isinstance(value, str):
        yield None, value
    elif isinstance(value, dict) and "coding" in value:
        for c in value["coding"]:
            yield c.get("system"), c.get("code")
    elif isinstance(value, dict):
        yield value.get("system"), value.get("code")


def _token(values: list[Any], wanted: str) -> bool:
    if "|" in wanted:
        system, code = wanted.split("|", 1)
    else:
        system, code = None, wanted
    for s, c in (pair for v in values for pair in _codings(v)):
        if system is not None and system != "" and s != system:
            continue
        if system == "" and s is not None:
            continue
        if code and c != code:
            continue
        return True
    return False


def _range(text: str) -> tuple[str, str]:
    """The first and last day a (partial) date covers, as YYYY-MM-DD."""
    d = text[:10]
    if len(d) == 4:
        return f"{d}-01-01", f"{d}-12-31"
    if len(d) == 7:
        return f"{d}-01", f"{d}-31"  # string comparison: any day of the month is <= -31
    return d, d


def _split_prefix(value: str) -> tuple[str, str]:
    if value[:2] in _PREFIXES and len(value) > 2 and not value[2].isalpha():
        return value[:2], value[2:]
    return "eq", value


def _date(values: list[Any], wanted: str) -> bool:
    prefix, text = _split_prefix(wanted)
    lo, hi = _range(text)
    for v in values:
        if not isinstance(v, str):
            continue
        vlo, vhi = _range(v)
        if (
            (prefix == "eq" and lo <= vlo and vhi <= hi)
            or (prefix == "ge" and vhi >= lo)
            or (prefix == "le" and vlo <= hi)
            or (prefix == "gt" and vhi > hi)
            or (prefix == "lt" and vlo < lo)
        ):
            return True
    return False


def _quantity(values: list[Any], wanted: str) -> bool:
    prefix, text = _split_prefix(wanted)
    number, system, code = [*text.split("|"), "", ""][:3]
    try:
        target = Decimal(number)
    except InvalidOperation as exc:
        raise SearchError(f"not a number: {number!r}") from exc
    exponent = target.as_tuple().exponent
    half = Decimal(5).scaleb((exponent if isinstance(exponent, int) else 0) - 1)
    for q in values:
        if not isinstance(q, dict) or "value" not in q:
            continue
        if system and q.get("system") != system:
            continue
        if code and q.get("code") != code:
            continue
        v = Decimal(str(q["value"]))
        if (
            (prefix == "eq" and target - half <= v < target + half)
            or (prefix == "ge" and v >= target)
            or (prefix == "le" and v <= target)
            or (prefix == "gt" and v > target)
            or (prefix == "lt" and v < target)
        ):
            return True
    return False


def _reference(values: list[Any], wanted: str) -> bool:
    refs = {v.get("reference") for v in values if isinstance(v, dict)}
    return wanted in refs or any(isinstance(r, str) and r.endswith("/" + wanted) for r in refs)


def _reference_id(resource: dict[str, Any]) -> str | None:
    ref = resource.get(_PATIENT_REF.get(resource["resourceType"], "subject"), {})
    text = ref.get("reference", "") if isinstance(ref, dict) else ""
    return text.split("/", 1)[1] if text.startswith("Patient/") else None


class Store:
    def __init__(self, resources: Iterable[dict[str, Any]]) -> None:
        self.by_type: dict[str, list[dict[str, Any]]] = {}
        for r in resources:
            self.by_type.setdefault(r["resourceType"], []).append(r)
        for rs in self.by_type.values():
            rs.sort(key=lambda r: str(r.get("id")))

    def match(self, rtype: str, r: dict[str, Any], name: str, value: str) -> bool:
        if name in ("subject", "patient"):
            wanted = value.split("/", 1)[1] if value.startswith("Patient/") else value
            return _reference_id(r) in set(wanted.split(","))
        if ":" in name:
            raise SearchError(f"modifier {name.split(':', 1)[1]!r} is not supported")
        if name not in SEARCH_PARAMS.get(rtype, {}):
            raise SearchError(f"unknown search parameter {name!r} for {rtype}")
        kind, paths = SEARCH_PARAMS[rtype][name]
        values = [v for p in paths for v in values_at(r, p)]
        test = {"token": _token, "date": _date, "quantity": _quantity, "reference": _reference}[
            kind
        ]
        return any(test(values, alt) for alt in value.split(","))

    def has(self, spec: str, value: str) -> set[str]:
        parts = spec.split(":")
        if len(parts) != 4 or parts[0] != "_has":
            raise SearchError(f"_has needs _has:Type:reference:parameter, not {spec!r}")
        _, rtype, ref, param = parts
        if ref not in ("subject", "patient"):
            raise SearchError(f"_has through {ref!r} is not supported")
        out = set()
        for r in self.by_type.get(rtype, []):
            pid = _reference_id(r)
            if pid is not None and self.match(rtype, r, param, value):
                out.add(pid)
        return out

    def search(self, rtype: str, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
        found = self.by_type.get(rtype, [])
        for name, value in params:
            if name == "_id":
                ids = set(value.split(","))
                found = [r for r in found if r.get("id") in ids]
            elif name.startswith("_has:"):
                if rtype != "Patient":
                    raise SearchError("_has is supported on Patient only")
                pids = self.has(name, value)
                found = [r for r in found if r.get("id") in pids]
            else:
                found = [r for r in found if self.match(rtype, r, name, value)]
        return found


def _outcome(message: str, status: int = 400) -> JSONResponse:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "not-supported", "diagnostics": message}],
    }
    return JSONResponse(body, status_code=status, media_type="application/fhir+json")


def _subset(r: dict[str, Any], elements: list[str]) -> dict[str, Any]:
    keep = {"resourceType", "id", "meta", *elements}
    out = {k: v for k, v in r.items() if k in keep}
    meta = dict(out.get("meta", {}))
    tag = {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
        "code": "SUBSETTED",
    }
    meta["tag"] = [*meta.get("tag", []), tag]
    out["meta"] = meta
    return out


def create_app(resources: Iterable[dict[str, Any]]) -> FastAPI:
    store = Store(resources)
    app = FastAPI()
    app.state.requests = []  # every query string served, for tests to inspect

    @app.get("/metadata")
    def metadata() -> JSONResponse:
        rest = [
            {
                "type": t,
                "searchParam": [{"name": n, "type": k} for n, (k, _) in sorted(ps.items())]
                + [
                    {"name": "subject", "type": "reference"},
                    {"name": "patient", "type": "reference"},
                ],
            }
            for t, ps in sorted(SEARCH_PARAMS.items())
        ]
        body = {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "kind": "instance",
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [{"mode": "server", "resource": rest}],
        }
        return JSONResponse(body, media_type="application/fhir+json")

    @app.get("/{rtype}")
    def search(rtype: str, request: Request) -> JSONResponse:
        app.state.requests.append(f"{rtype}?{request.url.query}")
        params = list(request.query_params.multi_items())
        control = {k: v for k, v in params if k in ("_count", "_summary", "_elements", "_offset")}
        criteria = [(k, v) for k, v in params if k not in control]
        if rtype not in SEARCH_PARAMS:
            return _outcome(f"resource type {rtype!r} is not served", 404)
        try:
            count = int(control.get("_count", "50"))
            offset = int(control.get("_offset", "0"))
            if count < 0 or offset < 0:
                raise ValueError
        except ValueError:
            return _outcome("_count and _offset must be non-negative integers")
        if control.get("_summary") not in (None, "count"):
            return _outcome(f"_summary={control['_summary']} is not supported")
        try:
            found = store.search(rtype, criteria)
        except SearchError as exc:
            return _outcome(str(exc))
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(found),
        }
        if control.get("_summary") == "count":
            return JSONResponse(bundle, media_type="application/fhir+json")
        count = min(count, 1000)
        page = found[offset : offset + count]
        base = str(request.base_url).rstrip("/") + f"/{rtype}"
        keep = [(k, v) for k, v in params if k != "_offset"]
        links = [{"relation": "self", "url": f"{base}?{urlencode(params)}"}]
        if offset + count < len(found):
            nxt = urlencode([*keep, ("_offset", str(offset + count))])
            links.append({"relation": "next", "url": f"{base}?{nxt}"})
        bundle["link"] = links
        elements = [e for e in control.get("_elements", "").split(",") if e]
        bundle["entry"] = [
            {
                "fullUrl": f"{base}/{r['id']}",
                "resource": _subset(r, elements) if elements else r,
                "search": {"mode": "match"},
            }
            for r in page
        ]
        return JSONResponse(bundle, media_type="application/fhir+json")

    return app
