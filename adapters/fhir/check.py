"""`check`: validate FHIR files resource by resource with `fhir.resources` and list every
problem with its file, line (NDJSON) or Bundle entry index, and the path inside the resource.

    report = check_source("export/")              # the shared Report (hyperfed.adapters.checks)
    for p in report.sorted_problems(): print(p.where(), p.code, p.message)

Found: invalid JSON, lines or entries that are not resources, unknown resource types,
resources the R4 models reject (each pydantic error with its element path), references to
resources that are not in the input (``Patient/x``, ``urn:uuid:`` fullUrls, absolute URLs
ending in ``Type/id``; contained ``#refs`` are checked against the resource's own
`contained`), and patient-data resources without a Patient subject. The models are those of
`fhir.resources`' R4B package (R4B is R4 with a few resources outside the adapter's scope
changed). This reads resources in Python — a thorough, slower pass than loading.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from hyperfed.adapters.checks import Problem as CheckProblem
from hyperfed.adapters.checks import Report, Severity
from hyperfed.adapters.fhir.files import discover
from hyperfed.adapters.fhir.report import Problem, ProblemKind

__all__ = ["SUBJECT_ELEMENTS", "check_source", "to_check_problem"]

# where each patient-data type names its patient (the adapter's views read these)
SUBJECT_ELEMENTS = {
    "Condition": "subject",
    "Observation": "subject",
    "Procedure": "subject",
    "MedicationRequest": "subject",
    "MedicationStatement": "subject",
    "MedicationAdministration": "subject",
    "Encounter": "subject",
    "ImagingStudy": "subject",
    "DiagnosticReport": "subject",
    "Immunization": "patient",
    "AllergyIntolerance": "patient",
}
_REF = re.compile(
    r"^(?:[A-Za-z][A-Za-z0-9+.-]*://[^ ]*/)?([A-Z][A-Za-z]+)/([A-Za-z0-9.-]{1,64})"
    r"(?:/_history/[A-Za-z0-9.-]{1,64})?$"
)


_SEVERITY: dict[str, Severity] = {
    "unreadable": "error",
    "invalid_json": "error",
    "not_a_resource": "error",
    "unknown_type": "error",
    "invalid_resource": "error",
    "missing_subject": "error",
    "dangling_reference": "warning",
    "duplicate": "warning",
    "missing_id": "error",
    "bundle_without_patient": "warning",
}


def _relative(file: str, root: Path) -> str:
    try:
        rel = Path(file).relative_to(root)
    except ValueError:
        return file
    return str(rel) if str(rel) != "." else Path(file).name


def to_check_problem(p: Problem, root: Path) -> CheckProblem:
    """A load or check `Problem` as a row of the shared report: `row` is the NDJSON line
    (from 1) or ``entry[i]`` of a Bundle (from 0), `column` the element path."""
    row: int | str | None = p.line if p.line is not None else None
    if row is None and p.entry is not None:
        row = f"entry[{p.entry}]"
    message = f"{p.resource}: {p.reason}" if p.resource else p.reason
    severity = _SEVERITY.get(p.kind, "warning")
    if p.kind == "dangling_reference" and p.path in ("subject.reference", "patient.reference"):
        severity = "error"  # events of a Patient who is not there are never counted
    code = p.kind.replace("_", "-")
    return CheckProblem(severity, _relative(p.file, root), row, p.path, code, message)


@dataclass
class _Item:
    file: str
    line: int | None
    entry: int | None
    resource: Any
    full_url: str | None = None


def _open_text(path: Path) -> Iterator[str]:
    opener: Callable[..., Any] = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        yield from f


def _items(path: Path, kind: str, problem: Callable[..., None]) -> Iterator[_Item]:
    name = str(path)
    try:
        if kind == "ndjson":
            for n, text in enumerate(_open_text(path), start=1):
                if not text.strip():
                    continue
                try:
                    yield _Item(name, n, None, json.loads(text))
                except json.JSONDecodeError as exc:
                    problem(
                        "invalid_json",
                        name,
                        f"not valid JSON: {exc.msg} (column {exc.colno})",
                        line=n,
                    )
            return
        doc = json.loads("".join(_open_text(path)))
    except json.JSONDecodeError as exc:
        problem("invalid_json", name, f"not valid JSON: {exc.msg} (line {exc.lineno})")
        return
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        problem("unreadable", name, f"cannot read the file: {exc}")
        return
    if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
        entries = doc.get("entry", [])
        for i, e in enumerate(entries if isinstance(entries, list) else []):
            if not isinstance(e, dict) or "resource" not in e:
                method = e.get("request", {}).get("method") if isinstance(e, dict) else None
                if method != "DELETE":
                    problem("not_a_resource", name, "entry without a resource", entry=i)
                continue
            yield _Item(name, None, i, e["resource"], e.get("fullUrl"))
    else:
        yield _Item(name, None, None, doc)


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for step in loc:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def _references(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for k, v in node.items():
            sub = f"{path}.{k}" if path else k
            if k == "reference" and isinstance(v, str):
                yield sub, v
            elif k != "contained":
                yield from _references(v, sub)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _references(v, f"{path}[{i}]")


def _model(resource_type: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError, AttributeError, ImportError):
        return None


def check_source(source: str | PathLike[str]) -> Report:
    """Validate every resource under `source` (a file or folder) into the shared data-quality
    `Report` (files relative to `source`); never raises on bad input: every problem is in
    the report."""
    from pydantic import ValidationError

    root = Path(source)
    base = root if root.is_dir() else root.parent
    report = Report(source=str(source), model="fhir")
    resources = 0

    def problem(kind: ProblemKind, file: str, reason: str, **where: Any) -> None:
        found = Problem(kind=kind, file=file, reason=reason, **where)
        report.add(to_check_problem(found, base))

    try:
        files, ignored = discover(source)
    except Exception as exc:
        problem("unreadable", str(source), str(exc))
        return report
    report.facts["files"] = len(files)
    keys: set[str] = set()
    urls: dict[str, str] = {}
    kept: list[tuple[_Item, str, list[tuple[str, str]]]] = []
    bundles: dict[str, list[bool]] = {}  # file -> [has a Patient, has patient data]
    for f in files:
        for item in _items(f.path, f.kind, problem):
            where: dict[str, Any] = {"line": item.line, "entry": item.entry}
            r = item.resource
            if not isinstance(r, dict) or not isinstance(r.get("resourceType"), str):
                problem("not_a_resource", item.file, "no resourceType", **where)
                continue
            resources += 1
            rtype, rid = r["resourceType"], r.get("id")
            label = f"{rtype}/{rid}" if rid else rtype
            model = _model(rtype)
            if model is None:
                problem(
                    "unknown_type",
                    item.file,
                    f"{rtype!r} is not a FHIR R4 resource type",
                    resource=label,
                    **where,
                )
                continue
            try:
                model.model_validate(r)
            except ValidationError as exc:
                for err in exc.errors(include_url=False):
                    problem(
                        "invalid_resource",
                        item.file,
                        str(err["msg"]),
                        resource=label,
                        path=_path(tuple(err["loc"])) or None,
                        **where,
                    )
            except Exception as exc:
                problem(
                    "invalid_resource", item.file, str(exc).split("\n")[0], resource=label, **where
                )
            if rid:
                if f"{rtype}/{rid}" in keys:
                    problem(
                        "duplicate",
                        item.file,
                        "the same resource type and id again (loading keeps the first)",
                        resource=label,
                        **where,
                    )
                keys.add(f"{rtype}/{rid}")
            elif not (item.full_url or "").startswith("urn:uuid:"):
                problem("missing_id", item.file, "a resource without id", resource=label, **where)
            if item.entry is not None:
                seen = bundles.setdefault(item.file, [False, False])
                seen[0] = seen[0] or rtype == "Patient"
                seen[1] = seen[1] or rtype in SUBJECT_ELEMENTS
            if item.full_url:
                urls[item.full_url] = rtype
            kept.append((item, label, list(_references(r))))
    for file, (with_patient, with_data) in bundles.items():
        if with_data and not with_patient:
            problem("bundle_without_patient", file, "a Bundle with patient data but no Patient")
    for item, label, refs in kept:
        where = {"line": item.line, "entry": item.entry, "resource": label}
        r = item.resource
        contained = {f"#{c.get('id')}" for c in r.get("contained", []) if isinstance(c, dict)}
        for path, ref in refs:
            if ref.startswith("#"):
                if ref not in contained:
                    problem(
                        "dangling_reference",
                        item.file,
                        f"{ref} is not contained",
                        path=path,
                        **where,
                    )
                continue
            m = _REF.match(ref)
            if ref in urls or (m and f"{m.group(1)}/{m.group(2)}" in keys):
                continue
            problem(
                "dangling_reference", item.file, f"{ref} is not in the input", path=path, **where
            )
        element = SUBJECT_ELEMENTS.get(r["resourceType"])
        if element is not None:
            subject = r.get(element)
            sref = subject.get("reference") if isinstance(subject, dict) else None
            target = _REF.match(sref) if isinstance(sref, str) else None
            is_patient = (target is not None and target.group(1) == "Patient") or (
                isinstance(sref, str) and urls.get(sref) == "Patient"
            )
            if not is_patient:
                problem(
                    "missing_subject",
                    item.file,
                    f"{element} does not refer to a Patient",
                    path=element,
                    **where,
                )
    report.facts["resources"] = resources
    if ignored:
        report.note(f"{len(ignored)} file(s) ignored (export manifests, logs, other extensions)")
    report.note("validated with the fhir.resources R4B models (R4 for every type this node reads)")
    return report
