"""The OMOP CDM adapter: introspect, resolve codes, compile with sqlglot, run."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field

from hyperfed.adapters.base import Adapter, AdapterOptions, ExactCount, NativeQuery
from hyperfed.adapters.cache import LookupCache
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.errors import SourceError
from hyperfed.adapters.facts import ExactFacts
from hyperfed.adapters.hql.bindings import Bindings
from hyperfed.adapters.hql.model import Query
from hyperfed.adapters.omop.facts import omop_facts
from hyperfed.adapters.omop.plans import compile_count
from hyperfed.adapters.omop.schema import CdmSchema, inspect_schema, verify_person_links
from hyperfed.adapters.omop.vocab import (
    CodeRef,
    ResolvedCode,
    VocabLookup,
    code_refs,
    lookup,
    unit_codes,
)
from hyperfed.adapters.sql import Runner, SqlQuery, open_sql_source, resolve_sql_source

__all__ = ["OmopAdapter", "OmopOptions"]


class OmopOptions(AdapterOptions):
    db_schema: Annotated[str | None, Field(alias="schema")] = None
    """database schema of the CDM tables (PostgreSQL: public; DuckDB: main)."""


class OmopAdapter(Adapter):
    MODEL: ClassVar[str] = "omop"
    TITLE: ClassVar[str] = "OMOP CDM 5.3 / 5.4 (DuckDB, PostgreSQL)"
    SUPPORTS_TEMPORAL = True
    SUPPORTS_RELATIVE_WINDOWS = True
    SUPPORTS_VALUES = True
    SUPPORTS_OCCURRENCES = True
    SUPPORTS_DESCENDANTS = True
    SUPPORTS_STRATIFY = True
    OPTIONS = OmopOptions

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.schema: CdmSchema = verify_person_links(runner, inspect_schema(runner))
        if self.schema.table("person") is None:
            raise SourceError(f"{runner.describe()} has no usable OMOP PERSON table")
        self._codes: LookupCache[CodeRef, ResolvedCode] = LookupCache()
        self._units: LookupCache[str, tuple[int, ...]] = LookupCache(missing=())
        self._vocab_notes: dict[str, None] = {}  # facts about the vocabulary, in order
        self._lock = threading.Lock()

    @classmethod
    def from_source(cls, source: str, **options: Any) -> OmopAdapter:
        opts = cls.options(options)
        assert isinstance(opts, OmopOptions)
        return cls(open_sql_source(source, opts.db_schema))

    @classmethod
    def resolve_source(cls, source: str, base_dir: Path) -> str:
        return resolve_sql_source(source, base_dir)

    def _vocab(self, query: Query, bindings: Bindings, deadline: Deadline | None) -> VocabLookup:
        refs, units = code_refs(query, bindings), unit_codes(query)
        fetched: list[VocabLookup] = []

        def codes(missing: set[CodeRef]) -> dict[CodeRef, ResolvedCode]:
            found = lookup(self.runner, self.schema, missing, (), deadline)
            fetched.append(found)
            return found.codes

        def unit_ids(missing: set[str]) -> dict[str, tuple[int, ...]]:
            return lookup(self.runner, self.schema, (), missing, deadline).units

        resolved = self._codes.get_many(refs, codes)
        found_units = self._units.get_many(units, unit_ids)
        with self._lock:
            self._vocab_notes.update(dict.fromkeys(n for f in fetched for n in f.notes))
            notes = tuple(self._vocab_notes)
        return VocabLookup(resolved, {u: ids for u, ids in found_units.items() if ids}, notes)

    def compile(
        self, query: Query, bindings: Bindings, deadline: Deadline | None = None
    ) -> SqlQuery:
        vocab = self._vocab(query, bindings, deadline)
        return compile_count(
            query, bindings, self.schema, vocab, self.runner.dialect, self.features(), deadline
        )

    def run(self, native: NativeQuery, deadline: Deadline | None = None) -> ExactCount:
        assert isinstance(native, SqlQuery)
        rows = self.runner.fetch(native.render(self.runner.dialect), deadline)
        if not native.strata:
            return ExactCount(int(rows[0][0]))
        strata = {tuple(str(v) for v in row[:-1]): int(row[-1]) for row in rows}
        return ExactCount(sum(strata.values()), strata)

    def describe(self) -> list[str]:
        return [
            f"{self.runner.describe()}, OMOP CDM {self.schema.cdm_version}",
            *self.schema.notes,
        ]

    def facts(self, dataset: str, as_of: dt.date, deadline: Deadline | None = None) -> ExactFacts:
        """The CDM's facts (one database is one dataset: `dataset` is not used); see
        `hyperfed.adapters.omop.facts`."""
        return omop_facts(self.runner, self.schema, as_of, deadline)

    def close(self) -> None:
        self.runner.close()
