"""The adapter contract: what every data-model package (omop/, fhir/, sdtm/, dicom/) offers.

An adapter compiles a bound query into its native query, runs it where the data lives and
returns *exact* counts — which never leave the node: the node service protects them with
`adapters.disclosure` before anything is returned. Capabilities are class constants
(DESIGN principle 3), and adapters are found by name through the `hyperfed.adapters`
entry point group (`load_adapter_class`).

Errors::

    AdapterError
    ├── UnknownAdapter       no adapter of that name (lists the valid names)
    └── SourceError          (adapters.omop.runner) the data source cannot be read
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import ClassVar

from hyperfed.adapters.hql.bindings import Bindings
from hyperfed.adapters.hql.model import Query
from hyperfed.adapters.protocol import UnsupportedCriterion

__all__ = ["Adapter", "AdapterError", "ExactCount", "UnknownAdapter", "load_adapter_class"]


class AdapterError(Exception):
    """Base of adapter errors."""


class UnknownAdapter(AdapterError):
    def __init__(self, name: str, valid: list[str]) -> None:
        self.name = name
        super().__init__(f"unknown data model {name!r}; valid models: {', '.join(valid)}")


@dataclass
class ExactCount:
    """True counts. Internal to the node: never serialised over the network."""

    total: int | None
    strata: dict[tuple[str, ...], int] = field(default_factory=dict)
    dimensions: tuple[str, ...] = ()
    unsupported: list[UnsupportedCriterion] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Adapter(ABC):
    MODEL: ClassVar[str]
    SUPPORTS_TEMPORAL: ClassVar[bool] = False
    SUPPORTS_RELATIVE_WINDOWS: ClassVar[bool] = False
    SUPPORTS_VALUES: ClassVar[bool] = False
    SUPPORTS_OCCURRENCES: ClassVar[bool] = False
    SUPPORTS_DESCENDANTS: ClassVar[bool] = False
    SUPPORTS_STRATIFY: ClassVar[bool] = False

    @classmethod
    def features(cls) -> dict[str, bool]:
        return {
            "temporal": cls.SUPPORTS_TEMPORAL,
            "relative_windows": cls.SUPPORTS_RELATIVE_WINDOWS,
            "values": cls.SUPPORTS_VALUES,
            "occurrences": cls.SUPPORTS_OCCURRENCES,
            "descendants": cls.SUPPORTS_DESCENDANTS,
            "stratify": cls.SUPPORTS_STRATIFY,
        }

    @classmethod
    @abstractmethod
    def from_source(cls, url: str, schema: str | None = None) -> Adapter:
        """Open the adapter on a data source URL (e.g. duckdb:///path, postgresql://...)."""

    @abstractmethod
    def count(
        self, query: Query, bindings: Bindings, as_of: dt.date, timeout_s: float | None = None
    ) -> ExactCount: ...

    @abstractmethod
    def explain(self, query: Query, bindings: Bindings, as_of: dt.date) -> str: ...

    @abstractmethod
    def describe(self) -> list[str]:
        """Facts about the data source for operators (never patient-level)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def load_adapter_class(name: str) -> type[Adapter]:
    eps = {ep.name: ep for ep in entry_points(group="hyperfed.adapters")}
    if name not in eps:
        builtin: dict[str, str] = {"omop": "adapters.omop:OmopAdapter"}
        if name in builtin:
            module, _, attr = builtin[name].partition(":")
            cls = getattr(__import__(module, fromlist=[attr]), attr)
            return cls
        raise UnknownAdapter(name, sorted({*eps, *builtin}))
    loaded = eps[name].load()
    if not (isinstance(loaded, type) and issubclass(loaded, Adapter)):
        raise AdapterError(f"entry point {name!r} does not name an Adapter class")
    return loaded
