"""The open model registry: data models are found by name through the `hyperfed.adapters`
entry point group, never through a list in shared code.

A data model is a package plus one entry point naming its adapter class::

    [project.entry-points."hyperfed.adapters"]
    fhir = "hyperfed.adapters.fhir:FhirAdapter"

The class declares everything else as constants: `MODEL`, its capabilities (`SUPPORTS_*`),
the binding kinds it adds (`BINDING_KINDS`), its options. `register()` adds a class at run
time (embedding, tests) exactly as an entry point would.
"""

from __future__ import annotations

import functools
import threading
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from hyperfed.adapters.errors import AdapterError, UnknownAdapter

if TYPE_CHECKING:
    from hyperfed.adapters.base import Adapter
    from hyperfed.adapters.hql.bindings import BindingBase

__all__ = [
    "ENTRY_POINT_GROUP",
    "adapter_classes",
    "binding_kinds",
    "load_adapter_class",
    "model_names",
    "register",
    "unregister",
]

ENTRY_POINT_GROUP = "hyperfed.adapters"

_lock = threading.Lock()
_extra: dict[str, type[Adapter]] = {}


@functools.cache
def _entry_point_classes() -> dict[str, type[Adapter]]:
    from hyperfed.adapters.base import Adapter

    found: dict[str, type[Adapter]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = ep.load()
        except Exception as exc:
            raise AdapterError(
                f"the adapter entry point {ep.name!r} ({ep.value}) cannot be loaded: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if not (isinstance(loaded, type) and issubclass(loaded, Adapter)):
            raise AdapterError(f"entry point {ep.name!r} ({ep.value}) does not name an Adapter")
        if ep.name != loaded.MODEL:
            raise AdapterError(
                f"entry point {ep.name!r} names an adapter whose MODEL is {loaded.MODEL!r}"
            )
        found.setdefault(ep.name, loaded)
    return found


def adapter_classes() -> dict[str, type[Adapter]]:
    """Model name -> adapter class, in entry-point order, then registered ones."""
    with _lock:
        return {**_entry_point_classes(), **_extra}


def model_names() -> list[str]:
    return list(adapter_classes())


def load_adapter_class(name: str) -> type[Adapter]:
    """The adapter class of model `name`; `UnknownAdapter` (listing the valid names) else."""
    classes = adapter_classes()
    if name not in classes:
        raise UnknownAdapter(name, list(classes))
    return classes[name]


def register(cls: type[Adapter]) -> type[Adapter]:
    """Register an adapter class under its `MODEL` (usable as a class decorator)."""
    from hyperfed.adapters.base import Adapter

    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise AdapterError(f"{cls!r} is not an Adapter class")
    with _lock:
        _extra[cls.MODEL] = cls
    binding_kinds.cache_clear()
    return cls


def unregister(model: str) -> None:
    """Forget a model added with `register()` (entry points stay)."""
    with _lock:
        _extra.pop(model, None)
    binding_kinds.cache_clear()


@functools.cache
def binding_kinds() -> dict[str, type[BindingBase]]:
    """Kind name -> binding class: the shared kinds, then those each model declares."""
    from hyperfed.adapters.hql.bindings import SHARED_KINDS

    kinds: dict[str, type[BindingBase]] = {}
    owners: dict[str, str] = {}
    declared = [("hyperfed", k) for k in SHARED_KINDS]
    declared += [(m, k) for m, cls in adapter_classes().items() for k in cls.BINDING_KINDS]
    for owner, kind in declared:
        name = kind.kind_name()
        if name in kinds and kinds[name] is not kind:
            raise AdapterError(
                f"binding kind {name!r} is declared twice ({owners[name]} and {owner})"
            )
        kinds[name], owners[name] = kind, owner
    return kinds
