"""The CDISC SDTM adapter: a folder of domain datasets, loaded into DuckDB, queried with SQL.

    adapter = SdtmAdapter.from_source("/srv/trial", exclude_arms=["SCRNFAIL"])
    adapter.count(query, bindings)           # ExactCount (never leaves the node)
    SdtmAdapter.check("/srv/trial")          # the data-quality Report

`from_source` loads the folder with `load_folder` (in memory, or into the DuckDB file
`cache`, which is reused while the folder's files and the options stay the same), inspects
the layout once (`SdtmSchema`) and answers every query on that connection through the kit's
`DuckDBRunner` under the query's deadline.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator

from hyperfed.adapters.base import Adapter, AdapterOptions, ExactCount, NativeQuery, OptionPath
from hyperfed.adapters.checks import Report
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.errors import SourceError
from hyperfed.adapters.facts import ExactFacts
from hyperfed.adapters.hql.bindings import Bindings
from hyperfed.adapters.hql.model import Query
from hyperfed.adapters.sdtm.bindings import SdtmBinding
from hyperfed.adapters.sdtm.compiler import MEDDRA
from hyperfed.adapters.sql import DuckDBRunner, SqlQuery

__all__ = ["SdtmAdapter", "SdtmOptions"]

_Domain = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9]{1,7}$")]


class SdtmOptions(AdapterOptions):
    """Options of an SDTM folder (`[adapter]` in the node config, `--option KEY=VALUE`)."""

    exclude_arms: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    """DM subjects whose ARMCD or ARM is one of these are left out (e.g. SCRNFAIL)."""
    required_domains: tuple[_Domain, ...] = ("DM",)
    """domains whose absence is an error (DM by default)."""
    on_error: Literal["serve", "refuse"] = "serve"
    """a file that cannot be read, a required domain missing: serve what can be read, or
    refuse to start (the error lists every file and reason)."""
    csv_encoding: str = "utf-8"
    """encoding of the CSV files (XPT files: UTF-8, else latin-1 with a note)."""
    xpt_encoding: str | None = None
    cache: OptionPath | None = None
    """a DuckDB file to build the layout in and reuse while the folder is unchanged."""

    @field_validator("exclude_arms", "required_domains", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("csv_encoding", "xpt_encoding")
    @classmethod
    def _encoding(cls, value: str | None) -> str | None:
        import codecs

        if value is not None:
            try:
                codecs.lookup(value)
            except LookupError as exc:
                raise ValueError(f"unknown encoding {value!r}") from exc
        return value


class SdtmAdapter(Adapter):
    MODEL: ClassVar[str] = "sdtm"
    TITLE: ClassVar[str] = "CDISC SDTM folder (SAS XPORT, CSV, define.xml)"
    SUPPORTS_TEMPORAL = True
    SUPPORTS_RELATIVE_WINDOWS = True
    SUPPORTS_VALUES = True
    SUPPORTS_OCCURRENCES = True
    SUPPORTS_DESCENDANTS = True  # MedDRA codes: the HLT/HLGT/SOC codes of each record
    SUPPORTS_STRATIFY = True
    BINDING_KINDS = (SdtmBinding,)
    NATIVE_SYSTEMS = frozenset({MEDDRA})
    OPTIONS = SdtmOptions

    def __init__(self, study: Any) -> None:
        from hyperfed.adapters.sdtm.schema import inspect_study

        self.study = study
        self.schema = inspect_study(study)
        self.runner = DuckDBRunner.over(study.con, f"SDTM folder {study.source}")

    # -- opening ---------------------------------------------------------------------------
    @staticmethod
    def load_options(opts: SdtmOptions) -> Any:
        from hyperfed.adapters.sdtm.loader import LoadOptions

        return LoadOptions(
            exclude_arms=tuple(opts.exclude_arms),
            required_domains=tuple(opts.required_domains),
            on_error=opts.on_error,
            csv_encoding=opts.csv_encoding,
            xpt_encoding=opts.xpt_encoding,
            database=opts.cache,
        )

    @classmethod
    def from_source(cls, source: str, **options: Any) -> SdtmAdapter:
        from hyperfed.adapters.sdtm.cache import open_study

        opts = cls.options(options)
        assert isinstance(opts, SdtmOptions)
        folder = cls._folder(source)
        return cls(open_study(folder, cls.load_options(opts)))

    @classmethod
    def _folder(cls, source: str) -> Path:
        if "://" in source:
            if not source.startswith("file://"):
                raise SourceError(f"an SDTM source is a folder path, not {source!r}")
            source = source[len("file://") :]
        return Path(source).expanduser()

    @classmethod
    def resolve_source(cls, source: str, base_dir: Path) -> str:
        path = cls._folder(source)
        return str(path if path.is_absolute() else (base_dir / path).resolve())

    @classmethod
    def check(cls, source: str, **options: Any) -> Report:
        """The SDTM data-quality report (every problem with file, row and column)."""
        from hyperfed.adapters.checks import Problem
        from hyperfed.adapters.sdtm.checks import check_folder

        try:
            opts = cls.options(options)
        except SourceError as exc:
            report = Report(source=source, model=cls.MODEL)
            report.add(Problem("error", None, None, None, "bad-option", str(exc)))
            return report
        assert isinstance(opts, SdtmOptions)
        load = cls.load_options(opts.model_copy(update={"cache": None}))
        return check_folder(cls._folder(source), load)

    # -- the contract ----------------------------------------------------------------------
    def compile(
        self, query: Query, bindings: Bindings, deadline: Deadline | None = None
    ) -> SqlQuery:
        from hyperfed.adapters.sdtm.plans import compile_count

        return compile_count(query, bindings, self.schema, self.features(), deadline)

    def run(self, native: NativeQuery, deadline: Deadline | None = None) -> ExactCount:
        assert isinstance(native, SqlQuery)
        rows = self.runner.fetch(native.render("duckdb"), deadline)
        if not native.strata:
            return ExactCount(int(rows[0][0]))
        strata = {tuple(str(v) for v in row[:-1]): int(row[-1]) for row in rows}
        return ExactCount(sum(strata.values()), strata)

    def describe(self) -> list[str]:
        study, report = self.study, self.study.report
        rows = report.facts.get("rows by domain", {})
        lines = [
            f"SDTM folder {study.source}: {self.schema.subjects} subjects, "
            f"{len(study.datasets)} datasets ({', '.join(sorted(rows)) or 'none'})",
        ]
        if study.options.database:
            lines.append(f"layout cached in {study.options.database}")
        lines += [f"{p.severity}: {p.where()}: {p.message}" for p in report.problems]
        lines += list(report.notes)
        return lines

    def facts(self, dataset: str, as_of: dt.date, deadline: Deadline | None = None) -> ExactFacts:
        """The study's facts (one folder is one dataset: `dataset` is not used); see
        `hyperfed.adapters.sdtm.facts`."""
        from hyperfed.adapters.sdtm.facts import sdtm_facts

        return sdtm_facts(self.runner, as_of, deadline)

    def close(self) -> None:
        self.study.close()
