"""Data-check reports: model-neutral problems, a rich table and JSON.

The same shape serves every data model's checks (`Problem(severity, file, row, column, code,
message)`): for DICOM, `file` is the file's path relative to the checked folder (or the
Parquet index), `row` the SeriesInstanceUID of a series-level problem, `column` the DICOM
keyword (or series column) concerned. Until a shared module exists this one is DICOM's; its
types depend on nothing DICOM-specific so they can move unchanged.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["Problem", "Report", "Severity"]

Severity = Literal["error", "warning", "info"]
_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Problem:
    severity: Severity
    file: str | None
    row: int | str | None
    column: str | None
    code: str
    message: str


@dataclass
class Report:
    """The problems a check found in one source, and what was checked."""

    source: str
    model: str
    problems: list[Problem] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)  # e.g. {"files": 170, "series": 38}

    def add(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)

    def sorted(self) -> list[Problem]:
        return sorted(
            self.problems,
            key=lambda p: (
                _ORDER[p.severity],
                p.code,
                p.file or "",
                str(p.row or ""),
                p.column or "",
            ),
        )

    def counts(self) -> dict[str, int]:
        by = Counter(p.severity for p in self.problems)
        return {s: by.get(s, 0) for s in ("error", "warning", "info")}

    def by_code(self) -> dict[str, int]:
        return dict(sorted(Counter(p.code for p in self.problems).items()))

    @property
    def ok(self) -> bool:
        """No errors (warnings and infos allowed)."""
        return not any(p.severity == "error" for p in self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "model": self.model,
            "ok": self.ok,
            "checked": self.checked,
            "counts": self.counts(),
            "by_code": self.by_code(),
            "problems": [asdict(p) for p in self.sorted()],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def table(self, limit: int | None = 200) -> Any:
        """A rich Table of the problems (the first `limit`, errors first)."""
        from rich.table import Table

        counts = self.counts()
        title = (
            f"{self.model} checks of {self.source}: {counts['error']} errors, "
            f"{counts['warning']} warnings, {counts['info']} infos"
        )
        table = Table(title=title, show_lines=False)
        for name in ("severity", "code", "file", "row", "column", "message"):
            table.add_column(name, overflow="fold")
        style = {"error": "red", "warning": "yellow", "info": "cyan"}
        problems = self.sorted()
        for p in problems[:limit] if limit else problems:
            table.add_row(
                f"[{style[p.severity]}]{p.severity}[/]",
                p.code,
                p.file or "",
                "" if p.row is None else str(p.row),
                p.column or "",
                p.message,
            )
        if limit and len(problems) > limit:
            table.caption = f"{len(problems) - limit} more problems: see --json"
        return table
