"""Errors of the SDTM package (the tree is drawn in the package docstring)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hyperfed.adapters.errors import AdapterError, SourceError

if TYPE_CHECKING:
    from hyperfed.adapters.checks import Report

__all__ = ["SdtmError", "SdtmOptionError", "SdtmRefused", "SdtmSourceError"]


class SdtmError(AdapterError):
    """Base of the SDTM package's errors (an `AdapterError` of the adapter kit)."""


class SdtmSourceError(SdtmError, SourceError):
    """The source folder cannot be read at all (missing, not a folder, no dataset in it)."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"SDTM source {source}: {reason}")


class SdtmRefused(SdtmError, SourceError):
    """Loading found start-up errors and the operator chose to refuse (`on_error="refuse"`).
    `report` lists them, each with its file and reason."""

    def __init__(self, report: Report) -> None:
        self.report = report
        first = report.errors[:3]
        listed = "; ".join(f"{p.where()}: {p.message}" for p in first)
        more = len(report.errors) - len(first)
        tail = f" (and {more} more)" if more > 0 else ""
        super().__init__(f"SDTM source {report.source} refused: {listed}{tail}")


class SdtmOptionError(SdtmError, ValueError):
    """A load option is out of range (names the option and the value)."""

    def __init__(self, option: str, value: object, reason: str) -> None:
        self.option = option
        self.value = value
        super().__init__(f"option {option}={value!r}: {reason}")
