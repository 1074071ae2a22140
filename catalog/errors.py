"""The catalogue's errors (the tree is drawn in the package docstring).

Every error carries the HTTP `status` the router answers with and a `title`; the router
turns them into problem+json (RFC 9457) in one place (`catalog.router`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "BadRequest",
    "CatalogError",
    "CatalogUnavailable",
    "DescriptionInvalid",
    "NotFound",
    "Problem",
    "SettingsInvalid",
    "ShaclViolations",
    "StoreFailed",
]


@dataclass(frozen=True)
class Problem:
    """One problem with a description: where (a focus node or an entry path), which
    property (`path`), what is wrong (`message`), and how bad (`severity`)."""

    focus: str
    path: str
    message: str
    severity: str = "Violation"
    shape: str = ""

    def as_dict(self) -> dict[str, str]:
        out = {"focus": self.focus, "path": self.path, "message": self.message}
        out["severity"] = self.severity
        if self.shape:
            out["shape"] = self.shape
        return out


class CatalogError(Exception):
    """Base class of every error raised by the `catalog` package."""

    status = 500
    title = "Catalogue error"


class SettingsInvalid(CatalogError, ValueError):
    """Catalogue settings that cannot work (a bad base URL, a shapes folder that is not
    a DCAT-AP release ...). The message names the setting."""

    title = "Invalid catalogue settings"


class BadRequest(CatalogError, ValueError):
    """A request the catalogue cannot answer as asked (a page out of range, a bad date)."""

    status = 400
    title = "Bad request"


class NotFound(CatalogError, LookupError):
    """No public resource at that IRI (private datasets are reported as not found too)."""

    status = 404
    title = "Not found"


class DescriptionInvalid(CatalogError, ValueError):
    """A node's publication that cannot be read: bad JSON fields, unparsable RDF, IRIs
    outside the node's space. Nothing is stored; `problems` lists each one."""

    status = 422
    title = "Invalid dataset description"

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        self.problems = list(problems)
        super().__init__(message)


class ShaclViolations(DescriptionInvalid):
    """A publication that breaks the DCAT-AP 3.0.1 or HealthDCAT-AP shapes. Nothing is
    stored and the node's last valid version stays published."""

    title = "Dataset description violates DCAT-AP / HealthDCAT-AP shapes"


class StoreFailed(CatalogError, OSError):
    """The Oxigraph store could not be read or written (the catalogue answers 5xx, never
    a truncated page)."""

    status = 500
    title = "Catalogue store failed"


class CatalogUnavailable(CatalogError):
    """The catalogue cannot answer now (a node fetch failed, the store is closing)."""

    status = 503
    title = "Catalogue unavailable"
