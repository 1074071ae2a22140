"""Reading one dataset file (SAS XPORT or CSV) into a DuckDB table (the file I/O edge).

Column names become upper case without surrounding blanks (SDTM names are case-insensitive);
CSV values stay text (`all_varchar`), XPT values keep their SAS type (character or double).
A file that cannot be read is reported as a `Problem` with the reason, never raised: the
loader decides whether to go on without it.
"""

from __future__ import annotations

import codecs
import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from hyperfed.adapters.checks import Problem
from hyperfed.adapters.sdtm.files import DatasetFile

__all__ = ["ReadResult", "read_dataset"]

_XPT_CHUNK = 200_000
_CSV_LINE = re.compile(r"Line:\s*(\d+)")


@dataclass
class ReadResult:
    table: str
    rows: int = 0
    columns: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


def _ident(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql("duckdb")


def _fail(f: DatasetFile, code: str, reason: str, row: int | None = None) -> Problem:
    return Problem("error", f.file, row, None, code, f"{reason}; the file is not used")


def _first_bad_utf8_line(path: Path, compressed: bool) -> int | None:
    """1-based line number (header = line 1) of the first byte sequence that is not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    opener: Any = gzip.open if compressed else open
    with opener(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return line + chunk[: exc.start].count(b"\n")
            line += chunk.count(b"\n")
    return None


def _rename_upper(con: duckdb.DuckDBPyConnection, f: DatasetFile, table: str) -> ReadResult:
    result = ReadResult(table)
    cols = [r[0] for r in con.execute(f"DESCRIBE {_ident(table)}").fetchall()]
    seen: set[str] = set()
    for col in cols:
        name = col.strip().upper()
        if name in seen or not name:
            label = name or "(empty)"
            result.problems.append(
                Problem(
                    "error",
                    f.file,
                    None,
                    col,
                    "duplicate-column",
                    f"column {label!r} appears twice (names are case-insensitive); "
                    "the second is not used",
                )
            )
            con.execute(f"ALTER TABLE {_ident(table)} DROP COLUMN {_ident(col)}")
            continue
        seen.add(name)
        if name != col:
            con.execute(
                f"ALTER TABLE {_ident(table)} RENAME COLUMN {_ident(col)} TO {_ident(name)}"
            )
        result.columns.append(name)
    row = con.execute(f"SELECT count(*) FROM {_ident(table)}").fetchall()
    result.rows = int(row[0][0]) if row else 0
    return result


def _read_csv(
    con: duckdb.DuckDBPyConnection, f: DatasetFile, table: str, encoding: str
) -> ReadResult:
    source = exp.Anonymous(
        this="read_csv",
        expressions=[
            exp.Literal.string(str(f.path)),
            exp.EQ(this=exp.column("all_varchar"), expression=exp.true()),
            exp.EQ(this=exp.column("header"), expression=exp.true()),
            exp.EQ(this=exp.column("encoding"), expression=exp.Literal.string(encoding)),
        ],
    )
    sql = f"CREATE TABLE {_ident(table)} AS SELECT * FROM {source.sql('duckdb')}"
    try:
        con.execute(sql)
    except duckdb.Error as exc:
        message = str(exc)
        if "unicode" in message.lower() or "utf-8" in message.lower():
            line = _first_bad_utf8_line(f.path, f.path.name.lower().endswith(".gz"))
            where = f" (first at line {line})" if line else ""
            return ReadResult(
                table,
                problems=[
                    _fail(
                        f,
                        "bad-encoding",
                        f"not UTF-8 encoded{where}; set the CSV encoding (e.g. latin-1) "
                        "if that is what the site writes",
                        line - 1 if line and line > 1 else None,
                    )
                ],
            )
        first = message.splitlines()[0] if message else type(exc).__name__
        m = _CSV_LINE.search(message)
        line = int(m.group(1)) if m else None
        return ReadResult(
            table,
            problems=[_fail(f, "unreadable-file", f"not a readable CSV file ({first})", line)],
        )
    result = _rename_upper(con, f, table)
    if encoding.lower().replace("-", "") not in ("utf8",):
        result.notes.append(f"{f.file} read as {encoding}")
    return result


def _read_xpt(
    con: duckdb.DuckDBPyConnection, f: DatasetFile, table: str, encoding: str | None
) -> ReadResult:
    import pyreadstat

    notes: list[str] = []

    def load(enc: str | None) -> None:
        kwargs: dict[str, Any] = {"chunksize": _XPT_CHUNK}
        if enc is not None:
            kwargs["encoding"] = enc
        first = True
        for df, _meta in pyreadstat.read_file_in_chunks(
            pyreadstat.read_xport, str(f.path), **kwargs
        ):
            con.register("hf_xpt_chunk", df)
            try:
                if first:
                    con.execute(
                        f"CREATE OR REPLACE TABLE {_ident(table)} AS SELECT * FROM hf_xpt_chunk"
                    )
                    first = False
                else:
                    con.execute(f"INSERT INTO {_ident(table)} SELECT * FROM hf_xpt_chunk")
            finally:
                con.unregister("hf_xpt_chunk")
        if first:  # no rows at all: still create the table from the metadata
            _df, meta = pyreadstat.read_xport(str(f.path), metadataonly=True, encoding=enc)
            cols = ", ".join(f"CAST(NULL AS VARCHAR) AS {_ident(c)}" for c in meta.column_names)
            con.execute(f"CREATE OR REPLACE TABLE {_ident(table)} AS SELECT {cols} LIMIT 0")

    errors = (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, UnicodeDecodeError, OSError)
    try:
        load(encoding)
    except errors as exc:
        retried = False
        if encoding is None:  # XPORT has no encoding field: try the other common one
            try:
                load("latin1")
                notes.append(f"{f.file} is not UTF-8: read as latin-1")
                retried = True
            except errors:
                pass
        if not retried:
            con.execute(f"DROP TABLE IF EXISTS {_ident(table)}")
            return ReadResult(
                table,
                problems=[_fail(f, "unreadable-file", f"not a readable SAS XPORT file ({exc})")],
            )
    result = _rename_upper(con, f, table)
    result.notes.extend(notes)
    return result


def read_dataset(
    con: duckdb.DuckDBPyConnection,
    f: DatasetFile,
    table: str,
    *,
    csv_encoding: str = "utf-8",
    xpt_encoding: str | None = None,
) -> ReadResult:
    """Read `f` into a new table `table` of `con`; problems say why a file was not read."""
    if f.fmt == "csv":
        return _read_csv(con, f, table, csv_encoding)
    return _read_xpt(con, f, table, xpt_encoding)
