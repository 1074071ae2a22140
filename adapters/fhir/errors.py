"""Errors of the FHIR adapter (the tree is drawn in `hyperfed.adapters.fhir`)."""

from __future__ import annotations

from hyperfed.adapters.errors import SourceError as KitSourceError

__all__ = [
    "FhirError",
    "FhirPathError",
    "FhirPathSyntaxError",
    "RestError",
    "SourceError",
    "UnsupportedFhirPath",
    "ViewDefinitionError",
    "ViewRunError",
]


class FhirError(Exception):
    """Base of every error raised by `hyperfed.adapters.fhir`."""


class ViewDefinitionError(FhirError, ValueError):
    """A ViewDefinition is invalid (names the JSON path inside the view)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.reason = message
        super().__init__(f"{path}: {message}" if path else message)


class FhirPathError(ViewDefinitionError):
    """A FHIRPath expression of a view cannot be compiled (names the expression)."""

    def __init__(self, path: str, expression: str, message: str) -> None:
        self.expression = expression
        self.detail = message
        super().__init__(path, f"FHIRPath {expression!r}: {message}")


class FhirPathSyntaxError(FhirPathError):
    """The expression is not valid FHIRPath."""


class UnsupportedFhirPath(FhirPathError):
    """Valid FHIRPath the engine does not compile (it never guesses a result)."""


class ViewRunError(FhirError):
    """Running a view failed on the data (for example a `collection: false` column met more
    than one value); names the view and the reason."""


class SourceError(FhirError, KitSourceError):
    """FHIR input cannot be loaded, or the operator chose to refuse bad input; names the file
    and, where known, the line or Bundle entry. Also the kit's `SourceError`
    (`hyperfed.adapters.errors`), so the node and the CLI report it like any source error."""


class RestError(FhirError, KitSourceError):
    """A FHIR server refused a search (an OperationOutcome's diagnostics are quoted) or could
    not be reached; names the request."""
