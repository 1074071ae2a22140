"""The adapter contract: what every data-model package (omop/, fhir/, sdtm/, dicom/) offers.

An adapter is a template (`Adapter`): `count()` is `compile()` then `run()`, and `explain()`
shows the compiled native query with its notes. A new data model implements four things:

- `from_source(source, **options)` (classmethod): open the data source;
- `compile(query, bindings, deadline)`: the native query, as a `NativeQuery` (usually
  built with a `hyperfed.adapters.compiler.CriterionCompiler`), pure;
- `run(native, deadline)`: run it where the data lives, returning *exact* counts — which
  never leave the node: the node service protects them with `hyperfed.adapters.disclosure`;
- `describe()`: facts about the source for operators (never patient-level).

and declares, as class constants, its name (`MODEL`), its capabilities (`SUPPORTS_*`, see
`hyperfed.adapters.features`), any binding kinds of its own (`BINDING_KINDS`) and its
options model (`OPTIONS`). It is registered by an entry point in `hyperfed.adapters`
(`hyperfed.adapters.registry`). Optional hooks: `query_problems` (model-specific checks the
hub runs before fan-out), `resolve_source` (config-relative paths), `check` (a data-quality
`Report` for `hyperfed node check`), `cli` (commands `hyperfed <model> ...`),
`node_commands` (commands `hyperfed node NAME`), `close`, and `facts(dataset, as_of,
deadline)`: the dataset's exact `hyperfed.adapters.facts.ExactFacts` for the FAIR catalogue
(persons, records, ages, years, coding systems, code values, facets), which the node protects
before they leave it (none by default).
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

from hyperfed.adapters.checks import Problem, Report
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.errors import AdapterError, SourceError
from hyperfed.adapters.facts import ExactFacts
from hyperfed.adapters.features import FEATURES
from hyperfed.adapters.hql.bindings import BindingBase, Bindings
from hyperfed.adapters.hql.model import Query, dated
from hyperfed.adapters.protocol import UnsupportedCriterion

if TYPE_CHECKING:
    import typer

__all__ = ["Adapter", "AdapterOptions", "ConfigPath", "ExactCount", "NativeQuery", "OptionPath"]


@dataclass
class ExactCount:
    """True counts. Internal to the node: never serialised over the network."""

    total: int | None
    strata: dict[tuple[str, ...], int] = field(default_factory=dict)
    dimensions: tuple[str, ...] = ()
    unsupported: list[UnsupportedCriterion] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, int] = field(default_factory=dict)
    """further exact figures for the operator (a DICOM node's studies and series): printed
    by `hyperfed node count --exact`, never protected and never sent by the node service."""


@dataclass
class NativeQuery:
    """What `compile()` returns: the model's native query plus what the compiler learnt.

    `unsupported` non-empty means the query cannot be counted here (nothing runs);
    `strata` names the dimensions of a stratified count, in order."""

    unsupported: list[UnsupportedCriterion] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    strata: tuple[str, ...] = ()
    COMMENT: ClassVar[str] = "--"
    """how a note line starts in `explain()` output (SQL comments by default)."""

    def text(self) -> str:
        """The native query as an operator reads it (SQL, HTTP requests ...)."""
        raise NotImplementedError


@dataclass(frozen=True)
class ConfigPath:
    """Marks an option that names a file: in a node config, a relative path (one with a
    folder or a file suffix) is relative to the config's folder, like every path there."""


OptionPath = Annotated[str, ConfigPath()]


def _resolved(value: str, base_dir: Path) -> str:
    path = Path(value).expanduser()
    if value and not path.is_absolute() and ("/" in value or path.suffix):
        return str((base_dir / path).resolve())
    return value


def _marks_path(annotation: Any) -> bool:
    """Whether an annotation is (or unions with) an `OptionPath`."""
    if any(isinstance(m, ConfigPath) for m in getattr(annotation, "__metadata__", ())):
        return True
    return any(_marks_path(a) for a in get_args(annotation))


class AdapterOptions(BaseModel):
    """Options of a data source (`[adapter]` in the node config, CLI flags); a model
    extends this with its own fields (`OptionPath` for files). Unknown options are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @classmethod
    def resolve_paths(cls, values: Mapping[str, Any], base_dir: Path) -> dict[str, Any]:
        """`values` with the relative paths of `OptionPath` options made absolute."""
        out = dict(values)
        for name, info in cls.model_fields.items():
            key = info.alias or name
            value = out.get(key)
            marked = any(isinstance(m, ConfigPath) for m in info.metadata) or _marks_path(
                info.annotation
            )
            if not marked:
                continue
            if isinstance(value, str):
                out[key] = _resolved(value, base_dir)
            elif isinstance(value, list | tuple):
                out[key] = [_resolved(v, base_dir) if isinstance(v, str) else v for v in value]
        return out


class Adapter(ABC):
    MODEL: ClassVar[str]
    TITLE: ClassVar[str] = ""
    SUPPORTS_TEMPORAL: ClassVar[bool] = False
    SUPPORTS_RELATIVE_WINDOWS: ClassVar[bool] = False
    SUPPORTS_VALUES: ClassVar[bool] = False
    SUPPORTS_OCCURRENCES: ClassVar[bool] = False
    SUPPORTS_DESCENDANTS: ClassVar[bool] = False
    SUPPORTS_STRATIFY: ClassVar[bool] = False
    SUPPORTS_BODY_SITE: ClassVar[bool] = False
    SUPPORTS_ATTRIBUTES: ClassVar[bool] = False
    BINDING_KINDS: ClassVar[tuple[type[BindingBase], ...]] = ()
    NATIVE_SYSTEMS: ClassVar[frozenset[str] | None] = None
    """Code systems the model's data carry (canonical URIs); None: any. For a `code` of
    another system the hub sends the binding of the ontology concept with that code."""
    OPTIONS: ClassVar[type[AdapterOptions]] = AdapterOptions

    # -- declarations ----------------------------------------------------------------------
    @classmethod
    def declared_features(cls) -> dict[str, bool]:
        """What the model can evaluate: its `SUPPORTS_*` constants, by feature name."""
        return {f.name: bool(getattr(cls, f.constant)) for f in FEATURES}

    def features(self) -> dict[str, bool]:
        """What this adapter can evaluate on its source: the declared features, which an
        instance may narrow (e.g. a source without a terminology hierarchy)."""
        return self.declared_features()

    @classmethod
    def options(cls, values: Mapping[str, Any] | None = None) -> AdapterOptions:
        """Validate source options; `SourceError` names the offending option."""
        try:
            return cls.OPTIONS.model_validate(dict(values or {}))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "options"
            raise SourceError(f"{cls.MODEL} option {where}: {first['msg']}") from exc

    @classmethod
    def resolve_source(cls, source: str, base_dir: Path) -> str:
        """`source` with a relative file path made absolute against `base_dir` (the node
        config's folder). URLs (`scheme://...`) are left as they are."""
        if "://" in source:
            return source
        path = Path(source).expanduser()
        return str(path if path.is_absolute() else (base_dir / path).resolve())

    @classmethod
    def query_problems(cls, query: Query) -> list[dict[str, Any]]:
        """Model-specific problems of a query the hub refuses with 422 before fan-out (each
        with `path`, `message`, `value`); none by default."""
        return []

    @classmethod
    def check(cls, source: str, **options: Any) -> Report:
        """A data-quality report of a source (`hyperfed node check`). By default: whether it
        opens, and what the adapter notes about it; models override this with real checks."""
        report = Report(source=source, model=cls.MODEL)
        try:
            adapter = cls.from_source(source, **options)
        except AdapterError as exc:
            report.add(Problem("error", None, None, None, "source.unreadable", str(exc)))
            return report
        try:
            for text in adapter.describe():
                report.note(text)
        finally:
            adapter.close()
        return report

    @classmethod
    def cli(cls) -> typer.Typer | None:
        """Commands of this model, mounted as `hyperfed <MODEL> ...`; none by default."""
        return None

    @classmethod
    def node_commands(cls) -> dict[str, Callable[..., Any]]:
        """Commands of this model beside the generic ones, mounted as `hyperfed node NAME`
        (name -> a typer command function, e.g. DICOM's `index-dicom`); none by default.
        The generic names (serve, count, explain, check, key) cannot be taken."""
        return {}

    # -- what a model implements -------------------------------------------------------------
    @classmethod
    @abstractmethod
    def from_source(cls, source: str, **options: Any) -> Adapter:
        """Open the adapter on a data source (a URL or path); `options` as `cls.options()`
        validates them. Raises `SourceError` when the source cannot be used."""

    @abstractmethod
    def compile(
        self, query: Query, bindings: Bindings, deadline: Deadline | None = None
    ) -> NativeQuery:
        """The native query for a dated query (pure given what the adapter inspected)."""

    @abstractmethod
    def run(self, native: NativeQuery, deadline: Deadline | None = None) -> ExactCount:
        """Exact counts (`total`, and `strata` keyed by labels in `native.strata` order)."""

    @abstractmethod
    def describe(self) -> list[str]:
        """Facts about the data source for operators (never patient-level)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def facts(
        self, dataset: str, as_of: dt.date, deadline: Deadline | None = None
    ) -> ExactFacts | None:
        """The exact facts of `dataset` (a `[[datasets]]` id of the node config) on `as_of`,
        computed where the data lives, for the catalogue: `ExactFacts` never leave the node
        (the node protects them with `protect_facts` under its policy). None (the default):
        this model computes no facts; the dataset is published with its description only.
        A model whose source holds one dataset ignores `dataset`."""
        return None

    # -- the template ------------------------------------------------------------------------
    def count(
        self, query: Query, bindings: Bindings, deadline: Deadline | None = None
    ) -> ExactCount:
        """compile() then run(); an unsupported criterion gives no count at all."""
        native = self.compile(dated(query), bindings, deadline)
        if native.unsupported:
            return ExactCount(None, unsupported=native.unsupported, notes=native.notes)
        if deadline is not None:
            deadline.check()
        result = self.run(native, deadline)
        notes = list(dict.fromkeys([*native.notes, *result.notes]))
        return ExactCount(result.total, result.strata, native.strata, [], notes, result.details)

    def explain(self, query: Query, bindings: Bindings) -> str:
        """The native query this adapter would run, after its notes (and, when it cannot
        count, the unsupported criteria instead)."""
        native = self.compile(dated(query), bindings, None)
        c = native.COMMENT
        head = [f"{c} {n}" for n in native.notes]
        if native.unsupported:
            head += [f"{c} unsupported {u.path}: {u.reason}" for u in native.unsupported]
            return "\n".join(head)
        return "\n".join([*head, native.text()])
