"""The OMOP CDM adapter: introspect, resolve codes, compile with sqlglot, run."""

from __future__ import annotations

import datetime as dt
import threading
from typing import ClassVar

from hyperfed.adapters.base import Adapter, ExactCount
from hyperfed.adapters.hql.bindings import Bindings
from hyperfed.adapters.hql.model import Query
from hyperfed.adapters.omop.compiler import Compiled
from hyperfed.adapters.omop.plans import compile_count
from hyperfed.adapters.omop.runner import Runner, open_source
from hyperfed.adapters.omop.schema import CdmSchema, inspect_schema, verify_person_links
from hyperfed.adapters.omop.vocab import (
    CodeRef,
    ResolvedCode,
    VocabLookup,
    code_refs,
    lookup,
    unit_codes,
)

__all__ = ["OmopAdapter"]


class OmopAdapter(Adapter):
    MODEL: ClassVar[str] = "omop"
    SUPPORTS_TEMPORAL = True
    SUPPORTS_RELATIVE_WINDOWS = True
    SUPPORTS_VALUES = True
    SUPPORTS_OCCURRENCES = True
    SUPPORTS_DESCENDANTS = True
    SUPPORTS_STRATIFY = True

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.schema: CdmSchema = verify_person_links(runner, inspect_schema(runner))
        if self.schema.table("person") is None:
            raise ValueError(f"{runner.describe()} has no usable OMOP PERSON table")
        self._codes: dict[CodeRef, ResolvedCode] = {}
        self._units: dict[str, tuple[int, ...]] = {}
        self._vocab_notes: tuple[str, ...] = ()
        self._lock = threading.Lock()

    @classmethod
    def from_source(cls, url: str, schema: str | None = None) -> OmopAdapter:
        return cls(open_source(url, schema))

    def _vocab(self, query: Query, bindings: Bindings) -> VocabLookup:
        refs = code_refs(query, bindings)
        units = unit_codes(query)
        with self._lock:
            missing_refs = refs - self._codes.keys()
            missing_units = units - self._units.keys()
        if missing_refs or missing_units:
            found = lookup(self.runner, self.schema, missing_refs, missing_units)
            with self._lock:
                self._codes.update(found.codes)
                self._units.update(found.units)
                self._units.update({u: () for u in missing_units if u not in found.units})
                self._vocab_notes = tuple(dict.fromkeys((*self._vocab_notes, *found.notes)))
        with self._lock:
            return VocabLookup(
                {r: self._codes[r] for r in refs},
                {u: self._units[u] for u in units if self._units.get(u)},
                self._vocab_notes,
            )

    def compile(self, query: Query, bindings: Bindings, as_of: dt.date) -> Compiled:
        vocab = self._vocab(query, bindings)
        return compile_count(query, bindings, self.schema, vocab, as_of, self.runner.dialect)

    def count(
        self, query: Query, bindings: Bindings, as_of: dt.date, timeout_s: float | None = None
    ) -> ExactCount:
        compiled = self.compile(query, bindings, as_of)
        if compiled.sql is None:
            return ExactCount(None, unsupported=compiled.unsupported, notes=compiled.notes)
        rows = self.runner.fetch(compiled.render(self.runner.dialect), timeout_s)
        if not compiled.strata:
            return ExactCount(int(rows[0][0]), notes=compiled.notes)
        strata = {tuple(str(v) for v in row[:-1]): int(row[-1]) for row in rows}
        return ExactCount(sum(strata.values()), strata, compiled.strata, notes=compiled.notes)

    def explain(self, query: Query, bindings: Bindings, as_of: dt.date) -> str:
        compiled = self.compile(query, bindings, as_of)
        head = [f"-- {n}" for n in compiled.notes]
        if compiled.sql is None:
            head += [f"-- unsupported {u.path}: {u.reason}" for u in compiled.unsupported]
            return "\n".join(head)
        return "\n".join([*head, compiled.render(self.runner.dialect, pretty=True) + ";"])

    def describe(self) -> list[str]:
        return [
            f"{self.runner.describe()}, OMOP CDM {self.schema.cdm_version}",
            *self.schema.notes,
        ]

    def close(self) -> None:
        self.runner.close()
