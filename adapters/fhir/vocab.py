"""Descendants for a FHIR node: an OMOP vocabulary export (Athena CSVs) the operator points
the node at (option `vocabulary`).

    vocab = AthenaVocabulary.open("athena/")     # CONCEPT.csv, CONCEPT_ANCESTOR.csv ...
    ref = CodeRef("http://snomed.info/sct", "363358000", True)
    vocab.expand({ref})[ref].codes               # {(system uri, code), ...}

A FHIR store has no terminology hierarchy of its own. With an export, a code is resolved the
way the OMOP adapter resolves it in a node's own vocabulary (`hyperfed.adapters.omop.vocab`,
reused as is): a non-standard code is mapped to its standard concepts ('Maps to', from
CONCEPT_RELATIONSHIP when the export has it), and with descendants every concept below them
(CONCEPT_ANCESTOR); the source codes that map to any of those concepts count too (FHIR data
coded in ICD-10-CM only match a SNOMED CT query as the OMOP rows an ETL made of them would).
The concepts found become the (system, code) pairs FHIR data carry
(SNOMED CT, LOINC, RxNorm, ICD-10-CM ... through `system_for_vocabulary`); the code itself is
always among them. A code the export does not know, or of a system OMOP has no vocabulary
for (DICOM DCM, RadLex), is matched as written, with a note.

The export's tab-separated files (any case of name, ``.csv`` or ``.tsv``; CONCEPT and
CONCEPT_ANCESTOR required, CONCEPT_RELATIONSHIP optional) are read with DuckDB into a
database — in memory, or a DuckDB file `cache` reused while the files are unchanged.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb
from sqlglot import exp

from hyperfed.adapters.cache import LookupCache
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.errors import SourceError
from hyperfed.adapters.hql.systems import OMOP_CONCEPT_SYSTEM, canonical_system
from hyperfed.adapters.omop.schema import CdmSchema, inspect_schema
from hyperfed.adapters.omop.tables import OMOP_VOCABULARIES, system_for_vocabulary
from hyperfed.adapters.omop.vocab import CodeRef, ResolvedCode, lookup
from hyperfed.adapters.sql import DuckDBRunner

__all__ = ["AthenaVocabulary", "CodeRef", "Expansion", "identity"]

_VERSION = "1"
_FILES: dict[str, tuple[bool, dict[str, str]]] = {
    # table -> (required, column -> type)
    "concept": (
        True,
        {
            "concept_id": "BIGINT",
            "domain_id": "VARCHAR",
            "vocabulary_id": "VARCHAR",
            "standard_concept": "VARCHAR",
            "concept_code": "VARCHAR",
            "invalid_reason": "VARCHAR",
        },
    ),
    "concept_ancestor": (
        True,
        {"ancestor_concept_id": "BIGINT", "descendant_concept_id": "BIGINT"},
    ),
    "concept_relationship": (
        False,
        {
            "concept_id_1": "BIGINT",
            "concept_id_2": "BIGINT",
            "relationship_id": "VARCHAR",
            "invalid_reason": "VARCHAR",
        },
    ),
}


@dataclass(frozen=True)
class Expansion:
    """The codes FHIR data may carry for one looked-up code, and what to tell about it."""

    codes: frozenset[tuple[str, str]]
    notes: tuple[str, ...] = ()


def identity(ref: CodeRef) -> Expansion:
    """The code as written (no vocabulary)."""
    return Expansion(frozenset({(canonical_system(ref.system).uri, ref.code)}))


def _find(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        name = p.name.lower()
        for suffix in (".csv", ".tsv"):
            if name.endswith(suffix) and name[: -len(suffix)] in _FILES:
                found[name[: -len(suffix)]] = p
    for table, (required, _) in _FILES.items():
        if required and table not in found:
            raise SourceError(
                f"vocabulary {folder}: no {table.upper()}.csv (an Athena export has CONCEPT.csv "
                "and CONCEPT_ANCESTOR.csv)"
            )
    return found


def _lit(text: str) -> str:
    return exp.Literal.string(text).sql("duckdb")


def _load(con: duckdb.DuckDBPyConnection, files: dict[str, Path]) -> None:
    for table, path in files.items():
        columns = _FILES[table][1]
        with path.open(encoding="utf-8", errors="replace") as f:
            header = f.readline()
        delim = "\t" if "\t" in header else ","
        # Athena's tab-separated files are never quoted (names hold quote marks); a
        # comma-separated export quotes as CSV does
        quoting = "quote = '', escape = '', " if delim == "\t" else ""
        names = {h.strip().strip('"').lower() for h in header.split(delim)}
        missing = [c for c in columns if c not in names and c != "invalid_reason"]
        if missing:
            raise SourceError(f"vocabulary file {path}: no column(s) {', '.join(missing)}")
        select = ", ".join(
            (f"TRY_CAST({c} AS {t}) AS {c}" if c in names else f"CAST(NULL AS {t}) AS {c}")
            for c, t in columns.items()
        )
        try:
            con.execute(
                f"CREATE TABLE {table} AS SELECT {select} FROM read_csv({_lit(str(path))}, "
                f"delim = {_lit(delim)}, header = true, {quoting}"
                "all_varchar = true, strict_mode = false)"
            )
        except duckdb.Error as exc:
            raise SourceError(f"vocabulary file {path}: {exc}") from exc


def _fingerprint(files: dict[str, Path]) -> str:
    parts = [_VERSION] + [
        f"{t}:{p.resolve()}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
        for t, p in sorted(files.items())
    ]
    return "|".join(parts)


def _open(folder: Path, cache: Path | None) -> duckdb.DuckDBPyConnection:
    files = _find(folder)
    digest = _fingerprint(files)
    if cache is not None and cache.exists():
        try:
            con = duckdb.connect(str(cache), read_only=True)
            row = con.execute("SELECT value FROM hf_vocabulary_meta").fetchone()
            if row is not None and row[0] == digest:
                return con
            con.close()
        except duckdb.Error:
            pass
    build = None
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        build = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
        build.unlink(missing_ok=True)
    con = duckdb.connect(":memory:" if build is None else str(build))
    try:
        con.execute("SET enable_progress_bar = false")
        _load(con, files)
        con.execute("CREATE TABLE hf_vocabulary_meta (value VARCHAR)")
        con.execute("INSERT INTO hf_vocabulary_meta VALUES (?)", [digest])
        if build is None:
            return con
        con.execute("CHECKPOINT")
        con.close()
    except BaseException:
        con.close()
        if build is not None:
            build.unlink(missing_ok=True)
        raise
    assert cache is not None and build is not None
    os.replace(build, cache)
    return duckdb.connect(str(cache), read_only=True)


class AthenaVocabulary:
    """An OMOP vocabulary export, opened read-only; `expand` is thread-safe and cached."""

    def __init__(self, folder: Path, con: duckdb.DuckDBPyConnection) -> None:
        self.folder = folder
        self.runner = DuckDBRunner.over(con, f"OMOP vocabulary export {folder}")
        self.schema: CdmSchema = inspect_schema(self.runner)
        self._cache: LookupCache[CodeRef, Expansion] = LookupCache()
        self._lock = threading.Lock()
        row = con.execute("SELECT count(*) FROM concept").fetchone()
        self.concepts = int(row[0]) if row else 0

    @classmethod
    def open(cls, folder: str | os.PathLike[str], cache: str | None = None) -> AthenaVocabulary:
        """Open an export folder (CONCEPT.csv, CONCEPT_ANCESTOR.csv[, CONCEPT_RELATIONSHIP.csv]);
        with `cache`, the database is a DuckDB file reused while the files are unchanged."""
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise SourceError(f"vocabulary {path}: not a folder (give an Athena export folder)")
        return cls(path, _open(path, Path(cache) if cache else None))

    def describe(self) -> str:
        has_rel = self.schema.has_rows("concept_relationship")
        return (
            f"descendants from the OMOP vocabulary export {self.folder} ({self.concepts:,} "
            f"concepts{', with Maps to' if has_rel else ''})"
        )

    def expand(
        self, refs: Iterable[CodeRef], deadline: Deadline | None = None
    ) -> dict[CodeRef, Expansion]:
        return self._cache.get_many(refs, lambda missing: self._fetch(missing, deadline))

    def _fetch(self, refs: set[CodeRef], deadline: Deadline | None) -> dict[CodeRef, Expansion]:
        with self._lock:  # one look-up at a time over the shared connection
            found = lookup(self.runner, self.schema, refs, (), deadline)
            ids = {
                i
                for rc in found.codes.values()
                for i in (*rc.any_domain, *(x for v in rc.by_domain.values() for x in v))
            }
            sources = self._mapped_from(ids, deadline)
            codes = self._codes(ids | {i for s in sources.values() for i in s}, deadline)
        return {
            r: self._expansion(r, found.codes.get(r, ResolvedCode()), codes, sources, found.notes)
            for r in refs
        }

    def _mapped_from(self, ids: set[int], deadline: Deadline | None) -> dict[int, set[int]]:
        """Standard concept -> the other concepts that map to it ('Maps to'): the source codes
        (ICD-10-CM ...) FHIR data may carry instead of the standard one."""
        if not ids or not self.schema.has_rows("concept_relationship"):
            return {}
        rel = exp.column("relationship_id")
        q = (
            exp.select("concept_id_2", "concept_id_1")
            .from_("concept_relationship")
            .where(rel.eq(exp.Literal.string("Maps to")))
            .where(exp.column("invalid_reason").is_(exp.null()))
            .where(exp.column("concept_id_1").neq(exp.column("concept_id_2")))
            .where(exp.column("concept_id_2").isin(*[exp.Literal.number(i) for i in sorted(ids)]))
        )
        out: dict[int, set[int]] = {}
        for standard, source in self.runner.fetch(q.sql("duckdb"), deadline):
            out.setdefault(int(standard), set()).add(int(source))
        return out

    def _codes(self, ids: set[int], deadline: Deadline | None) -> dict[int, tuple[str, str]]:
        if not ids:
            return {}
        q = (
            exp.select("concept_id", "vocabulary_id", "concept_code")
            .from_("concept")
            .where(exp.column("concept_id").isin(*[exp.Literal.number(i) for i in sorted(ids)]))
        )
        out: dict[int, tuple[str, str]] = {}
        for cid, vocabulary, code in self.runner.fetch(q.sql("duckdb"), deadline):
            system = system_for_vocabulary(str(vocabulary))
            if system is not None and code is not None:
                out[int(cid)] = (system, str(code))
        return out

    def _expansion(
        self,
        ref: CodeRef,
        rc: ResolvedCode,
        codes: dict[int, tuple[str, str]],
        sources: dict[int, set[int]],
        general: tuple[str, ...],
    ) -> Expansion:
        own = identity(ref)
        system = canonical_system(ref.system)
        label = f"{system.name} {ref.code}"
        ids = {*rc.any_domain, *(i for v in rc.by_domain.values() for i in v)}
        ids |= {s for i in ids for s in sources.get(i, ())}
        pairs = frozenset(codes[i] for i in ids if i in codes)
        if rc.unsupported is not None or rc.source_values or not pairs:
            why = (
                f"{system.name} codes have no OMOP vocabulary"
                if system.uri not in OMOP_VOCABULARIES and system.uri != OMOP_CONCEPT_SYSTEM
                else f"{label} is not in the vocabulary export"
            )
            note = f"{why}: {label} is matched as written, without descendants"
            return Expansion(own.codes, (*general, note) if ref.descendants else general)
        return Expansion(own.codes | pairs, (*general, *rc.notes))

    def close(self) -> None:
        self.runner.close()
