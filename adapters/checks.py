"""Data-quality reports (`hyperfed node check`): problems found in a data source, for every
model (an adapter's `check` returns a `Report`).

A `Problem` names where (file, row, column), what (a stable `code`), how bad (`severity`) and
says it in words. A `Report` gathers them with a few aggregate facts about the source; it is
plain data (JSON in, JSON out) so any adapter's `check` can produce one and the CLI renders it
(`render_report` for a terminal, `Report.to_json` for machines). Nothing patient-level goes in
a report: rows are row numbers, and messages quote values only where an operator needs them to
find the fault (a malformed date, an unknown unit), never identifiers of a person.

Row numbers count data rows from 1 (the header of a CSV file is not a row), so row 1 of a CSV
file is its second line.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["Problem", "Report", "Severity", "render_report"]

Severity = Literal["error", "warning", "info"]
_SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class Problem:
    """One finding. `file` is relative to the source folder; `row` is a 1-based data row, or the
    key of the record concerned where records have no row number (a DICOM series' UID); None
    for a problem of the whole file or column; `count` > 1 when the problem stands for several
    rows (then `row` is the first of them)."""

    severity: Severity
    file: str | None
    row: int | str | None
    column: str | None
    code: str
    message: str
    count: int = 1

    def __post_init__(self) -> None:
        if self.severity not in _SEVERITIES:
            raise ValueError(f"severity must be one of {_SEVERITIES}, not {self.severity!r}")
        if self.count < 1:
            raise ValueError(f"count must be at least 1, not {self.count}")

    def where(self) -> str:
        """`file`, `file row 12`, `file row 12 column AESTDTC` ..."""
        parts = [self.file or "(source)"]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        return " ".join(parts)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Problem:
        return cls(
            severity=data["severity"],
            file=data.get("file"),
            row=data.get("row"),
            column=data.get("column"),
            code=str(data["code"]),
            message=str(data["message"]),
            count=int(data.get("count", 1)),
        )


def _sort_key(p: Problem) -> tuple[int, str, int, str, str, str]:
    row = p.row if isinstance(p.row, int) else -1
    return (
        _SEVERITIES.index(p.severity),
        p.file or "",
        row,
        p.row if isinstance(p.row, str) else "",
        p.column or "",
        p.code,
    )


@dataclass
class Report:
    """The outcome of checking one source. `facts` holds aggregate numbers only (files read,
    rows per domain, subjects); `notes` says how things were read (non-ISO dates accepted,
    units mapped ...)."""

    source: str
    model: str
    problems: list[Problem] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, problem: Problem) -> None:
        self.problems.append(problem)

    def extend(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def infos(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "info"]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    @property
    def exit_code(self) -> int:
        """0 without errors, 1 with errors (for `node check`)."""
        return 0 if self.ok else 1

    def codes(self) -> Counter[str]:
        """How many problems of each code (each problem counted once, whatever its `count`)."""
        return Counter(p.code for p in self.problems)

    def sorted_problems(self) -> list[Problem]:
        return sorted(self.problems, key=_sort_key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "model": self.model,
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "facts": self.facts,
            "notes": list(self.notes),
            "problems": [asdict(p) for p in self.sorted_problems()],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=str)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        return cls(
            source=str(data["source"]),
            model=str(data["model"]),
            problems=[Problem.from_dict(p) for p in data.get("problems", [])],
            facts=dict(data.get("facts", {})),
            notes=[str(n) for n in data.get("notes", [])],
        )


def render_report(report: Report, console: Any = None, *, limit: int | None = 200) -> None:
    """Print `report` as a rich table (problems sorted: errors first, then by place), with the
    facts and notes above it and a one-line verdict below. `limit` caps the table's rows."""
    from rich.console import Console
    from rich.table import Table

    out: Console = console if console is not None else Console()
    out.print(f"[bold]{report.model.upper()} source[/] {report.source}")
    for key, value in report.facts.items():
        if isinstance(value, Mapping):
            value = ", ".join(
                f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in value.items()
            )
        elif isinstance(value, int):
            value = f"{value:,}"
        out.print(f"  {key}: {value}")
    for text in report.notes:
        out.print(f"  [dim]note:[/] {text}")
    problems = report.sorted_problems()
    if problems:
        table = Table(show_lines=False, header_style="bold")
        for name in ("severity", "file", "row", "column", "code", "message"):
            table.add_column(name, overflow="fold")
        shown = problems if limit is None else problems[:limit]
        for p in shown:
            colour = {"error": "red", "warning": "yellow"}.get(p.severity, "cyan")
            row = "" if p.row is None else str(p.row)
            if p.count > 1:
                row += f" (+{p.count - 1})"
            table.add_row(
                f"[{colour}]{p.severity}[/]", p.file or "", row, p.column or "", p.code, p.message
            )
        out.print(table)
        if len(shown) < len(problems):
            out.print(f"  ... {len(problems) - len(shown)} more (use --json for all)")
    n_err, n_warn = len(report.errors), len(report.warnings)
    verdict = "[bold green]OK[/]" if report.ok else "[bold red]FAILED[/]"
    out.print(f"{verdict}: {n_err} error(s), {n_warn} warning(s)")
