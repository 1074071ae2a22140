"""The criterion-compiler base: one walk over HQL for every data model.

A model's compiler subclasses `CriterionCompiler[T]`, where `T` is what it builds for one
criterion (a sqlglot predicate, a Python predicate, a set of REST searches ...), and
overrides only what differs (DESIGN principle 3):

- the combinators `conjunction`, `disjunction`, `negation`, `always`, `never`;
- `age_today` (an `age` criterion on the reference date);
- one method per binding kind it reads, named in `BINDINGS` (`coded` for codes; `sex` and
  `everyone` for person concepts ...).

The base does the rest, the same way for every model:

- **dispatch**: `NODES` maps each AST node type to a method (sqlglot's generator style), and
  `BINDINGS` maps each binding kind to a method; a kind the model does not list is reported
  as unsupported ("bound to X data, which this node does not read");
- **JSON paths** of every criterion (`criteria.all[1].any[0]`), as the researcher wrote it;
- **bookkeeping**: `reject()` records an unsupported criterion (path and reason) and returns
  `never()`, so the result is refused, never silently broadened or narrowed; `note()` adds a
  result note once;
- **capability gating**: an event filter whose feature the adapter does not declare
  (`hyperfed.adapters.features`) is unsupported at `path.<filter>`; `stratify` likewise;
- **person concepts** (sex, everyone) take no event filters and cannot anchor a `within`:
  checked here, once, with `person_concept_misuse`;
- **anchors** (`within.of`) take no `occurrences` or `within` of their own;
- **deadline**: checked before every criterion (`QueryTimeout`).
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar, Generic, TypeVar

from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.features import FILTER_FEATURES
from hyperfed.adapters.hql.bindings import (
    BindingBase,
    Bindings,
    CodesBinding,
    EveryoneBinding,
    PersonBinding,
    SexBinding,
    Unexpressible,
    code_key,
    person_concept_misuse,
)
from hyperfed.adapters.hql.model import (
    AgeCriterion,
    AllCriterion,
    AnyCriterion,
    Criterion,
    EventCriterion,
    NotCriterion,
    Query,
)
from hyperfed.adapters.protocol import UnsupportedCriterion

__all__ = ["CriterionCompiler", "event_binding"]

T = TypeVar("T")

_FILTERS = tuple(FILTER_FEATURES)


def event_binding(e: EventCriterion, bindings: Bindings) -> BindingBase | None:
    """What an event criterion stands for: its concept's binding; for a code, the binding
    the hub translated it to (for models that do not read its system; without its narrower
    concepts when `descendants` is false) or a codes binding of the code itself; None for a
    concept the hub did not resolve for this model."""
    if e.code is not None:
        return bindings.get(code_key(e.code, e.descendants)) or CodesBinding(codes=[e.code])
    return bindings.get(e.concept or "")


class CriterionCompiler(ABC, Generic[T]):
    MODEL: ClassVar[str] = "this"
    """The data model's name, for messages."""
    NODES: ClassVar[dict[type, str]] = {
        AllCriterion: "all_of",
        AnyCriterion: "any_of",
        NotCriterion: "none_of",
        AgeCriterion: "age_today",
        EventCriterion: "event",
    }
    FLAT_SYSTEMS: ClassVar[frozenset[str]] = frozenset()
    """Code systems without a hierarchy (DICOM DCM modality codes ...): asking for their
    descendants narrows nothing, so no note says they were not included."""
    BINDINGS: ClassVar[dict[type[BindingBase], str]] = {
        EveryoneBinding: "everyone",
        SexBinding: "sex",
        CodesBinding: "coded",
    }

    def __init__(
        self,
        query: Query,
        bindings: Bindings,
        features: Mapping[str, bool],
        deadline: Deadline | None = None,
    ) -> None:
        if query.as_of is None:
            raise ValueError("compile a dated query (hyperfed.adapters.hql.model.dated)")
        self.query = query
        self.bindings = bindings
        self.features = features
        self.deadline = deadline
        self.as_of: dt.date = query.as_of
        self.unsupported: list[UnsupportedCriterion] = []
        self.notes: list[str] = []

    # -- bookkeeping ---------------------------------------------------------------------
    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def reject(self, path: str, reason: str) -> T:
        """Record `path` as unsupported (the query gets no count) and stand in `never()`."""
        if not any(u.path == path and u.reason == reason for u in self.unsupported):
            self.unsupported.append(UnsupportedCriterion(path=path, reason=reason))
        return self.never()

    @property
    def rejected(self) -> bool:
        return bool(self.unsupported)

    def gate_query(self) -> bool:
        """Query-level gating (stratify); False when something was rejected."""
        if self.query.stratify is not None and not self.features.get("stratify", False):
            self.reject("stratify", f"the {self.MODEL} node cannot break counts down by stratum")
            return False
        return True

    # -- dispatch ------------------------------------------------------------------------
    def criterion(self, c: Criterion, path: str = "criteria") -> T:
        if self.deadline is not None:
            self.deadline.check()
        method: Callable[[Criterion, str], T] = getattr(self, self.NODES[type(c)])
        return method(c, path)

    def all_of(self, c: AllCriterion, path: str) -> T:
        return self.conjunction(
            [self.criterion(x, f"{path}.all[{i}]") for i, x in enumerate(c.all)]
        )

    def any_of(self, c: AnyCriterion, path: str) -> T:
        return self.disjunction(
            [self.criterion(x, f"{path}.any[{i}]") for i, x in enumerate(c.any)]
        )

    def none_of(self, c: NotCriterion, path: str) -> T:
        return self.negation(self.criterion(c.not_, f"{path}.not"))

    def event(self, e: EventCriterion, path: str) -> T:
        binding = self.admit(e, path)
        if binding is None:
            return self.never()
        name = self._method_for(binding, e, path)
        if name is None:
            return self.never()
        method: Callable[[EventCriterion, BindingBase, str], T] = getattr(self, name)
        return method(e, binding, path)

    # -- rules common to every model -------------------------------------------------------
    def admit(self, e: EventCriterion, path: str) -> BindingBase | None:
        """The binding of `e` once every model-neutral rule holds; None (and the reason
        recorded) when `e` cannot be evaluated here."""
        binding = self.resolve(e, path)
        if binding is None:
            return None
        if isinstance(binding, PersonBinding):
            misuse = person_concept_misuse(e)
            if misuse is not None:
                self.reject(path, misuse)
                return None
            return binding
        ok = self.gate_filters(e, path)
        if e.within is not None:
            ok = self.admit_anchor(e.within.of, f"{path}.within.of") is not None and ok
        return binding if ok else None

    def admit_anchor(self, of: EventCriterion, path: str) -> BindingBase | None:
        """The binding of a `within.of` anchor: an event (not a person concept), without
        `occurrences` or `within` of its own."""
        if of.occurrences is not None or of.within is not None:
            self.reject(path, "an anchor takes no 'occurrences' or 'within' of its own")
            return None
        binding = self.resolve(of, path)
        if binding is None:
            return None
        if isinstance(binding, PersonBinding):
            self.reject(path, f"{of.concept} describes a person, not an event: it cannot anchor")
            return None
        if type(binding) not in self.BINDINGS:
            self.reject(path, self._unread(of, binding))
            return None
        return binding if self.gate_filters(of, path) else None

    def resolve(self, e: EventCriterion, path: str) -> BindingBase | None:
        binding = event_binding(e, self.bindings)
        if binding is None:
            self.reject(path, f"concept {e.concept} was not resolved for {self.MODEL}")
            return None
        if isinstance(binding, Unexpressible):
            self.reject(path, binding.reason)
            return None
        return binding

    def gate_filters(self, e: EventCriterion, path: str) -> bool:
        ok = True
        for key in _FILTERS:
            if getattr(e, key) is None:
                continue
            feature = FILTER_FEATURES[key]
            if not self.features.get(feature, False):
                self.reject(
                    f"{path}.{key}",
                    f"the {self.MODEL} data model cannot evaluate '{key}' on an event",
                )
                ok = False
        if (
            e.descendants
            and e.code is not None
            and not self.features.get("descendants")
            and e.code.system not in self.FLAT_SYSTEMS
        ):
            self.note(
                f"{path}: this node has no terminology hierarchy: descendants of "
                f"{e.code.system}|{e.code.code} are not included"
            )
        return ok

    def _method_for(self, binding: BindingBase, e: EventCriterion, path: str) -> str | None:
        name = self.BINDINGS.get(type(binding))
        if name is None:
            self.reject(path, self._unread(e, binding))
        return name

    def _unread(self, e: EventCriterion, binding: BindingBase) -> str:
        return (
            f"concept {e.concept} is bound to {binding.kind} data, which a {self.MODEL} "
            "node does not read"
        )

    # -- what a model implements -----------------------------------------------------------
    @abstractmethod
    def conjunction(self, parts: Sequence[T]) -> T: ...

    @abstractmethod
    def disjunction(self, parts: Sequence[T]) -> T: ...

    @abstractmethod
    def negation(self, part: T) -> T: ...

    @abstractmethod
    def always(self) -> T: ...

    @abstractmethod
    def never(self) -> T: ...

    @abstractmethod
    def age_today(self, c: AgeCriterion, path: str) -> T: ...

    def everyone(self, e: EventCriterion, binding: EveryoneBinding, path: str) -> T:
        return self.always()

    @abstractmethod
    def sex(self, e: EventCriterion, binding: SexBinding, path: str) -> T: ...

    @abstractmethod
    def coded(self, e: EventCriterion, binding: CodesBinding, path: str) -> T: ...
