"""The hyperontology's errors (the tree is drawn in the package docstring)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "OntologyError",
    "OntologyInvalid",
    "SparqlFailed",
    "SparqlRejected",
    "SparqlTimeout",
    "SparqlTooLarge",
    "UnknownCategory",
    "UnknownConcept",
    "UnsupportedModel",
]


class OntologyError(Exception):
    """Base class of every error raised by the `ontology` package."""


class UnknownConcept(OntologyError, LookupError):
    """A concept reference that names no concept; `suggestions` are close CURIEs."""

    def __init__(self, ref: str, suggestions: Sequence[str] = ()) -> None:
        self.ref = ref
        self.suggestions = list(suggestions)
        hint = (
            f"; did you mean {', '.join(self.suggestions)}?"
            if self.suggestions
            else "; no similar concept is known"
        )
        super().__init__(f"unknown concept {ref!r}{hint}")


class UnsupportedModel(OntologyError, ValueError):
    """A data model name that concepts cannot be resolved for."""

    def __init__(self, model: str, valid: Sequence[str]) -> None:
        self.model = model
        self.valid = list(valid)
        super().__init__(f"unknown data model {model!r}; valid models: {', '.join(self.valid)}")


class UnknownCategory(OntologyError, ValueError):
    """A category name that is not one of the ontology's categories."""

    def __init__(self, category: str, valid: Sequence[str]) -> None:
        self.category = category
        self.valid = list(valid)
        super().__init__(
            f"unknown category {category!r}; valid categories: {', '.join(self.valid)}"
        )


class OntologyInvalid(OntologyError, ValueError):
    """The ontology data cannot be loaded: a parse error or a broken rule (mixed binding
    kinds for one model, two preferred labels, an identifier naming two concepts, a cycle
    in the hierarchy ...). The message names the offending concept or file."""


class SparqlRejected(OntologyError, ValueError):
    """A SPARQL request that is refused before evaluation: an UPDATE, a SERVICE clause,
    a query too long, or a syntax error. HTTP 400."""

    status = 400


class SparqlTooLarge(SparqlRejected):
    """A result with more rows or triples than the endpoint's cap. HTTP 400."""


class SparqlTimeout(OntologyError, TimeoutError):
    """A query that ran past the endpoint's timeout (its worker was stopped). HTTP 503."""

    status = 503


class SparqlFailed(OntologyError, RuntimeError):
    """The SPARQL worker failed (crashed, or the pool is closed). HTTP 500."""

    status = 500
