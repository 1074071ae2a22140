"""The FHIR adapter (the contract): files loaded into DuckDB and flattened by the shipped
ViewDefinitions, queried with SQL; ``http(s)://`` sources go to the REST backend
(`hyperfed.adapters.fhir.rest`).

    adapter = FhirAdapter.from_source("export/", on_error="refuse", vocabulary="athena/")
    adapter.count(query, bindings).total

Options (`[adapter]` in the node config, ``--option KEY=VALUE`` on the command line) are
`FhirOptions`. Bad input is reported at start-up (file, line or Bundle entry, reason — logged
as a warning, counted in `describe()`); with ``on_error = "refuse"`` the node does not start.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field

from hyperfed.adapters.base import Adapter, AdapterOptions, ExactCount, NativeQuery, OptionPath
from hyperfed.adapters.checks import Problem, Report
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.errors import SourceError
from hyperfed.adapters.facts import ExactFacts
from hyperfed.adapters.hql.bindings import Bindings
from hyperfed.adapters.hql.model import Query
from hyperfed.adapters.hql.systems import OMOP_CONCEPT_SYSTEM, SYSTEMS
from hyperfed.adapters.sql import DuckDBRunner, SqlQuery

if TYPE_CHECKING:
    import typer

    from hyperfed.adapters.fhir.events import EventTable
    from hyperfed.adapters.fhir.index import StoreIndex
    from hyperfed.adapters.fhir.load import FhirStore
    from hyperfed.adapters.fhir.vocab import AthenaVocabulary, CodeRef, Expansion

__all__ = ["FhirAdapter", "FhirOptions", "is_url"]

log = logging.getLogger("hyperfed.adapters.fhir")


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


class FhirOptions(AdapterOptions):
    on_error: Literal["serve", "refuse"] = "serve"
    """bad input: serve what loads (and report the rest at start-up), or refuse to start"""
    cache: OptionPath | None = None
    """a DuckDB file for the loaded store, reused while the input files are unchanged"""
    views: tuple[OptionPath, ...] = ()
    """ViewDefinition files or folders replacing (same `name`) or adding views"""
    vocabulary: OptionPath | None = None
    """an OMOP vocabulary export (Athena CONCEPT / CONCEPT_ANCESTOR CSVs): descendants"""
    threads: Annotated[int | None, Field(ge=1)] = None
    """DuckDB threads (default: all cores)"""
    page_size: Annotated[int, Field(ge=1, le=10000)] = 1000
    """REST: resources per page (`_count`)"""
    codes_per_request: Annotated[int, Field(ge=1, le=1000)] = 50
    """REST: codes in one token parameter (longer lists are split over several requests)"""
    timeout: Annotated[float, Field(gt=0)] = 30.0
    """REST: seconds per HTTP request (the query's deadline caps it)"""
    headers: dict[str, str] = Field(default_factory=dict)
    """REST: HTTP headers sent with every request (e.g. Authorization)"""
    verify_tls: bool = True
    """REST: verify the server's TLS certificate"""
    server_below: bool = False
    """REST: the server expands descendants itself (`:below` on token parameters: a
    terminology service behind it); otherwise codes are expanded here (`vocabulary`)"""


def _native_systems() -> frozenset[str]:
    return frozenset(s.uri for s in SYSTEMS if s.uri != OMOP_CONCEPT_SYSTEM)


class FhirAdapter(Adapter):
    MODEL: ClassVar[str] = "fhir"
    TITLE: ClassVar[str] = "FHIR R4 (Bundles, Bulk NDJSON, or a FHIR server's search API)"
    SUPPORTS_TEMPORAL = True
    SUPPORTS_RELATIVE_WINDOWS = True
    SUPPORTS_VALUES = True
    SUPPORTS_OCCURRENCES = True
    SUPPORTS_DESCENDANTS = True
    """only with an OMOP vocabulary export (`features()` narrows it otherwise)"""
    SUPPORTS_STRATIFY = True
    SUPPORTS_BODY_SITE = True
    NATIVE_SYSTEMS = _native_systems()
    """FHIR data carry standard codes; OMOP concept ids are translated by the hub."""
    OPTIONS = FhirOptions

    def __init__(
        self, store: FhirStore, options: FhirOptions, vocab: AthenaVocabulary | None = None
    ) -> None:
        from hyperfed.adapters.fhir.events import EVENT_TABLES, PATIENT_COLUMNS
        from hyperfed.adapters.fhir.index import read_index

        self.store = store
        self.opts = options
        self.vocab = vocab
        self.index: StoreIndex = read_index(store.con, store.tables)
        if not self.index.has("patient", *PATIENT_COLUMNS):
            raise SourceError(
                f"{store.report.source}: no usable patient view (columns "
                f"{', '.join(PATIENT_COLUMNS)}); a replaced view must keep them"
            )
        self._notes: list[str] = []
        usable: list[EventTable] = []
        for t in EVENT_TABLES:
            if t.view not in self.index.tables:
                continue
            missing = [c for c in t.columns if not self.index.has(t.view, c)]
            if missing:
                self._notes.append(
                    f"view {t.view} lacks column(s) {', '.join(missing)}: it is not queried"
                )
                continue
            usable.append(t)
        self.usable: tuple[EventTable, ...] = tuple(usable)
        name = f"FHIR store {store.path}" if store.path else "FHIR store (in memory)"
        self.runner = DuckDBRunner.over(store.con, name)
        if not store.report.ok:
            log.warning("FHIR input problems at start-up:\n%s", store.report.format(limit=50))

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def from_source(cls, source: str, **options: Any) -> FhirAdapter:
        opts = cls.options(options)
        assert isinstance(opts, FhirOptions)
        if is_url(source):
            from hyperfed.adapters.fhir.rest.adapter import FhirRestAdapter

            return FhirRestAdapter.open(source, opts)
        from hyperfed.adapters.fhir.errors import FhirError
        from hyperfed.adapters.fhir.load import load_fhir
        from hyperfed.adapters.fhir.viewset import adapter_views

        vocab = cls.open_vocabulary(opts)
        try:
            store = load_fhir(
                source,
                opts.cache,
                on_error=opts.on_error,
                views=adapter_views(opts.views),
                threads=opts.threads,
            )
        except FhirError as exc:
            if vocab is not None:
                vocab.close()
            raise SourceError(str(exc)) from exc
        try:
            return cls(store, opts, vocab)
        except BaseException:
            store.close()
            if vocab is not None:
                vocab.close()
            raise

    @staticmethod
    def open_vocabulary(opts: FhirOptions) -> AthenaVocabulary | None:
        if opts.vocabulary is None:
            return None
        from hyperfed.adapters.fhir.vocab import AthenaVocabulary

        cache = f"{opts.cache}.vocabulary.duckdb" if opts.cache and not is_url(opts.cache) else None
        return AthenaVocabulary.open(opts.vocabulary, cache)

    # -- capabilities ----------------------------------------------------------------------
    def features(self) -> dict[str, bool]:
        features = self.declared_features()
        features["descendants"] = self.vocab is not None
        return features

    # -- the contract ------------------------------------------------------------------------
    def expansions(
        self, query: Query, bindings: Bindings, deadline: Deadline | None
    ) -> dict[CodeRef, Expansion]:
        """The codes each code of `query` stands for here (I/O: the vocabulary export)."""
        if self.vocab is None:
            return {}
        from hyperfed.adapters.omop.vocab import code_refs

        return self.vocab.expand(code_refs(query, bindings), deadline)

    def compile(
        self, query: Query, bindings: Bindings, deadline: Deadline | None = None
    ) -> NativeQuery:
        from hyperfed.adapters.fhir.plans import compile_count

        expansions = self.expansions(query, bindings, deadline)
        return compile_count(
            query, bindings, self.index, expansions, self.features(), self.usable, deadline
        )

    def run(self, native: NativeQuery, deadline: Deadline | None = None) -> ExactCount:
        assert isinstance(native, SqlQuery)
        rows = self.runner.fetch(native.render("duckdb"), deadline)
        if not native.strata:
            return ExactCount(int(rows[0][0]))
        strata = {tuple(str(v) for v in row[:-1]): int(row[-1]) for row in rows}
        return ExactCount(sum(strata.values()), strata)

    def describe(self) -> list[str]:
        report = self.store.report
        loaded = ", ".join(f"{t} {n:,}" for t, n in sorted(report.loaded.items()))
        lines = [
            f"FHIR R4 files {report.source}: {report.resources:,} resources in "
            f"{len(report.files)} file(s){' (from the cache)' if report.from_cache else ''}"
            + (f": {loaded}" if loaded else ""),
        ]
        if report.skipped:
            skipped = ", ".join(f"{t} {n:,}" for t, n in sorted(report.skipped.items()))
            lines.append(f"resource types no view reads, skipped: {skipped}")
        if report.problem_counts:
            kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(report.problem_counts.items()))
            lines.append(
                f"input problems (served what loaded; details in the start-up log and "
                f"'hyperfed node check'): {kinds}"
            )
        lines.append(
            self.vocab.describe()
            if self.vocab is not None
            else "no OMOP vocabulary export: descendants of codes are not included"
        )
        return [*lines, *self._notes]

    @classmethod
    def check(cls, source: str, **options: Any) -> Report:
        """Validate every resource with fhir.resources (R4): `check_source`; a FHIR server is
        checked by opening it."""
        if is_url(source):
            return super().check(source, **options)
        from hyperfed.adapters.fhir.check import check_source

        try:
            cls.options(options)
        except SourceError as exc:
            report = Report(source=source, model=cls.MODEL)
            report.add(Problem("error", None, None, None, "options", str(exc)))
            return report
        return check_source(source)

    @classmethod
    def cli(cls) -> typer.Typer:
        from hyperfed.adapters.fhir.cli import app

        return app

    @classmethod
    def resolve_source(cls, source: str, base_dir: Path) -> str:
        """A relative file path against the node config's folder; URLs as they are."""
        return super().resolve_source(source, base_dir)

    def facts(
        self, dataset: str, as_of: dt.date, deadline: Deadline | None = None
    ) -> ExactFacts | None:
        """The store's facts (one source is one dataset: `dataset` is not used); see
        `hyperfed.adapters.fhir.facts`."""
        from hyperfed.adapters.fhir.facts import fhir_facts

        tables = [(t, self.index.tables[t.view]) for t in self.usable]
        return fhir_facts(self.runner, self.index.tables["patient"], tables, as_of, deadline)

    def close(self) -> None:
        self.store.close()
        if self.vocab is not None:
            self.vocab.close()
