"""`build_index`: a folder of DICOM files -> the series table as Parquet, resumably.

Beside `INDEX.parquet` the indexer keeps its file state: `INDEX.files.parquet` (one row per
file: size, mtime, status, what was read from it, already pseudonymised) and
`INDEX.state.json` (the root, the layout version and a fingerprint of the privacy options and
the secret). A rerun reads only files that are new or whose size or mtime changed, drops
files that are gone, and rebuilds the series rows from the state; a changed secret or privacy
option invalidates the state (every file is read again).

Every file is written to a temporary name in the same folder and renamed into place, state
first, so a crash never leaves a broken index or state (at worst a state newer than the
index, which the next run turns into a fresh index without reading anything).

Headers are read in worker processes when there are enough files to pay for starting them.
Unreadable files are listed in the report, never fatal.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import multiprocessing
import os
import secrets as _secrets
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import duckdb

from hyperfed.adapters.dicom.errors import IndexWriteError, SourceError
from hyperfed.adapters.dicom.headers import ReadOptions, read_header
from hyperfed.adapters.dicom.layout import FILE_COLUMNS, LAYOUT_VERSION, SERIES_COLUMNS
from hyperfed.adapters.dicom.privacy import DEFAULT_RETAINED
from hyperfed.adapters.dicom.scan import Candidate, scan_folder

__all__ = [
    "IndexOptions",
    "IndexReport",
    "build_index",
    "read_files",
    "series_relation",
    "stage_records",
    "state_paths",
]

PARALLEL_MIN_FILES = 2000  # starting worker processes costs ~1 s each (spawn + imports)
CHUNK = 64


@dataclass(frozen=True)
class IndexOptions:
    """How a folder is indexed (the privacy choices are part of the state's fingerprint)."""

    dataset: str | None = None  # for files outside an XNAT layout; default: the folder name
    ids_pseudonymous: bool = False  # PatientIDs are already pseudonyms: keep them as they are
    person_scope: Literal["node", "dataset"] = "node"
    keep_descriptions: bool = False  # StudyDescription / SeriesDescription (free text)
    retained: tuple[str, ...] = DEFAULT_RETAINED
    strict_profile: bool = False
    workers: int | None = None  # None: min(cores, 4); 1: no worker processes
    parallel_min_files: int = PARALLEL_MIN_FILES  # fewer files to read: one process

    def read_options(self, secret: bytes | None, dataset: str) -> ReadOptions:
        return ReadOptions(
            secret=None if self.ids_pseudonymous else secret,
            dataset=dataset,
            person_scope=self.person_scope,
            keep_descriptions=self.keep_descriptions,
            retained=tuple(self.retained),
            strict_profile=self.strict_profile,
        )

    def fingerprint(self, secret: bytes | None) -> str:
        key = (
            hmac.new(secret, b"hyperfed-dicom-index", hashlib.sha256).hexdigest()[:16]
            if secret is not None and not self.ids_pseudonymous
            else None
        )
        data = {
            "layout": LAYOUT_VERSION,
            "dataset": self.dataset,
            "ids_pseudonymous": self.ids_pseudonymous,
            "person_scope": self.person_scope,
            "keep_descriptions": self.keep_descriptions,
            "retained": sorted(self.retained),
            "strict_profile": self.strict_profile,
            "secret": key,
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


@dataclass
class IndexReport:
    root: str
    index: str
    files: int = 0  # candidate files found
    read: int = 0  # read in this run (new or changed)
    reused: int = 0  # unchanged since the last run
    removed: int = 0  # in the last state, gone now
    series: int = 0
    persons: int = 0
    skipped: int = 0  # names with a non-DICOM suffix
    not_dicom: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, error)
    dicomdir_missing: list[str] = field(default_factory=list)
    identifying: dict[str, list[str]] = field(default_factory=dict)  # keyword -> files
    without_patient: int = 0  # series without a PatientID (never counted)
    full_rebuild: bool = False
    workers: int = 1
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["unreadable"] = [{"path": p, "error": e} for p, e in self.unreadable]
        return data


def state_paths(index: Path) -> tuple[Path, Path]:
    """(file state Parquet, state JSON) kept beside `index`."""
    stem = index.name.removesuffix(".parquet")
    return index.with_name(f"{stem}.files.parquet"), index.with_name(f"{stem}.state.json")


@contextmanager
def _atomic(target: Path) -> Iterator[Path]:
    """A temporary path beside `target`, renamed onto it when the block succeeds."""
    tmp = target.with_name(f".{target.name}.{_secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as exc:
        raise IndexWriteError(f"cannot write {target}: {exc}") from exc
    finally:
        if tmp.exists():
            tmp.unlink()


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _read_chunk(
    items: Sequence[tuple[str, str, int, int]], options: ReadOptions
) -> list[dict[str, Any]]:
    out = []
    for path, rel, size, mtime_ns in items:
        record = read_header(Path(path), options)
        out.append({"path": rel, "size": size, "mtime_ns": mtime_ns, **record})
    return out


def read_files(
    candidates: Sequence[Candidate],
    base: ReadOptions,
    workers: int = 1,
    on_progress: Callable[[int], None] | None = None,
    parallel_min_files: int = PARALLEL_MIN_FILES,
) -> list[dict[str, Any]]:
    """File-state records of `candidates` (each with its dataset), in worker processes when
    `workers` > 1 and there are enough files."""
    groups: dict[str, list[tuple[str, str, int, int]]] = {}
    for c in candidates:
        try:
            st = c.path.stat()
        except OSError:
            continue
        groups.setdefault(c.dataset, []).append((str(c.path), c.rel, st.st_size, st.st_mtime_ns))
    tasks: list[tuple[list[tuple[str, str, int, int]], ReadOptions]] = []
    for dataset, items in groups.items():
        opts = ReadOptions(**{**asdict(base), "dataset": dataset})
        tasks += [(items[i : i + CHUNK], opts) for i in range(0, len(items), CHUNK)]
    records: list[dict[str, Any]] = []
    if workers <= 1 or len(candidates) < parallel_min_files:
        for items, opts in tasks:
            records += _read_chunk(items, opts)
            if on_progress:
                on_progress(len(items))
        return records
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {pool.submit(_read_chunk, items, opts): len(items) for items, opts in tasks}
        for future in as_completed(futures):
            records += future.result()
            if on_progress:
                on_progress(futures[future])
    return records


def _file_columns() -> dict[str, str]:
    return dict(FILE_COLUMNS)


def stage_records(
    con: duckdb.DuckDBPyConnection, records: list[dict[str, Any]], folder: Path
) -> duckdb.DuckDBPyRelation:
    """A relation over `records` (typed as FILE_COLUMNS), staged as NDJSON in `folder`."""
    fd, name = tempfile.mkstemp(prefix=".hf-files-", suffix=".ndjson", dir=folder)
    with os.fdopen(fd, "w") as f:
        for r in records:
            row = {k: _jsonable(r.get(k)) for k, _ in FILE_COLUMNS}
            f.write(json.dumps(row) + "\n")
    relation = con.read_json(
        name, columns=_file_columns(), format="newline_delimited", records="true"
    )
    relation = relation.select(", ".join(f'"{k}"' for k, _ in FILE_COLUMNS))
    table = f"hf_new_{_secrets.token_hex(4)}"
    relation.create(table)  # materialised: the staging file can go
    os.unlink(name)
    return con.table(table)


def series_relation(con: duckdb.DuckDBPyConnection, files_view: str) -> duckdb.DuckDBPyRelation:
    """The series table (SERIES_COLUMNS, in order) aggregated from a file-state view."""
    if not files_view.isidentifier():
        raise ValueError(f"not a view name: {files_view!r}")
    agg = {c.name: f'min("{c.name}")' for c in SERIES_COLUMNS}
    agg |= {
        "SeriesInstanceUID": '"SeriesInstanceUID"',
        "PixelSpacing": "max(greatest(pixel_spacing_row, pixel_spacing_col))",
        "contrast": "bool_or(contrast)",
        "n_instances": 'count(DISTINCT "SOPInstanceUID")',
        "n_frames": 'sum(coalesce("NumberOfFrames", 1))',
        "SliceThickness": 'median("SliceThickness")',
    }
    select = ",\n  ".join(f'CAST({agg[c.name]} AS {c.type}) AS "{c.name}"' for c in SERIES_COLUMNS)
    sql = f"""WITH f AS (
  SELECT DISTINCT ON ("SOPInstanceUID") * FROM {files_view}
  WHERE status = 'ok' ORDER BY "SOPInstanceUID", path
)
SELECT {select}
FROM f GROUP BY "SeriesInstanceUID"
ORDER BY 1, 2, "StudyDate", "SeriesInstanceUID" """
    return con.sql(sql)


def _load_state(index: Path, root: Path, fingerprint: str) -> tuple[Path | None, dict[str, Any]]:
    files, meta = state_paths(index)
    if not files.exists() or not meta.exists():
        return None, {}
    try:
        data = json.loads(meta.read_text())
    except (OSError, ValueError):
        return None, {}
    if data.get("root") != str(root) or data.get("fingerprint") != fingerprint:
        return None, {}
    if data.get("layout") != LAYOUT_VERSION:
        return None, {}
    return files, data


def _path_hasher(secret: bytes | None, state: dict[str, Any]) -> tuple[Callable[[str], str], str]:
    """Keyed hashes of relative paths (folder names are often patient ids): keyed by the node
    secret, or by a random key kept in the state when the ids are declared pseudonymous."""
    local = str(state.get("path_key") or _secrets.token_hex(32))
    key = (
        hmac.new(secret, b"hyperfed-dicom-path", hashlib.sha256).digest()
        if secret is not None
        else bytes.fromhex(local)
    )

    def hasher(rel: str) -> str:
        return hmac.new(key, rel.encode(), hashlib.sha256).hexdigest()[:32]

    return hasher, local


def build_index(
    root: Path,
    index: Path,
    secret: bytes | None,
    options: IndexOptions = IndexOptions(),
    *,
    progress: Callable[[int, int], None] | None = None,
) -> IndexReport:
    """Index the DICOM files under `root` into `index` (Parquet), reusing its file state.

    `secret` keys the PatientID pseudonyms; it may be None only with
    `options.ids_pseudonymous`. `progress(done, total)` is called as files are read.
    """
    started = time.perf_counter()
    root = Path(root).resolve()
    index = Path(index).resolve()
    if not root.is_dir():
        raise SourceError(f"not a folder: {root}")
    if secret is None and not options.ids_pseudonymous:
        raise ValueError(
            "a node secret is needed to pseudonymise PatientIDs (or declare the ids pseudonymous)"
        )
    index.parent.mkdir(parents=True, exist_ok=True)
    files_path, meta_path = state_paths(index)
    fingerprint = options.fingerprint(secret)
    old_state, state_meta = _load_state(index, root, fingerprint)
    full = old_state is None
    path_secret = None if options.ids_pseudonymous else secret
    path_key, local_key = _path_hasher(path_secret, state_meta)
    scan = scan_folder(root, options.dataset, exclude=(index, files_path, meta_path))
    report = IndexReport(root=str(root), index=str(index), files=len(scan.candidates))
    report.skipped, report.dicomdir_missing, report.full_rebuild = scan.skipped, scan.missing, full

    con = duckdb.connect()
    try:
        previous: dict[str, tuple[int, int]] = {}
        if old_state is not None:
            rows = con.read_parquet(str(old_state)).select("path, size, mtime_ns").fetchall()
            previous = {p: (s, m) for p, s, m in rows}
        current: dict[str, tuple[int, int]] = {}
        names: dict[str, str] = {}  # path key -> relative path, for the report only
        to_read: list[Candidate] = []
        keep: list[str] = []
        for c in scan.candidates:
            try:
                st = c.path.stat()
            except OSError:
                continue
            k = path_key(c.rel)
            names[k] = c.rel
            current[k] = (st.st_size, st.st_mtime_ns)
            if previous.get(k) == current[k]:
                keep.append(k)
            else:
                to_read.append(c)
        report.reused, report.read = len(keep), len(to_read)
        report.removed = len(set(previous) - set(current))
        workers = options.workers or min(os.cpu_count() or 1, 4)
        report.workers = workers if len(to_read) >= options.parallel_min_files else 1
        done = 0

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(done, len(to_read))

        records = read_files(
            to_read, options.read_options(secret, ""), workers, tick, options.parallel_min_files
        )
        for record in records:
            record["path"] = path_key(record["path"])
        new = stage_records(con, records, index.parent)
        new.create_view("hf_new_files")
        if old_state is not None and keep:
            kept = stage_records(con, [{"path": p} for p in keep], index.parent)
            kept.select("path").create_view("hf_keep")
            con.read_parquet(str(old_state)).create_view("hf_old_files")
            con.execute(
                "CREATE TEMP TABLE hf_files AS SELECT * FROM hf_old_files "
                "WHERE path IN (SELECT path FROM hf_keep) "
                "UNION ALL BY NAME SELECT * FROM hf_new_files"
            )
        else:
            con.execute("CREATE TEMP TABLE hf_files AS SELECT * FROM hf_new_files")
        state = con.sql("SELECT * FROM hf_files ORDER BY path")
        with _atomic(files_path) as tmp:
            state.write_parquet(str(tmp))
        with _atomic(meta_path) as tmp:
            tmp.write_text(
                json.dumps(
                    {
                        "root": str(root),
                        "fingerprint": fingerprint,
                        "layout": LAYOUT_VERSION,
                        "path_key": local_key if path_secret is None else None,
                    }
                )
            )
        series = series_relation(con, "hf_files")
        with _atomic(index) as tmp:
            series.write_parquet(str(tmp))
        _fill_report(con, report, names)
    except duckdb.Error as exc:
        raise IndexWriteError(f"indexing {root} into {index}: {exc}") from exc
    finally:
        con.close()
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _fill_report(
    con: duckdb.DuckDBPyConnection, report: IndexReport, names: dict[str, str]
) -> None:
    report.unreadable = [
        (names.get(p, p), e or "")
        for p, e in con.execute(
            "SELECT path, error FROM hf_files WHERE status = 'unreadable' ORDER BY path"
        ).fetchall()
    ]
    (report.not_dicom,) = con.execute(
        "SELECT count(*) FROM hf_files WHERE status = 'not_dicom'"
    ).fetchall()[0]
    for keyword, paths in con.execute(
        "SELECT kw, list(path ORDER BY path) FROM (SELECT unnest(identifying) AS kw, path "
        "FROM hf_files WHERE status = 'ok') GROUP BY kw ORDER BY kw"
    ).fetchall():
        report.identifying[keyword] = sorted(names.get(p, p) for p in paths)
    row = con.execute(
        'SELECT count(DISTINCT "SeriesInstanceUID"), count(DISTINCT person_key), '
        'count(DISTINCT "SeriesInstanceUID") FILTER (WHERE person_key IS NULL) '
        "FROM hf_files WHERE status = 'ok'"
    ).fetchall()[0]
    if row:
        report.series, report.persons, report.without_patient = row
