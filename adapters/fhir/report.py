"""What loading or checking FHIR input found: plain values, no I/O.

A `Problem` names the file, the line (NDJSON) or the Bundle entry index (from 0), the
resource when known, and the reason. A `LoadReport` adds counts: resources loaded per type,
resources skipped per type (types the adapter does not use), view rows, timings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

__all__ = ["LoadReport", "OnError", "Problem", "ProblemKind"]

OnError = Literal["serve", "refuse"]
"""What a node does with bad input: serve what it can (reporting the rest), or refuse."""

ProblemKind = Literal[
    "unreadable",  # the file cannot be opened or decompressed
    "invalid_json",  # a line / file is not JSON
    "not_a_resource",  # JSON, but no resourceType (or not an object)
    "missing_id",  # a resource without id (and no urn:uuid fullUrl to take it from)
    "duplicate",  # the same resourceType/id twice (the first one is kept)
    "bundle_without_patient",  # a Bundle with patient data but no Patient
    "missing_subject",  # a resource of a patient compartment without a Patient reference
    "dangling_reference",  # a reference to a Patient that is not loaded
    "unresolved_reference",  # a urn:uuid reference to no entry of any Bundle
    "unknown_type",  # check: resourceType is not an R4 resource
    "invalid_resource",  # check: fhir.resources rejects the resource (path given)
]


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    file: str
    reason: str
    line: int | None = None
    entry: int | None = None
    resource: str | None = None  # "Type/id" when known
    path: str | None = None  # the element inside the resource (check)

    def where(self) -> str:
        out = self.file
        if self.line is not None:
            out += f":{self.line}"
        if self.entry is not None:
            out += f" entry[{self.entry}]"
        if self.resource:
            out += f" {self.resource}"
        if self.path:
            out += f" {self.path}"
        return out

    def format(self) -> str:
        return f"{self.where()}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _frozen(m: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(m))


@dataclass(frozen=True)
class LoadReport:
    source: str
    files: tuple[str, ...] = ()
    ignored_files: tuple[str, ...] = ()  # manifests, export logs, other extensions
    loaded: Mapping[str, int] = field(default_factory=dict)  # resources per type
    skipped: Mapping[str, int] = field(default_factory=dict)  # unused types, per type
    view_rows: Mapping[str, int] = field(default_factory=dict)  # rows per view table
    problems: tuple[Problem, ...] = ()
    problem_counts: Mapping[str, int] = field(default_factory=dict)  # per kind (all of them)
    seconds: Mapping[str, float] = field(default_factory=dict)
    from_cache: bool = False

    def __post_init__(self) -> None:
        for name in ("loaded", "skipped", "view_rows", "problem_counts", "seconds"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    @property
    def ok(self) -> bool:
        return not self.problem_counts

    @property
    def resources(self) -> int:
        return sum(self.loaded.values())

    def format(self, limit: int = 50) -> str:
        lines = [
            f"{self.source}: {self.resources:,} resources from {len(self.files)} file(s)"
            + (" (cache)" if self.from_cache else "")
        ]
        lines += [f"  {t:<28} {n:>12,}" for t, n in sorted(self.loaded.items())]
        if self.skipped:
            skipped = ", ".join(f"{t} {n:,}" for t, n in sorted(self.skipped.items()))
            lines.append(f"  skipped (types not used): {skipped}")
        if self.ignored_files:
            lines.append(f"  ignored files: {', '.join(self.ignored_files)}")
        total = sum(self.problem_counts.values())
        if total:
            kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(self.problem_counts.items()))
            lines.append(f"  problems: {total:,} ({kinds})")
            lines += [f"    {p.format()}" for p in self.problems[:limit]]
            if total > min(limit, len(self.problems)):
                lines.append(f"    ... and {total - min(limit, len(self.problems)):,} more")
        lines += [f"  {phase} {s:.2f} s" for phase, s in self.seconds.items()]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "files": list(self.files),
            "ignored_files": list(self.ignored_files),
            "loaded": dict(self.loaded),
            "skipped": dict(self.skipped),
            "view_rows": dict(self.view_rows),
            "problem_counts": dict(self.problem_counts),
            "problems": [p.as_dict() for p in self.problems],
            "seconds": dict(self.seconds),
            "from_cache": self.from_cache,
        }
