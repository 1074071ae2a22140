"""Loading a folder of SDTM datasets into DuckDB: raw tables, domain views, the normalised
layout (`hyperfed.adapters.sdtm.layout`) and a start-up `Report`.

    study = load_folder("/srv/trial", LoadOptions(exclude_arms=("SCRNFAIL",)))
    study.con.execute("SELECT count(*) FROM subjects").fetchall()

Objects in the connection: `raw_<dataset>` (one table per file, columns as read, upper-case
names), `sdtm_<domain>` (view: every dataset of the domain, split datasets unioned by name,
with `_dataset`, `_file` and the 1-based `_row`), `hf_dtc` (date dictionary), `hf_unit_map`
(unit terms -> UCUM) and the layout tables.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Literal

import duckdb

from hyperfed.adapters.checks import Problem, Report
from hyperfed.adapters.sdtm.dates import MACROS_SQL, dictionary_sql
from hyperfed.adapters.sdtm.define import Define, DefineError, parse_define
from hyperfed.adapters.sdtm.errors import SdtmOptionError, SdtmRefused, SdtmSourceError
from hyperfed.adapters.sdtm.files import DatasetFile, discover, domain_from_name
from hyperfed.adapters.sdtm.identifiers import identifying_column
from hyperfed.adapters.sdtm.layout import DomainView, class_select, subjects_select
from hyperfed.adapters.sdtm.qualifiers import qualifiers_sql
from hyperfed.adapters.sdtm.reader import read_dataset
from hyperfed.adapters.sdtm.sqlparts import ident, lit
from hyperfed.adapters.sdtm.standard import DATE_SUFFIX, DOMAIN_CLASS, class_from_columns
from hyperfed.adapters.sdtm.units import ucum_for

__all__ = ["Dataset", "LoadOptions", "Study", "load_folder"]

OnError = Literal["serve", "refuse"]
_CLASS_TABLE = {"EVENTS": "events", "INTERVENTIONS": "interventions", "FINDINGS": "findings"}
_DOMAIN = re.compile(r"^[A-Z][A-Z0-9]{1,7}$")


@dataclass(frozen=True)
class LoadOptions:
    """How to read a folder. `exclude_arms`: DM subjects whose ARMCD or ARM is one of these are
    left out (e.g. ``("SCRNFAIL", "Screen Failure")``); `required_domains`: domains whose
    absence is an error; `on_error`: "serve" what can be read, or "refuse" (raise
    `SdtmRefused`) when a file cannot be read or a required domain is missing."""

    exclude_arms: tuple[str, ...] = ()
    required_domains: tuple[str, ...] = ("DM",)
    on_error: OnError = "serve"
    csv_encoding: str = "utf-8"
    xpt_encoding: str | None = None
    database: str | None = None  # a DuckDB file to build in (default: in memory)

    def __post_init__(self) -> None:
        if self.on_error not in ("serve", "refuse"):
            raise SdtmOptionError("on_error", self.on_error, "must be 'serve' or 'refuse'")
        for d in self.required_domains:
            if not isinstance(d, str) or not _DOMAIN.match(d.upper()):
                raise SdtmOptionError("required_domains", d, "must be SDTM domain names")
        object.__setattr__(
            self, "required_domains", tuple(d.upper() for d in self.required_domains)
        )
        if not all(isinstance(a, str) and a for a in self.exclude_arms):
            raise SdtmOptionError("exclude_arms", self.exclude_arms, "must be non-empty strings")


@dataclass
class Dataset:
    """One dataset file as read: its domain and class, rows and columns (upper case)."""

    file: str
    name: str
    fmt: str
    table: str
    domain: str
    domain_class: str | None
    rows: int
    columns: dict[str, bool]  # name -> stored as a number
    parent: str | None = None  # SUPP--: the dataset it qualifies

    @property
    def is_supp(self) -> bool:
        return self.parent is not None


@dataclass
class Study:
    """A loaded folder: the DuckDB connection, what was read, and the start-up report."""

    source: Path
    con: duckdb.DuckDBPyConnection
    options: LoadOptions
    datasets: list[Dataset] = field(default_factory=list)
    views: dict[str, DomainView] = field(default_factory=dict)
    define: Define | None = None
    report: Report = field(default_factory=lambda: Report("", "sdtm"))

    def domains(self) -> list[str]:
        return sorted(self.views)

    def count(self, table: str) -> int:
        rows = self.con.execute(f"SELECT count(*) FROM {ident(table)}").fetchall()
        return int(rows[0][0]) if rows else 0

    def close(self) -> None:
        self.con.close()


def _table_columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, bool]:
    rows = con.execute(f"DESCRIBE {ident(table)}").fetchall()
    return {str(r[0]): str(r[1]).upper() in ("DOUBLE", "FLOAT", "BIGINT", "INTEGER") for r in rows}


def _mode(con: duckdb.DuckDBPyConnection, table: str, column: str) -> str | None:
    row = con.execute(
        f"SELECT upper(trim(CAST({ident(column)} AS VARCHAR))) AS v, count(*) AS n "
        f"FROM {ident(table)} WHERE nullif(trim(CAST({ident(column)} AS VARCHAR)), '') IS NOT NULL "
        "GROUP BY v ORDER BY n DESC, v LIMIT 1"
    ).fetchall()
    return str(row[0][0]) if row else None


def _domain_of(
    con: duckdb.DuckDBPyConnection,
    f: DatasetFile,
    table: str,
    cols: dict[str, bool],
    define: Define | None,
) -> str:
    """define.xml, then the name, then the DOMAIN (RDOMAIN) column, then the first letters."""
    name = f.parent if f.is_supp else f.name
    assert name is not None
    meta = define.dataset(name) if define else None
    if meta is not None and meta.domain and not meta.domain.startswith("SUPP"):
        return meta.domain
    by_name = domain_from_name(name)
    if by_name is not None:
        return by_name
    column = "RDOMAIN" if f.is_supp else "DOMAIN"
    if column in cols:
        found = _mode(con, table, column)
        if found and _DOMAIN.match(found):
            return found
    return name[:2]


def _drop_identifiers(study: Study, f: DatasetFile, table: str, cols: dict[str, bool]) -> None:
    for col in list(cols):
        why = identifying_column(col)
        if why is None:
            continue
        study.con.execute(f"ALTER TABLE {ident(table)} DROP COLUMN {ident(col)}")
        del cols[col]
        study.report.add(
            Problem(
                "error",
                f.file,
                None,
                col,
                "identifying-column",
                f"column {col} looks like {why}: direct identifiers must not enter the node; "
                "the column was dropped",
            )
        )


def _read_all(study: Study, files: list[DatasetFile]) -> None:
    opts = study.options
    for f in files:
        table = "raw_" + f.name.lower()
        result = read_dataset(
            study.con, f, table, csv_encoding=opts.csv_encoding, xpt_encoding=opts.xpt_encoding
        )
        study.report.extend(result.problems)
        for n in result.notes:
            study.report.note(n)
        if not result.ok:
            continue
        cols = _table_columns(study.con, table)
        _drop_identifiers(study, f, table, cols)
        domain = _domain_of(study.con, f, table, cols, study.define)
        meta = study.define.dataset(f.name) if study.define else None
        cls = DOMAIN_CLASS.get(domain) or (meta.domain_class if meta else None)
        if cls is None and not f.is_supp:
            cls = class_from_columns(domain, list(cols))
        study.datasets.append(
            Dataset(f.file, f.name, f.fmt, table, domain, cls, result.rows, cols, f.parent)
        )


def _build_views(study: Study) -> None:
    by_domain: dict[str, list[Dataset]] = {}
    for ds in study.datasets:
        if not ds.is_supp:
            by_domain.setdefault(ds.domain, []).append(ds)
    for domain, members in sorted(by_domain.items()):
        view = "sdtm_" + domain.lower()
        parts = [
            f"SELECT *, {lit(ds.name)} AS _dataset, {lit(ds.file)} AS _file, "
            f"rowid + 1 AS _row FROM {ident(ds.table)}"
            for ds in members
        ]
        study.con.execute(
            f"CREATE OR REPLACE VIEW {ident(view)} AS " + " UNION ALL BY NAME ".join(parts)
        )
        cols = {k: v for k, v in _table_columns(study.con, view).items() if not k.startswith("_")}
        classes = Counter(ds.domain_class for ds in members if ds.domain_class)
        cls = classes.most_common(1)[0][0] if classes else None
        study.views[domain] = DomainView(view, domain, cls, cols)


def _date_dictionary(study: Study) -> None:
    con = study.con
    con.execute("CREATE OR REPLACE TEMP TABLE hf_dtc_values (text VARCHAR)")
    for v in study.views.values():
        for col in v.columns:
            if col.endswith(DATE_SUFFIX):
                con.execute(
                    f"INSERT INTO hf_dtc_values SELECT DISTINCT CAST({ident(col)} AS VARCHAR) "
                    f"FROM {ident(v.view)}"
                )
    con.execute(dictionary_sql("hf_dtc_values", "hf_dtc"))
    con.execute("DROP TABLE hf_dtc_values")


def _unit_map(study: Study) -> None:
    con = study.con
    terms: set[str] = set()
    for v in study.views.values():
        if v.domain_class != "FINDINGS":
            continue
        for suffix in ("STRESU", "ORRESU"):
            col = v.var(suffix)
            if col:
                rows = con.execute(
                    f"SELECT DISTINCT nullif(trim(CAST({ident(col)} AS VARCHAR)), '') "
                    f"FROM {ident(v.view)}"
                ).fetchall()
                terms.update(str(r[0]) for r in rows if r[0] is not None)
    con.execute("CREATE OR REPLACE TABLE hf_unit_map (term VARCHAR, ucum VARCHAR, how VARCHAR)")
    rows = []
    for term in sorted(terms):
        found = ucum_for(term)
        rows.append((term, found[0] if found else None, found[1] if found else None))
    if rows:
        con.executemany("INSERT INTO hf_unit_map VALUES (?, ?, ?)", rows)


def _layout(study: Study) -> None:
    con, opts = study.con, study.options
    dm = study.views.get("DM")
    if dm is not None:
        con.execute(f"CREATE OR REPLACE TABLE subjects AS {subjects_select(dm, opts.exclude_arms)}")
    else:
        cols = "usubjid VARCHAR, sex VARCHAR, age DOUBLE, birth_lo DATE, birth_hi DATE"
        con.execute(f"CREATE OR REPLACE TABLE subjects ({cols})")
    for cls, table in _CLASS_TABLE.items():
        views = [v for v in study.views.values() if v.domain_class == cls]
        selects = [class_select(table, v) for v in views]
        if not selects:
            selects = [class_select(table, DomainView("hf_empty", "XX", cls)) + " AND false"]
            con.execute(
                "CREATE OR REPLACE TEMP VIEW hf_empty AS "
                "SELECT NULL AS _dataset, NULL AS _file, NULL AS _row WHERE false"
            )
        con.execute(f"CREATE OR REPLACE TABLE {table} AS " + "\nUNION ALL\n".join(selects))
    idvars: dict[str, list[str]] = {}
    for ds in study.datasets:
        if ds.is_supp and "IDVAR" in ds.columns:
            rows = con.execute(
                f"SELECT DISTINCT upper(nullif(trim(CAST(IDVAR AS VARCHAR)), '')) "
                f"FROM {ident(ds.table)}"
            ).fetchall()
            idvars[ds.table] = sorted(str(r[0]) for r in rows if r[0] is not None)
    select = qualifiers_sql(study.datasets, study.views, idvars)
    con.execute("CREATE OR REPLACE TABLE qualifiers AS " + select)


def load_folder(source: str | PathLike[str], options: LoadOptions | None = None) -> Study:
    """Read every dataset of folder `source` and build the layout. File-level problems go into
    `study.report`; with `on_error="refuse"` any of them raises `SdtmRefused` instead."""
    opts = options or LoadOptions()
    folder = Path(source)
    if not folder.exists():
        raise SdtmSourceError(str(folder), "no such folder")
    if not folder.is_dir():
        raise SdtmSourceError(str(folder), "not a folder (give the folder of the dataset files)")
    files, define_path, skipped = discover(folder)
    if not files:
        raise SdtmSourceError(str(folder), "no SDTM dataset files (*.xpt, *.csv, *.csv.gz)")
    con = duckdb.connect(opts.database or ":memory:")
    study = Study(folder, con, opts, report=Report(str(folder), "sdtm"))
    try:
        for name, reason in skipped:
            study.report.add(Problem("warning", name, None, None, "file-skipped", reason))
        if define_path is not None:
            try:
                study.define = parse_define(define_path)
                study.report.note(f"define.xml read ({study.define.standard or 'no standard'})")
            except DefineError as exc:
                study.report.add(
                    Problem(
                        "warning",
                        exc.file,
                        None,
                        None,
                        "define-unreadable",
                        f"{exc.reason}; datasets are read without it",
                    )
                )
        for statement in MACROS_SQL:
            con.execute(statement)
        _read_all(study, files)
        present = {ds.domain for ds in study.datasets if not ds.is_supp}
        for domain in opts.required_domains:
            if domain not in present:
                study.report.add(
                    Problem(
                        "error",
                        None,
                        None,
                        None,
                        "missing-domain",
                        f"required domain {domain} is missing (no readable dataset of it)",
                    )
                )
        if opts.on_error == "refuse" and study.report.errors:
            raise SdtmRefused(study.report)
        _build_views(study)
        _date_dictionary(study)
        _unit_map(study)
        _layout(study)
        study.report.facts.update(_facts(study))
    except BaseException:
        con.close()
        raise
    return study


def _facts(study: Study) -> dict[str, object]:
    rows = Counter[str]()
    for ds in study.datasets:
        rows["SUPP" + ds.domain if ds.is_supp else ds.domain] += ds.rows
    facts: dict[str, object] = {
        "files read": len(study.datasets),
        "rows by domain": dict(sorted(rows.items())),
        "subjects": study.count("subjects"),
    }
    if study.options.exclude_arms and "DM" in study.views:
        row = study.con.execute(
            f"SELECT count(DISTINCT USUBJID) FROM {ident(study.views['DM'].view)}"
        ).fetchall()
        total = int(row[0][0]) if row else 0
        facts["subjects excluded by arm"] = total - int(facts["subjects"])  # type: ignore[call-overload]
    return facts
