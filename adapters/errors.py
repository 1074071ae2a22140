"""Errors of the adapters package (the tree is drawn in `hyperfed.adapters`).

Every message names the offending value: the model name and the valid ones, the source and
what is wrong with it, the deadline that passed.
"""

from __future__ import annotations

__all__ = ["AdapterError", "QueryTimeout", "SourceError", "UnknownAdapter"]


class AdapterError(Exception):
    """Base of every error an adapter, the registry or the SQL toolkit raises."""


class UnknownAdapter(AdapterError, LookupError):
    """No adapter is registered under that name (the message lists the valid names)."""

    def __init__(self, name: str, valid: list[str]) -> None:
        self.name = name
        self.valid = valid
        super().__init__(f"unknown data model {name!r}; valid models: {', '.join(valid)}")


class SourceError(AdapterError):
    """The data source cannot be opened or read, or lacks what the model needs (the message
    names the source and the problem, never a data value)."""


class QueryTimeout(AdapterError, TimeoutError):
    """The query's deadline passed while it was being compiled or run."""
