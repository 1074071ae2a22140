"""A DuckDB cache file for a loaded SDTM folder: load once, reopen in seconds.

`open_study(folder, options)` loads the folder in memory when `options.database` is None.
With a database file it reuses the file when it was built from the same files (names, sizes,
modification times), with the same options and by the same loader version — the fingerprint
is stored in the file with what the loader learnt (datasets, domain views, start-up report);
otherwise it rebuilds the file from scratch. A large study (millions of findings rows) should
use a cache file: DuckDB then keeps the tables on disk instead of in memory.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import duckdb

from hyperfed.adapters.checks import Report
from hyperfed.adapters.sdtm.errors import SdtmSourceError
from hyperfed.adapters.sdtm.files import discover
from hyperfed.adapters.sdtm.layout import DomainView
from hyperfed.adapters.sdtm.loader import Dataset, LoadOptions, Study, load_folder

__all__ = ["LAYOUT_VERSION", "fingerprint", "open_study"]

LAYOUT_VERSION = "sdtm-layout-2"
"""Bump when the layout or the loader's rules change: older cache files are rebuilt."""


def fingerprint(folder: Path, options: LoadOptions) -> str:
    """A digest of the folder's dataset files (and define.xml) and of the load options."""
    files, define, skipped = discover(folder)
    paths = sorted([*(f.path for f in files), *([define] if define else [])])
    stats = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in paths]
    opts = {k: v for k, v in asdict(options).items() if k != "database"}
    text = json.dumps([LAYOUT_VERSION, str(folder.resolve()), stats, skipped, opts], default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _state(study: Study) -> str:
    return json.dumps(
        {
            "datasets": [asdict(d) for d in study.datasets],
            "views": [asdict(v) for v in study.views.values()],
            "report": study.report.to_dict(),
        },
        default=str,
    )


def _reopen(folder: Path, path: Path, options: LoadOptions, digest: str) -> Study | None:
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error:
        return None
    try:
        rows = con.execute("SELECT fingerprint, state FROM hf_cache").fetchall()
    except duckdb.Error:
        rows = []
    if len(rows) != 1 or rows[0][0] != digest:
        con.close()
        return None
    state: dict[str, Any] = json.loads(rows[0][1])
    study = Study(folder, con, options, report=Report.from_dict(state["report"]))
    study.datasets = [Dataset(**d) for d in state["datasets"]]
    study.views = {v["domain"]: DomainView(**v) for v in state["views"]}
    study.report.note(f"layout read from the cache file {path}")
    return study


def open_study(folder: Path, options: LoadOptions) -> Study:
    """The loaded study of `folder`: from `options.database` when it is up to date, else
    loaded (into that file, when given). Raises what `load_folder` raises."""
    if options.database is None:
        return load_folder(folder, options)
    if not folder.is_dir():
        return load_folder(folder, options)  # raises the loader's error for the folder
    path = Path(options.database).expanduser()
    digest = fingerprint(folder, options)
    if path.exists():
        found = _reopen(folder, path, options, digest)
        if found is not None:
            return found
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in (path, path.with_name(path.name + ".wal")):
            stale.unlink(missing_ok=True)
    except OSError as exc:
        raise SdtmSourceError(str(folder), f"cannot write the cache file {path}: {exc}") from exc
    try:
        study = load_folder(folder, options)
    except duckdb.Error as exc:  # the cache file is locked by another process, or broken
        raise SdtmSourceError(str(folder), f"cannot use the cache file {path}: {exc}") from exc
    study.con.execute("CREATE TABLE hf_cache (fingerprint VARCHAR, state VARCHAR)")
    study.con.execute("INSERT INTO hf_cache VALUES (?, ?)", [digest, _state(study)])
    study.con.execute("CHECKPOINT")
    return study
