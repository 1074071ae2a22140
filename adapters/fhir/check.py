"""`check`: validate FHIR files resource by resource with `fhir.resources` and list every
problem with its file, line (NDJSON) or Bundle entry index, and the path inside the resource.

    report = check_source("export/")
    for p in report.problems: print(p.format())

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
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from hyperfed.adapters.fhir.files import discover
from hyperfed.adapters.fhir.report import Problem, ProblemKind

__all__ = ["SUBJECT_ELEMENTS", "CheckReport", "check_source"]

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


@dataclass
class CheckReport:
    source: str
    files: list[str] = field(default_factory=list)
    resources: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.problems:
            out[p.kind] = out.get(p.kind, 0) + 1
        return out

    def format(self) -> str:
        head = f"{self.source}: {self.resources:,} resources in {len(self.files)} file(s), "
        head += f"{len(self.problems):,} problem(s)"
        return "\n".join([head] + [f"  {p.format()}" for p in self.problems])

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "files": self.files,
            "resources": self.resources,
            "counts": self.counts(),
            "problems": [p.as_dict() for p in self.problems],
        }


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


def check_source(source: str | PathLike[str]) -> CheckReport:
    """Validate every resource under `source` (a file or folder); never raises on bad
    input: every problem is in the report."""
    from pydantic import ValidationError

    report = CheckReport(str(source))

    def problem(kind: ProblemKind, file: str, reason: str, **where: Any) -> None:
        report.problems.append(Problem(kind=kind, file=file, reason=reason, **where))

    try:
        files, _ = discover(source)
    except Exception as exc:
        problem("unreadable", str(source), str(exc))
        return report
    report.files = [str(f.path) for f in files]
    keys: set[str] = set()
    urls: dict[str, str] = {}
    kept: list[tuple[_Item, str, list[tuple[str, str]]]] = []
    for f in files:
        for item in _items(f.path, f.kind, problem):
            where: dict[str, Any] = {"line": item.line, "entry": item.entry}
            r = item.resource
            if not isinstance(r, dict) or not isinstance(r.get("resourceType"), str):
                problem("not_a_resource", item.file, "no resourceType", **where)
                continue
            report.resources += 1
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
                keys.add(f"{rtype}/{rid}")
            if item.full_url:
                urls[item.full_url] = rtype
            kept.append((item, label, list(_references(r))))
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
    return report
