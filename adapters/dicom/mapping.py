"""Existing Parquet indexes (NCI IDC's, a PACS export, our own index) as the series table.

A `ColumnMapping` (node config, TOML) says how each series column comes from the source's
columns: a column name, or a column (or columns) with a named transform. `attach_series`
creates a DuckDB view `dicom_series` over the Parquet files — nothing is copied — built as a
sqlglot AST: file names and constants are literals, column names quoted identifiers, and a
transform is one of the fixed expressions below (no SQL text from a config file).

    mapping = load_mapping("idc")                 # shipped: adapters/dicom/data/idc.toml
    con = duckdb.connect()
    attach_series(con, "idc")                     # the installed idc-index-data files
    attach_series(con, "/srv/pacs/series.parquet", load_mapping("pacs.toml"))
    attach_series(con, "index.parquet")           # our own index: already the layout

Transforms (no transform: the column as it is, which lets DuckDB push filters into the
Parquet scan): text (trimmed, '' -> NULL), upper, date (DA 'YYYYMMDD' or ISO), time (TM or
ISO), integer, number,
sex (F/M/O else NULL), dicom_age (Age String -> whole years), year (of a date), present
(a non-empty value -> true), key (several columns joined by '/', NULL if any is NULL),
max (the largest of several numeric columns).
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import duckdb
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlglot import exp

from hyperfed.adapters.dicom.errors import MappingError, SourceError
from hyperfed.adapters.dicom.layout import SERIES_COLUMNS, SERIES_TABLE

__all__ = [
    "TRANSFORMS",
    "ColumnMapping",
    "ColumnSpec",
    "attach_series",
    "load_mapping",
    "series_view",
]

Transform = Literal[
    "text", "upper", "date", "time", "integer", "number", "sex", "dicom_age", "year",
    "present", "key", "max",
]  # fmt: skip
TRANSFORMS: tuple[str, ...] = Transform.__args__  # type: ignore[attr-defined]
_MULTI = frozenset({"key", "max"})


class ColumnSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str | None = None
    columns: list[str] | None = None
    transform: Transform | None = None
    value: str | int | float | bool | None = None  # a constant

    @model_validator(mode="after")
    def _one_source(self) -> ColumnSpec:
        given = [x is not None for x in (self.column, self.columns, self.value)]
        if sum(given) != 1:
            raise ValueError("give exactly one of column, columns, value")
        if self.columns is not None and self.transform not in _MULTI:
            raise ValueError(f"columns needs transform 'key' or 'max', not {self.transform!r}")
        if self.column is not None and self.transform in _MULTI:
            raise ValueError(f"transform {self.transform!r} needs columns (a list)")
        return self

    def sources(self) -> list[str]:
        return self.columns or ([self.column] if self.column else [])


class ColumnMapping(BaseModel):
    """How a Parquet index's columns become the series table (one TOML file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "custom"
    description: str = ""
    package_files: list[str] = []  # files of the idc-index-data package (source "idc")
    columns: dict[str, Annotated[str | ColumnSpec, Field()]]

    @model_validator(mode="after")
    def _known_targets(self) -> ColumnMapping:
        names = {c.name for c in SERIES_COLUMNS}
        unknown = sorted(set(self.columns) - names)
        if unknown:
            raise ValueError(
                f"unknown series column(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}"
            )
        for required in ("person_key", "SeriesInstanceUID"):
            if required not in self.columns:
                raise ValueError(f"the mapping must give {required}")
        return self

    def spec(self, target: str) -> ColumnSpec | None:
        value = self.columns.get(target)
        if value is None or isinstance(value, ColumnSpec):
            return value
        return ColumnSpec(column=value)


IDENTITY = ColumnMapping(name="hyperfed", columns={c.name: c.name for c in SERIES_COLUMNS})


def load_mapping(name_or_path: str | Path) -> ColumnMapping:
    """A shipped mapping by name ('idc') or a TOML file (MappingError naming the field)."""
    text: str
    where: str
    if (
        isinstance(name_or_path, str)
        and "/" not in name_or_path
        and not name_or_path.endswith(".toml")
    ):
        resource = resources.files("hyperfed.adapters.dicom").joinpath(f"data/{name_or_path}.toml")
        if not resource.is_file():
            raise MappingError(f"no shipped column mapping {name_or_path!r} (shipped: idc)")
        text, where = resource.read_text(), f"mapping {name_or_path!r}"
    else:
        path = Path(name_or_path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise MappingError(f"cannot read column mapping {path}: {exc}") from exc
        where = str(path)
    try:
        return ColumnMapping.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{where}: invalid TOML: {exc}") from exc
    except ValidationError as exc:
        # a column is a name or a table: report the table's error (the deepest location)
        first = max(exc.errors(), key=lambda e: len(e["loc"]))
        loc = ".".join(str(x) for x in first["loc"] if x not in ("str", "ColumnSpec"))
        raise MappingError(f"{where}: {loc}: {first['msg']}") from exc


def _col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def _trimmed(col: exp.Expression) -> exp.Expression:
    text = exp.Trim(this=exp.cast(col, "VARCHAR"))
    return exp.Nullif(this=text, expression=exp.Literal.string(""))


def _try(col: exp.Expression, to: str) -> exp.Expression:
    return exp.TryCast(this=col, to=exp.DataType.build(to))


def _blank_to_null(col: exp.Expression) -> exp.Expression:
    return exp.Nullif(this=exp.cast(col, "VARCHAR"), expression=exp.Literal.string(""))


def _transform(spec: ColumnSpec, target_type: str, simple: bool = False) -> exp.Expression:
    if spec.value is not None:
        value = spec.value
        literal: exp.Expression
        if isinstance(value, bool):
            literal = exp.Boolean(this=value)
        elif isinstance(value, int | float):
            literal = exp.Literal.number(value)
        else:
            literal = exp.Literal.string(value)
        return exp.cast(literal, target_type)
    cols = [_col(c) for c in spec.sources()]
    col = cols[0]
    t = spec.transform
    text = _trimmed(col)
    if t is None:  # a plain column: no expression, so DuckDB can push filters into the scan
        return col
    if t == "text":
        return _blank_to_null(col) if simple else text
    if t == "upper":
        return exp.Upper(this=_blank_to_null(col) if simple else text)
    if t == "date":
        if simple:
            return _try(col, "DATE")
        as_text = exp.cast(col, "VARCHAR")
        return exp.Coalesce(
            this=_try(col, "DATE"),
            expressions=[
                exp.cast(exp.func("try_strptime", as_text, exp.Literal.string("%Y%m%d")), "DATE")
            ],
        )
    if t == "time":
        as_text = exp.cast(col, "VARCHAR")
        hhmmss = exp.Substring(
            this=as_text, start=exp.Literal.number(1), length=exp.Literal.number(6)
        )
        return exp.Coalesce(
            this=_try(col, "TIME"),
            expressions=[
                exp.cast(exp.func("try_strptime", hhmmss, exp.Literal.string("%H%M%S")), "TIME")
            ],
        )
    if t == "integer":
        return _try(exp.Floor(this=_try(text, "DOUBLE")), "INTEGER")
    if t == "number":
        return _try(text, "DOUBLE")
    if t == "sex":
        up = exp.Upper(this=text)
        return exp.If(
            this=exp.In(this=up, expressions=[exp.Literal.string(s) for s in "FMO"]),
            true=up,
        )
    if t == "dicom_age":
        up = exp.Upper(this=text)
        pattern = exp.Literal.string(r"^(\d{1,3})[DWMY]$")
        group = exp.RegexpExtract(this=up, expression=pattern, group=exp.Literal.number(1))
        number = _try(group, "DOUBLE")
        unit = exp.func("right", up, exp.Literal.number(1))
        days = exp.Case(
            this=unit,
            ifs=[
                exp.If(this=exp.Literal.string("Y"), true=exp.Literal.number(365.25)),
                exp.If(this=exp.Literal.string("M"), true=exp.Literal.number(365.25 / 12)),
                exp.If(this=exp.Literal.string("W"), true=exp.Literal.number(7)),
                exp.If(this=exp.Literal.string("D"), true=exp.Literal.number(1)),
            ],
        )
        ratio = exp.Div(
            this=exp.Mul(this=number, expression=days), expression=exp.Literal.number(365.25)
        )
        years = exp.Floor(this=exp.Add(this=ratio, expression=exp.Literal.number(1e-9)))
        return _try(years, "INTEGER")
    if t == "year":
        return exp.Extract(this=exp.var("year"), expression=_try(text, "DATE"))
    if t == "present":
        return exp.If(this=exp.Not(this=exp.Is(this=text, expression=exp.Null())), true=exp.true())
    if t == "key":  # a || '/' || b: NULL as soon as one part is NULL
        joined: exp.Expression = exp.cast(cols[0], "VARCHAR")
        for c in cols[1:]:
            joined = exp.DPipe(
                this=exp.DPipe(this=joined, expression=exp.Literal.string("/")),
                expression=exp.cast(c, "VARCHAR"),
            )
        return joined
    if t == "max":  # DuckDB's greatest() skips NULLs (sqlglot's Greatest would not)
        return exp.Anonymous(this="greatest", expressions=[_try(c, "DOUBLE") for c in cols])
    raise MappingError(f"unknown transform {t!r}")  # pragma: no cover - Literal-checked


def series_view(
    mapping: ColumnMapping,
    files: Sequence[str],
    view: str = SERIES_TABLE,
    simple: frozenset[str] = frozenset(),
) -> str:
    """CREATE VIEW SQL (DuckDB) of the series table over Parquet `files` through `mapping`;
    the targets in `simple` use the cheaper form of their transform (`simplifiable`)."""
    projections = []
    for column in SERIES_COLUMNS:
        spec = mapping.spec(column.name)
        expr = (
            exp.cast(exp.Null(), column.type)
            if spec is None
            else exp.cast(_transform(spec, column.type, column.name in simple), column.type)
        )
        projections.append(exp.alias_(expr, column.name, quoted=True))
    select = exp.select(*projections).from_(_source(files))
    create = exp.Create(
        this=exp.to_table(view),
        kind="VIEW",
        replace=True,
        expression=select,
    )
    return create.sql(dialect="duckdb")


def _source(files: Sequence[str]) -> exp.Func:
    return exp.func("read_parquet", exp.Array(expressions=[exp.Literal.string(f) for f in files]))


def simplifiable(
    con: duckdb.DuckDBPyConnection, mapping: ColumnMapping, files: Sequence[str]
) -> frozenset[str]:
    """The targets whose transform has a cheaper form giving the same values on these files
    (one scan): `date` when no value needs the DICOM DA fallback ('YYYYMMDD'), `text` and
    `upper` when no value has blanks to trim. Cheaper expressions keep a same-series count
    on NCI IDC's 1M series close to hand-written SQL (bench/dicom_query.py)."""
    checks: list[tuple[str, exp.Expr]] = []
    for column in SERIES_COLUMNS:
        spec = mapping.spec(column.name)
        if spec is None or spec.column is None or spec.transform not in ("date", "text", "upper"):
            continue
        col = _col(spec.column)
        text = exp.cast(col.copy(), "VARCHAR")
        needs: exp.Expr
        if spec.transform == "date":
            fallback = exp.func("try_strptime", text, exp.Literal.string("%Y%m%d"))
            needs = exp.and_(_try(col, "DATE").is_(exp.null()), fallback.is_(exp.null()).not_())
        else:
            needs = text.neq(exp.Trim(this=text.copy()))
        checks.append((column.name, needs))
    if not checks:
        return frozenset()
    counts = [
        exp.alias_(exp.Filter(this=exp.Count(this=exp.Star()), expression=exp.Where(this=c)), n)
        for n, c in checks
    ]
    query = exp.select(*counts).from_(_source(files)).sql(dialect="duckdb")
    try:
        row = con.execute(query).fetchall()[0]
    except duckdb.Error:
        return frozenset()  # the full transforms always work
    return frozenset(name for (name, _), n in zip(checks, row, strict=True) if n == 0)


def _package_files(mapping: ColumnMapping) -> list[str]:
    try:
        import idc_index_data
    except ImportError as exc:
        raise SourceError(
            "source 'idc' needs the idc-index-data package (pip install idc-index-data)"
        ) from exc
    base = Path(idc_index_data.__file__).parent
    return [str(base / f) for f in mapping.package_files]


def _source_columns(con: duckdb.DuckDBPyConnection, files: Sequence[str]) -> set[str]:
    try:
        return set(con.read_parquet(list(files)).columns)
    except duckdb.Error as exc:
        raise SourceError(f"cannot read Parquet {', '.join(files)}: {exc}") from exc


MEMORY_AUTO_SERIES = 2_000_000
"""`in_memory = "auto"` loads a Parquet index of at most this many series into memory (NCI
IDC's 1 M series: about 1.5 s and 370 MB; counts about twice as fast as over the Parquet
files, whose text dates and composite person keys are otherwise converted per row)."""


def attach_series(
    con: duckdb.DuckDBPyConnection,
    source: str | Path | Sequence[str | Path],
    mapping: ColumnMapping | None = None,
    view: str = SERIES_TABLE,
    in_memory: bool | Literal["auto"] = False,
) -> ColumnMapping:
    """Create the series table `view` over a Parquet source in `con`; returns the mapping
    used. `in_memory`: a table loaded once with the mapped, typed columns (True; "auto":
    when the files hold at most `MEMORY_AUTO_SERIES` rows) instead of a view over the files.

    `source` is 'idc' (the installed idc-index-data), a Parquet file, a glob, or a list of
    files. Without a mapping the files must already have the series layout (our own index,
    the synthetic index). Every source column the mapping names must exist.
    """
    if isinstance(source, str) and source == "idc":
        mapping = mapping or load_mapping("idc")
        files = _package_files(mapping)
    else:
        items = [source] if isinstance(source, str | Path) else list(source)
        files = [str(Path(f).expanduser()) for f in items]
        for f in files:
            if not any(ch in f for ch in "*?[") and not Path(f).is_file():
                raise SourceError(f"Parquet index not found: {f}")
    available = _source_columns(con, files)
    if mapping is None:
        missing = [c.name for c in SERIES_COLUMNS if c.name not in available]
        if missing:
            raise MappingError(
                f"{', '.join(files)} lacks series column(s) {', '.join(missing)}: give a column "
                "mapping for an index of another layout"
            )
        mapping = IDENTITY
    for target in mapping.columns:
        spec = mapping.spec(target)
        for name in spec.sources() if spec else []:
            if name not in available:
                raise MappingError(
                    f"mapping {mapping.name!r}: {target} reads column {name!r}, which "
                    f"{', '.join(files)} lacks (columns: {', '.join(sorted(available))})"
                )
    load = in_memory is True or (in_memory == "auto" and _rows(con, files) <= MEMORY_AUTO_SERIES)
    target = f"{view}_files" if load else view
    sql = series_view(mapping, files, target, simplifiable(con, mapping, files))
    try:
        con.execute(sql)
        if load:
            con.execute(f'CREATE OR REPLACE TABLE "{view}" AS SELECT * FROM "{target}"')
            con.execute(f'DROP VIEW "{target}"')
    except duckdb.Error as exc:
        raise SourceError(f"cannot create the series table over {', '.join(files)}: {exc}") from exc
    return mapping


def _rows(con: duckdb.DuckDBPyConnection, files: Sequence[str]) -> int:
    """Rows of the Parquet files, from their footers (no scan)."""
    query = exp.select("sum(num_rows)").from_(
        exp.func(
            "parquet_file_metadata",
            exp.Array(expressions=[exp.Literal.string(f) for f in files]),
        )
    )
    try:
        (n,) = con.execute(query.sql(dialect="duckdb")).fetchone() or (0,)
    except duckdb.Error:
        return MEMORY_AUTO_SERIES + 1  # cannot tell: leave the files where they are
    return int(n or 0)
