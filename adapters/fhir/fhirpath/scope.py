"""What a FHIRPath expression is compiled against (`Scope`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from hyperfed.adapters.fhir.fhirpath.sql import Val, lit

__all__ = ["Scope"]


@dataclass
class Scope:
    """What an expression is compiled against."""

    expression: str  # the text, for error messages
    path: str  # where in the view, for error messages
    constants: dict[str, Val]
    root: exp.Expression  # %resource (JSON)
    root_id: exp.Expression | None = None  # the resource id column, when known
    row_index: exp.Expression = field(default_factory=lambda: lit(0))
    resource_type: str | None = None
    counter: list[int] = field(default_factory=lambda: [0])

    def fresh(self, stem: str) -> str:
        self.counter[0] += 1
        return f"{stem}{self.counter[0]}"
