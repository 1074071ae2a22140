"""The three kinds of DICOM source, opened as a series table or a DICOMweb client.

- `http(s)://host/dicom-web` (DICOMweb): a `QidoClient`; nothing is read until a query runs;
- `idc`, `PATH.parquet` or a glob of Parquet files (a Parquet index): a DuckDB view
  `dicom_series` over the files through a column mapping; nothing is copied;
- a folder of DICOM files: indexed on the fly, headers only, into an in-memory table
  `dicom_series` under a throwaway pseudonym key; or, with the `index` option, into a
  resumable Parquet index (`build_index`) that later openings reuse.

A folder indexed on the fly is read again at every opening (at most `max_files` files, so a
node over a large archive is pointed at an `index-dicom` index instead).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hyperfed.adapters.dicom.errors import DicomError, SourceError
from hyperfed.adapters.dicom.layout import SERIES_COLUMNS, SERIES_TABLE

if TYPE_CHECKING:
    import duckdb

    from hyperfed.adapters.dicom.indexer import IndexReport

__all__ = ["IndexSource", "SourceKind", "open_index", "source_kind"]

SourceKind = Literal["dicomweb", "idc", "parquet", "folder"]


def source_kind(source: str) -> SourceKind:
    """What kind of source `source` names (SourceError when it names nothing usable)."""
    lower = source.lower()
    if lower.startswith(("http://", "https://")):
        return "dicomweb"
    if "://" in source:
        raise SourceError(
            f"unsupported DICOM source {source!r}: give a folder of DICOM files, a Parquet "
            "index (PATH.parquet, or 'idc'), or a DICOMweb base URL (http(s)://.../dicom-web)"
        )
    if source == "idc":
        return "idc"
    path = Path(source).expanduser()
    if path.is_dir():
        return "folder"
    if lower.endswith(".parquet") or any(ch in source for ch in "*?["):
        return "parquet"
    raise SourceError(f"DICOM source not found: {source} (not a folder or a Parquet index)")


@dataclass
class IndexSource:
    """A series table in a DuckDB connection: the view or table `dicom_series`."""

    con: duckdb.DuckDBPyConnection
    kind: SourceKind
    name: str
    mapping_name: str
    available: frozenset[str]
    """the series columns the source fills (the others are NULL)"""
    report: IndexReport | None = None
    """for a folder: what indexing found (unreadable files ...)"""


def _mapped(mapping: Any) -> frozenset[str]:
    return frozenset(c.name for c in SERIES_COLUMNS if mapping.spec(c.name) is not None)


def open_index(
    source: str,
    kind: SourceKind,
    *,
    mapping: str | None = None,
    folder_options: Any = None,
    index: str | None = None,
    secret: bytes | None = None,
    max_files: int = 20000,
    in_memory: bool | Literal["auto"] = "auto",
) -> IndexSource:
    """The series table of an `idc`, Parquet or folder source (DicomError on failure)."""
    import duckdb

    from hyperfed.adapters.dicom.mapping import attach_series, load_mapping

    con = duckdb.connect()
    try:
        if kind in ("idc", "parquet"):
            used = attach_series(
                con, source, load_mapping(mapping) if mapping else None, in_memory=in_memory
            )
            return IndexSource(con, kind, source, used.name, _mapped(used))
        if mapping is not None:
            raise SourceError(f"{source}: the mapping option is for Parquet indexes, not folders")
        if index is not None:
            from hyperfed.adapters.dicom.indexer import build_index

            report = build_index(Path(source), Path(index), secret, folder_options)
            used = attach_series(con, index, in_memory=in_memory)
            return IndexSource(con, kind, source, used.name, _mapped(used), report)
        _index_in_memory(con, Path(source), folder_options, max_files)
        return IndexSource(con, kind, source, "hyperfed", frozenset(c.name for c in SERIES_COLUMNS))
    except BaseException:
        con.close()
        raise


def _index_in_memory(
    con: duckdb.DuckDBPyConnection, root: Path, options: Any, max_files: int
) -> None:
    """Read the headers under `root` into the table `dicom_series` (a throwaway key makes
    the pseudonyms: they live as long as the connection)."""
    from hyperfed.adapters.dicom.indexer import read_files, series_relation, stage_records
    from hyperfed.adapters.dicom.scan import scan_folder

    scan = scan_folder(root.resolve(), options.dataset)
    if len(scan.candidates) > max_files:
        raise SourceError(
            f"{root} holds {len(scan.candidates):,} files, more than max_files={max_files:,} "
            "to index on the fly: build an index (hyperfed node index-dicom) and use it as the "
            "source, or give the `index` option"
        )
    workers = options.workers or min(os.cpu_count() or 1, 4)
    key = None if options.ids_pseudonymous else secrets.token_bytes(32)
    read = dataclasses.replace(options.read_options(key, ""), scan_identifying=False)
    records = read_files(scan.candidates, read, workers, None, options.parallel_min_files)
    with tempfile.TemporaryDirectory(prefix="hyperfed-dicom-") as tmp:
        files = stage_records(con, records, Path(tmp))
    files.create_view("hf_files", replace=True)
    series_relation(con, "hf_files").create(SERIES_TABLE)
    con.execute("DROP VIEW hf_files")
    con.execute(f'DROP TABLE "{files.alias}"')  # the file records are not needed any more


def secret_from(secret_file: str | None, secret_env: str | None, what: str) -> bytes:
    """The node secret of a persisted folder index: an environment variable or a file."""
    if secret_env:
        value = os.environ.get(secret_env, "")
        if len(value) < 32:
            raise SourceError(f"{what}: variable {secret_env} must hold a secret of 32+ characters")
        return value.encode()
    if secret_file:
        try:
            value = Path(secret_file).expanduser().read_text().strip()
        except OSError as exc:
            raise SourceError(f"{what}: cannot read the secret file {secret_file}: {exc}") from exc
        if len(value) < 32:
            raise SourceError(f"{what}: {secret_file} must hold a secret of 32+ characters")
        return value.encode()
    raise SourceError(
        f"{what}: a kept index pseudonymises PatientIDs with the node secret: give secret_file "
        "or secret_env (or ids_pseudonymous = true)"
    )


def wrap(exc: DicomError | ValueError, source: str) -> SourceError:
    """A DICOM error as the kit's SourceError (naming the source)."""
    if isinstance(exc, SourceError):
        return exc
    return SourceError(f"{source}: {exc}")
