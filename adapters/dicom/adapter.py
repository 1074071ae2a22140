"""The DICOM adapter: one model, three sources (a folder of files, a Parquet index, a PACS
over DICOMweb), the same meaning on each (README: "DICOM (model `dicom`)")."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator

from hyperfed.adapters.base import Adapter, AdapterOptions, ExactCount, NativeQuery, OptionPath
from hyperfed.adapters.checks import Problem, Report
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.dicom.bindings import DicomBinding
from hyperfed.adapters.dicom.errors import DicomError, SourceError, UnknownKeyword
from hyperfed.adapters.dicom.keywords import validate_keyword
from hyperfed.adapters.dicom.layout import SERIES_COLUMNS, SERIES_TABLE
from hyperfed.adapters.dicom.matching import DCM
from hyperfed.adapters.errors import AdapterError
from hyperfed.adapters.facts import ExactFacts
from hyperfed.adapters.hql.bindings import Bindings
from hyperfed.adapters.hql.model import Query
from hyperfed.adapters.hql.walk import iter_events

if TYPE_CHECKING:
    from collections.abc import Callable

    from hyperfed.adapters.dicom.checks import CheckLimits
    from hyperfed.adapters.dicom.indexer import IndexOptions
    from hyperfed.adapters.dicom.matching import IndexSpace
    from hyperfed.adapters.dicom.qido import QidoClient
    from hyperfed.adapters.dicom.sources import IndexSource, SourceKind
    from hyperfed.adapters.sql import DuckDBRunner

__all__ = ["DicomAdapter", "DicomOptions"]

Pair = tuple[float, float]


class DicomOptions(AdapterOptions):
    """Options of a DICOM source (`[adapter]` in node.toml, `--option KEY=VALUE`)."""

    # Parquet indexes
    mapping: OptionPath | None = None
    """column mapping of a Parquet index: a TOML file or a shipped name ('idc')"""
    in_memory: bool | Literal["auto"] = "auto"
    """a Parquet index loaded into memory when the node opens (typed, mapped once: faster
    counts, more memory); "auto": when it holds at most 2,000,000 series"""
    # folders of DICOM files
    ids_pseudonymous: bool = False
    """the PatientIDs are pseudonyms already: keep them (else keyed pseudonyms)"""
    person_scope: Literal["node", "dataset"] = "node"
    dataset: str | None = None
    descriptions: bool = False
    """keep Study/SeriesDescription (free text) so that queries can test them"""
    index: OptionPath | None = None
    """keep the folder's index in this Parquet file (resumable) instead of in memory"""
    secret_file: OptionPath | None = None
    secret_env: str | None = None
    max_files: Annotated[int, Field(ge=1)] = 20000
    workers: Annotated[int | None, Field(ge=1, le=64)] = None
    # DICOMweb
    page_size: Annotated[int, Field(ge=1, le=10000)] = 100
    timeout: Annotated[float, Field(gt=0, le=3600)] = 30.0
    server_match: tuple[str, ...] = ("Modality",)
    """attributes the PACS matches itself when a criterion gives one value (the node
    re-tests everything); StudyDate ranges are always sent"""
    token_env: str | None = None
    """environment variable holding a bearer token for the PACS"""
    # what `node count --exact` reports
    count_studies: bool = False
    """also count the studies and series of the counted persons (exact, local only)"""
    # `node check` limits (defaults: DRAGON's specification)
    slice_thickness: Pair = (0.5, 1.5)
    pixel_spacing: Pair = (0.6, 1.5)
    slices: tuple[int, int] = (25, 1500)
    check_modalities: tuple[str, ...] = ("CT", "MR", "PT")
    strict: bool = False
    """checks: also list dummy-allowed and private attributes of the confidentiality profile"""

    @field_validator("server_match")
    @classmethod
    def _keywords(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(validate_keyword(k, "server_match") for k in value)

    def index_options(self) -> IndexOptions:
        from hyperfed.adapters.dicom.indexer import IndexOptions

        return IndexOptions(
            dataset=self.dataset,
            ids_pseudonymous=self.ids_pseudonymous,
            person_scope=self.person_scope,
            keep_descriptions=self.descriptions,
            strict_profile=self.strict,
            workers=self.workers,
        )

    def limits(self) -> CheckLimits:
        from hyperfed.adapters.dicom.checks import CheckLimits

        return CheckLimits(
            slice_thickness=self.slice_thickness,
            pixel_spacing=self.pixel_spacing,
            slices=self.slices,
            modalities=tuple(m.strip().upper() for m in self.check_modalities),
        )


def _options(options: dict[str, Any]) -> DicomOptions:
    opts = DicomAdapter.options(options)
    assert isinstance(opts, DicomOptions)
    return opts


class DicomAdapter(Adapter):
    MODEL: ClassVar[str] = "dicom"
    TITLE: ClassVar[str] = "DICOM tag index (own index, Parquet/IDC, DICOMweb QIDO-RS)"
    SUPPORTS_TEMPORAL = True
    SUPPORTS_RELATIVE_WINDOWS = True
    SUPPORTS_OCCURRENCES = True
    SUPPORTS_STRATIFY = True
    SUPPORTS_BODY_SITE = True
    SUPPORTS_ATTRIBUTES = True
    BINDING_KINDS = (DicomBinding,)
    NATIVE_SYSTEMS = frozenset({DCM})
    """DCM modality codes are read as they are; SNOMED CT (and other) codes are translated by
    the hub through the ontology (77477000 CT -> Modality CT), and a SNOMED CT code the
    ontology does not know is read as a CID 4031 body part. `body_site` is always read here
    (SNOMED CT, CID 4031)."""
    OPTIONS = DicomOptions

    def __init__(
        self,
        source: str,
        opts: DicomOptions,
        *,
        index: IndexSource | None = None,
        qido: QidoClient | None = None,
    ) -> None:
        self.source = source
        self.opts = opts
        self.index = index
        self.qido = qido
        self._runner: DuckDBRunner | None = None
        self._space: IndexSpace | None = None
        if index is not None:
            from hyperfed.adapters.dicom.matching import IndexSpace
            from hyperfed.adapters.sql import DuckDBRunner

            self._runner = DuckDBRunner.over(index.con, f"DICOM series index {source}")
            self._space = IndexSpace(index.available, f"this node's index ({index.name})")

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def from_source(cls, source: str, **options: Any) -> DicomAdapter:
        from hyperfed.adapters.dicom.sources import open_index, secret_from, source_kind, wrap

        opts = _options(options)
        kind = source_kind(source)
        if kind == "dicomweb":
            return cls(source, opts, qido=cls._client(source, opts))
        secret = None
        if kind == "folder" and opts.index is not None and not opts.ids_pseudonymous:
            secret = secret_from(opts.secret_file, opts.secret_env, source)
        try:
            index = open_index(
                source,
                kind,
                mapping=opts.mapping,
                folder_options=opts.index_options(),
                index=opts.index,
                secret=secret,
                max_files=opts.max_files,
                in_memory=opts.in_memory,
            )
        except (DicomError, ValueError) as exc:
            raise wrap(exc, source) from exc
        return cls(source, opts, index=index)

    @staticmethod
    def _client(source: str, opts: DicomOptions) -> QidoClient:
        from hyperfed.adapters.dicom.qido import QidoClient

        headers = {}
        if opts.token_env:
            token = os.environ.get(opts.token_env)
            if not token:
                raise SourceError(f"{source}: variable {opts.token_env} (token_env) is not set")
            headers["Authorization"] = f"Bearer {token}"
        return QidoClient(source, timeout=opts.timeout, page_size=opts.page_size, headers=headers)

    @classmethod
    def resolve_source(cls, source: str, base_dir: Path) -> str:
        if source == "idc" or "://" in source:
            return source
        return super().resolve_source(source, base_dir)

    @property
    def kind(self) -> SourceKind:
        return "dicomweb" if self.index is None else self.index.kind

    # -- the contract ------------------------------------------------------------------------
    def compile(
        self, query: Query, bindings: Bindings, deadline: Deadline | None = None
    ) -> NativeQuery:
        if self._space is not None:
            from hyperfed.adapters.dicom.sqlplan import compile_index_count

            return compile_index_count(
                query, bindings, self._space, self.features(), deadline,
                table=SERIES_TABLE, with_details=self.opts.count_studies,
            )  # fmt: skip
        from hyperfed.adapters.dicom.qidoplan import compile_qido_count

        return compile_qido_count(
            query, bindings, self.features(), self.source,
            page_size=self.opts.page_size, server_match=self.opts.server_match, deadline=deadline,
        )  # fmt: skip

    def run(self, native: NativeQuery, deadline: Deadline | None = None) -> ExactCount:
        from hyperfed.adapters.dicom.qidoplan import QidoQuery
        from hyperfed.adapters.dicom.sqlplan import DicomSqlQuery

        if isinstance(native, QidoQuery):
            from hyperfed.adapters.dicom.qidorun import run_qido

            assert self.qido is not None
            return run_qido(native, self.qido, deadline, details=self.opts.count_studies)
        assert isinstance(native, DicomSqlQuery) and self._runner is not None
        rows = self._runner.fetch(native.render("duckdb"), deadline)
        if native.strata:
            strata = {tuple(str(v) for v in row[:-1]): int(row[-1]) for row in rows}
            result = ExactCount(sum(strata.values()), strata)
        else:
            result = ExactCount(int(rows[0][0]))
        if native.details is not None:
            (studies, series), *_ = self._runner.fetch(native.details.sql("duckdb"), deadline)
            result.details = {"studies": int(studies), "series": int(series)}
        return result

    def describe(self) -> list[str]:
        if self.index is None:
            from urllib.parse import urlparse

            host = urlparse(self.source).netloc
            return [
                f"DICOMweb QIDO-RS at {host}: one search per criterion (paged), every "
                "same-series condition tested on this node, persons combined on this node",
            ]
        what = {
            "folder": "a folder of DICOM files indexed on this node (headers only)",
            "idc": "the NCI Imaging Data Commons index (idc-index-data)",
            "parquet": "a Parquet series index",
        }[self.index.kind]
        notes = [f"DICOM series table from {what}, column mapping {self.index.mapping_name!r}"]
        empty = [c.name for c in SERIES_COLUMNS if c.name not in self.index.available]
        if empty:
            notes.append(
                f"the column mapping leaves {', '.join(empty)} empty: criteria on them are "
                "unsupported here"
            )
        report = self.index.report
        if report is not None and report.unreadable:
            notes.append("some files could not be read (see the index report)")
        return notes

    def facts(
        self, dataset: str, as_of: dt.date, deadline: Deadline | None = None
    ) -> ExactFacts | None:
        """The index's facts (see `hyperfed.adapters.dicom.facts`); none over DICOMweb."""
        if self._runner is None or self.index is None:
            return None
        from hyperfed.adapters.dicom.facts import dicom_facts

        return dicom_facts(self._runner, set(self.index.available), dataset, as_of, deadline)

    def close(self) -> None:
        if self.index is not None:
            self.index.con.close()
        if self.qido is not None:
            self.qido.close()

    # -- optional hooks ------------------------------------------------------------------------
    @classmethod
    def query_problems(cls, query: Query) -> list[dict[str, Any]]:
        """Unknown DICOM keywords in `attributes`: the hub refuses them (422)."""
        from hyperfed.adapters.dicom.keywords import close_keywords

        problems: list[dict[str, Any]] = []
        for path, e in iter_events(query.criteria):
            for keyword in e.attributes or {}:
                try:
                    validate_keyword(keyword)
                except UnknownKeyword as exc:
                    problems.append(
                        {
                            "path": f"{path}.attributes.{keyword}",
                            "message": str(exc),
                            "value": keyword,
                            "suggestions": close_keywords(keyword),
                        }
                    )
        return problems

    @classmethod
    def check(cls, source: str, **options: Any) -> Report:
        """The imaging data checks of a folder (files and series) or a Parquet index
        (series); for DICOMweb, whether the PACS answers."""
        from hyperfed.adapters.dicom.sources import source_kind

        try:
            opts = _options(options)
            kind = source_kind(source)
            if kind == "dicomweb":
                return cls._check_pacs(source, opts)
            return cls._check_files(source, kind, opts)
        except (AdapterError, DicomError, ValueError) as exc:
            report = Report(source=source, model=cls.MODEL)
            report.add(Problem("error", None, None, None, "source.unreadable", str(exc)))
            return report

    @classmethod
    def _check_files(cls, source: str, kind: SourceKind, opts: DicomOptions) -> Report:
        import duckdb

        from hyperfed.adapters.dicom.checks import check_folder, check_series_table
        from hyperfed.adapters.dicom.mapping import attach_series, load_mapping

        if kind == "folder":
            return check_folder(
                Path(source),
                opts.limits(),
                workers=opts.workers,
                strict_profile=opts.strict,
                ids_pseudonymous=opts.ids_pseudonymous,
            )
        con = duckdb.connect()
        try:
            attach_series(con, source, load_mapping(opts.mapping) if opts.mapping else None)
            return check_series_table(con, limits=opts.limits(), source=source)
        except duckdb.Error as exc:
            raise SourceError(f"{source}: {exc}") from exc
        finally:
            con.close()

    @classmethod
    def _check_pacs(cls, source: str, opts: DicomOptions) -> Report:
        report = Report(source=source, model=cls.MODEL)
        with cls._client(source, opts) as client:
            studies = client.search_studies(limit=1, deadline=None)
        report.facts["answers"] = "yes" if studies is not None else "no"
        report.note(
            "a PACS is checked only for answering QIDO-RS; export or index its files "
            "(hyperfed node index-dicom) to run the imaging checks on them"
        )
        return report

    @classmethod
    def node_commands(cls) -> dict[str, Callable[..., Any]]:
        from hyperfed.adapters.dicom.cli import index_dicom

        return {"index-dicom": index_dicom}
