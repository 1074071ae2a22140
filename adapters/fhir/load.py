"""Loading FHIR files into DuckDB (the I/O edge of the adapter).

    store = load_fhir("export/", cache="node.fhir.duckdb", on_error="serve")
    store.report.format()          # what was loaded, skipped, and every problem found
    store.con.sql("SELECT count(*) FROM v_condition")

DuckDB reads the files itself (``read_csv`` for NDJSON lines with their line numbers,
``read_json_objects`` for Bundles); no Python loop touches a resource. The database holds:

- ``fhir_resource(resource_type, id, json, file_id, line, entry)``: every resource of a type
  the views read (`USED_TYPES`), raw JSON, ``urn:uuid:`` references of Bundles rewritten to
  ``Type/id``; a resource without id takes the uuid of its ``fullUrl``;
- ``fhir_file``, ``fhir_problem``, ``fhir_skipped`` (unused types, counted), ``fhir_meta``;
- one table ``v_NAME`` per ViewDefinition (`hyperfed.adapters.fhir.viewset`);
- ``fhir_code``: the codes each event view carries (`hyperfed.adapters.fhir.index`).

With `cache`, the database is a file reused while the input files (paths, sizes, mtimes)
and the views are unchanged; it is built beside the target and renamed into place.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from hyperfed.adapters.fhir.errors import SourceError, ViewRunError
from hyperfed.adapters.fhir.files import InputFile, discover, fingerprint
from hyperfed.adapters.fhir.index import build_index
from hyperfed.adapters.fhir.ingest import dedupe, ingest_bundles, ingest_ndjson, patient_checks
from hyperfed.adapters.fhir.report import LoadReport, OnError, Problem
from hyperfed.adapters.fhir.run import materialise_view
from hyperfed.adapters.fhir.viewset import adapter_views, table_name

__all__ = ["LOADER_VERSION", "FhirStore", "load_fhir", "open_report"]

LOADER_VERSION = "2"
_REPORT_PROBLEMS = 200


@dataclass
class FhirStore:
    """A loaded FHIR source: the DuckDB connection, its report and the view tables."""

    con: duckdb.DuckDBPyConnection
    report: LoadReport
    tables: Mapping[str, str]  # view name -> table name
    path: Path | None = None  # the cache file (None: in memory)

    def close(self) -> None:
        self.con.close()


_SCHEMA = (
    "CREATE TABLE fhir_meta (key VARCHAR, value VARCHAR)",
    "CREATE TABLE fhir_file (file_id INTEGER, path VARCHAR, kind VARCHAR, size BIGINT, "
    "mtime_ns BIGINT)",
    "CREATE TABLE fhir_resource (resource_type VARCHAR, id VARCHAR, json JSON, "
    "file_id INTEGER, line BIGINT, entry INTEGER)",
    "CREATE TABLE fhir_problem (kind VARCHAR, file VARCHAR, line BIGINT, entry INTEGER, "
    "resource VARCHAR, path VARCHAR, reason VARCHAR)",
    "CREATE TABLE fhir_skipped (resource_type VARCHAR, n BIGINT)",
)


def load_fhir(
    source: str | PathLike[str],
    cache: str | PathLike[str] | None = None,
    *,
    on_error: OnError = "serve",
    views: Mapping[str, Mapping[str, Any]] | None = None,
    resource_types: Iterable[str] = (),
    threads: int | None = None,
) -> FhirStore:
    """Load a FHIR file or folder (Bundles and/or Bulk NDJSON) and build the view tables.

    `on_error="refuse"` raises `SourceError` (listing the problems) when anything was wrong
    with the input; `"serve"` keeps what could be loaded and reports the rest. `views`
    replaces the adapter's views (`{}`: none); resources of the types the views read, and
    of `resource_types`, are kept."""
    if on_error not in ("serve", "refuse"):
        raise ValueError(f"on_error must be 'serve' or 'refuse', not {on_error!r}")
    started = time.perf_counter()
    files, ignored = discover(source)
    view_defs = dict(views) if views is not None else adapter_views()
    used = sorted({str(v["resource"]) for v in view_defs.values()} | set(resource_types))
    digest = fingerprint(files, {"loader": LOADER_VERSION, "views": view_defs, "types": used})
    target = Path(cache) if cache is not None else None
    if target is not None and target.exists():
        reused = _reuse(target, digest)
        if reused is not None:
            return _checked(reused, on_error)
    build_path = None
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        build_path = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        build_path.unlink(missing_ok=True)
    con = duckdb.connect(str(build_path) if build_path else ":memory:")
    try:
        con.execute("SET enable_progress_bar = false")
        if threads is not None:
            con.execute(f"SET threads = {int(threads)}")
        seconds = _build(con, files, view_defs, used)
        con.execute(
            "INSERT INTO fhir_meta VALUES ('fingerprint', ?), ('source', ?), "
            "('ignored', ?), ('seconds', ?)",
            [
                digest,
                str(source),
                json.dumps(ignored),
                json.dumps({**seconds, "total": time.perf_counter() - started}),
            ],
        )
        if build_path is None:
            return _checked(FhirStore(con, open_report(con), _tables(con)), on_error)
        con.execute("CHECKPOINT")
        con.close()
    except BaseException:
        con.close()
        if build_path is not None:
            build_path.unlink(missing_ok=True)
        raise
    assert target is not None and build_path is not None
    os.replace(build_path, target)
    ro = duckdb.connect(str(target), read_only=True)
    return _checked(FhirStore(ro, open_report(ro), _tables(ro), target), on_error)


def _reuse(target: Path, digest: str) -> FhirStore | None:
    try:
        con = duckdb.connect(str(target), read_only=True)
    except duckdb.Error:
        return None
    try:
        row = con.execute("SELECT value FROM fhir_meta WHERE key = 'fingerprint'").fetchone()
    except duckdb.Error:
        row = None
    if row is None or row[0] != digest:
        con.close()
        return None
    report = open_report(con)
    return FhirStore(con, _with_cache_flag(report), _tables(con), target)


def _with_cache_flag(report: LoadReport) -> LoadReport:
    d = report.__dict__.copy()
    d["from_cache"] = True
    return LoadReport(**d)


def _checked(store: FhirStore, on_error: OnError) -> FhirStore:
    if on_error == "refuse" and not store.report.ok:
        text = store.report.format(limit=20)
        store.close()
        raise SourceError(f"refusing to serve bad FHIR input (on_error='refuse'):\n{text}")
    return store


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.execute("SELECT key, value FROM fhir_meta WHERE key LIKE 'view:%'").fetchall()
    return {str(k).removeprefix("view:"): str(v) for k, v in rows}


@contextlib.contextmanager
def _phase(seconds: dict[str, float], name: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - t0


def _build(
    con: duckdb.DuckDBPyConnection,
    files: list[InputFile],
    views: Mapping[str, Mapping[str, Any]],
    used: list[str],
) -> dict[str, float]:
    seconds: dict[str, float] = {}
    for statement in _SCHEMA:
        con.execute(statement)
    con.executemany(
        "INSERT INTO fhir_file VALUES (?, ?, ?, ?, ?)",
        [(i, str(f.path), f.kind, f.size, f.mtime_ns) for i, f in enumerate(files)],
    )
    con.execute("CREATE TEMP TABLE hf_skipped (resource_type VARCHAR, n BIGINT)")
    with _phase(seconds, "ndjson"):
        for i, f in enumerate(files):
            if f.kind == "ndjson":
                ingest_ndjson(con, i, f.path, used)
    bundles = [(i, f.path) for i, f in enumerate(files) if f.kind == "json"]
    if bundles:
        with _phase(seconds, "bundles"):
            ingest_bundles(con, bundles, used)
    with _phase(seconds, "duplicates"):
        dedupe(con)
    con.execute(
        "INSERT INTO fhir_skipped SELECT resource_type, sum(n) FROM hf_skipped "
        "GROUP BY resource_type ORDER BY resource_type"
    )
    with _phase(seconds, "views"):
        for name, view in views.items():
            table = table_name(name)
            try:
                materialise_view(con, view, table)
            except ViewRunError as exc:
                raise SourceError(f"building view table {table}: {exc}") from exc
            con.execute("INSERT INTO fhir_meta VALUES (?, ?)", [f"view:{name}", table])
    with _phase(seconds, "checks"):
        patient_checks(con, {table_name(n): str(v["resource"]) for n, v in views.items()})
    with _phase(seconds, "index"):
        build_index(con, {n: table_name(n) for n in views})
    return seconds


def open_report(con: duckdb.DuckDBPyConnection) -> LoadReport:
    """The `LoadReport` stored in a loaded database."""

    def meta(key: str, default: str) -> str:
        row = con.execute("SELECT value FROM fhir_meta WHERE key = ?", [key]).fetchone()
        return str(row[0]) if row else default

    files = [
        str(r[0]) for r in con.execute("SELECT path FROM fhir_file ORDER BY file_id").fetchall()
    ]
    loaded = dict(
        con.execute(
            "SELECT resource_type, count(*) FROM fhir_resource GROUP BY ALL ORDER BY 1"
        ).fetchall()
    )
    skipped = dict(con.execute("SELECT resource_type, n FROM fhir_skipped").fetchall())
    counts = dict(con.execute("SELECT kind, count(*) FROM fhir_problem GROUP BY ALL").fetchall())
    problems = tuple(
        Problem(kind=r[0], file=r[1], line=r[2], entry=r[3], resource=r[4], path=r[5], reason=r[6])
        for r in con.execute(
            "SELECT kind, file, line, entry, resource, path, reason FROM fhir_problem "
            "ORDER BY file, line NULLS FIRST, entry NULLS FIRST, kind, resource LIMIT ?",
            [_REPORT_PROBLEMS],
        ).fetchall()
    )
    view_rows = {}
    for name, table in _tables(con).items():
        row = con.execute(
            f"SELECT count(*) FROM {exp.to_identifier(table).sql('duckdb')}"
        ).fetchone()
        view_rows[name] = int(row[0]) if row else 0
    return LoadReport(
        source=meta("source", "?"),
        files=tuple(files),
        ignored_files=tuple(json.loads(meta("ignored", "[]"))),
        loaded={str(k): int(v) for k, v in loaded.items()},
        skipped={str(k): int(v) for k, v in skipped.items()},
        view_rows=view_rows,
        problems=problems,
        problem_counts={str(k): int(v) for k, v in counts.items()},
        seconds=json.loads(meta("seconds", "{}")),
    )
