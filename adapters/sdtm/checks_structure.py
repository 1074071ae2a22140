"""Structure checks: required variables and their completeness, the DOMAIN column, unique
subjects and sequence numbers, subjects known to DM, SUPP-- links and unusable domains."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hyperfed.adapters.sdtm.checks_base import Emitter
from hyperfed.adapters.sdtm.sqlparts import ident, lit, txt
from hyperfed.adapters.sdtm.standard import SUBJECT_FREE, SUPP_REQUIRED, required_variables

if TYPE_CHECKING:
    from hyperfed.adapters.sdtm.loader import Dataset, Study

__all__ = ["check_structure"]

_USABLE = ("EVENTS", "INTERVENTIONS", "FINDINGS", "SPECIAL PURPOSE", "TRIAL DESIGN")


def _raw(ds: Dataset) -> str:
    return f"(SELECT *, rowid + 1 AS _row FROM {ident(ds.table)}) r"


def _required(ds: Dataset) -> tuple[str, ...]:
    if ds.is_supp:
        return SUPP_REQUIRED
    return required_variables(ds.domain, ds.domain_class)


def _variables(em: Emitter, ds: Dataset) -> None:
    for col in _required(ds):
        if col not in ds.columns:
            em.one(
                "error", ds.file, col, "missing-variable",
                f"required variable {col} (SDTMIG 3.3 core Req) is missing",
            )  # fmt: skip
            continue
        if col in ("DOMAIN", "RDOMAIN"):
            continue  # reported by the DOMAIN check
        em.rows(
            f"SELECT _row, NULL AS detail FROM {_raw(ds)} "
            f"WHERE {txt(col, ds.columns[col])} IS NULL",
            "error", ds.file, col, "missing-value",
            lambda _d, col=col: f"required variable {col} is empty",  # type: ignore[misc]
        )  # fmt: skip


def _domain_column(em: Emitter, ds: Dataset) -> None:
    col = "RDOMAIN" if ds.is_supp else "DOMAIN"
    if col not in ds.columns:
        return
    value = txt(col, ds.columns[col])
    em.rows(
        f"SELECT _row, NULL AS detail FROM {_raw(ds)} WHERE {value} IS NULL",
        "error", ds.file, col, "domain-empty",
        lambda _d: f"{col} is empty (expected {ds.domain})",
    )  # fmt: skip
    em.rows(
        f"SELECT _row, {value} AS detail FROM {_raw(ds)} "
        f"WHERE upper({value}) <> {lit(ds.domain)}",
        "error", ds.file, col, "domain-mismatch",
        lambda d: f"{col} is {d!r} but the file holds domain {ds.domain}",
    )  # fmt: skip


def _unique_subjects(em: Emitter, study: Study) -> None:
    for ds in study.datasets:
        if ds.domain != "DM" or ds.is_supp or "USUBJID" not in ds.columns:
            continue
        u = txt("USUBJID", ds.columns["USUBJID"])
        em.rows(
            f"SELECT _row, NULL AS detail FROM (SELECT _row, {u} AS u, "
            f"row_number() OVER (PARTITION BY {u} ORDER BY _row) AS k FROM {_raw(ds)}) "
            "WHERE u IS NOT NULL AND k > 1",
            "error", ds.file, "USUBJID", "duplicate-subject",
            lambda _d: "USUBJID appears in an earlier DM row: a subject must have one DM row "
            "(the first is used)",
        )  # fmt: skip


def _unique_seq(em: Emitter, study: Study) -> None:
    for v in study.views.values():
        seq = v.var("SEQ")
        if seq is None or not v.has("USUBJID"):
            continue
        s, u = txt(seq, v.isnum(seq)), txt("USUBJID", v.isnum("USUBJID"))
        files = [ds.file for ds in study.datasets if ds.domain == v.domain and not ds.is_supp]
        for file in files:
            em.rows(
                f"SELECT _row, detail FROM (SELECT r._file, r._row, {s} AS detail, "
                f"row_number() OVER (PARTITION BY {u}, {s} ORDER BY r._file, r._row) AS k "
                f"FROM {ident(v.view)} r WHERE {s} IS NOT NULL) WHERE k > 1 "
                f"AND _file = {lit(file)}",
                "error", file, seq, "duplicate-seq",
                lambda d, seq=seq, dom=v.domain: f"{seq} {d} repeats an earlier row of the "  # type: ignore[misc]
                f"same subject in domain {dom}",
            )  # fmt: skip


def _known_subjects(em: Emitter, study: Study) -> None:
    dm = [ds for ds in study.datasets if ds.domain == "DM" and not ds.is_supp]
    if not dm or "USUBJID" not in dm[0].columns:
        return
    known = " UNION ".join(
        f"SELECT {txt('USUBJID', d.columns['USUBJID'], None)} AS u FROM {ident(d.table)}"
        for d in dm
    )
    for ds in study.datasets:
        if ds.domain in SUBJECT_FREE or (ds.domain == "DM" and not ds.is_supp):
            continue
        if "USUBJID" not in ds.columns:
            continue
        u = txt("USUBJID", ds.columns["USUBJID"])
        em.rows(
            f"SELECT _row, NULL AS detail FROM {_raw(ds)} "
            f"WHERE {u} IS NOT NULL AND {u} NOT IN ({known})",
            "error", ds.file, "USUBJID", "unknown-subject",
            lambda _d: "USUBJID is not a subject of DM: the row is not counted",
        )  # fmt: skip


def _supp_links(em: Emitter, study: Study) -> None:
    for ds in study.datasets:
        if not ds.is_supp:
            continue
        em.rows(
            f"SELECT _row, idvar || '=' || coalesce(idvarval, '') AS detail FROM qualifiers "
            f"WHERE _file = {lit(ds.file)} AND parent_row IS NULL AND usubjid IS NOT NULL",
            "warning", ds.file, "IDVARVAL", "supp-unlinked",
            lambda d, dom=ds.domain: f"qualifies no row of {dom} ({d or 'IDVAR blank'})",  # type: ignore[misc]
        )  # fmt: skip


def check_structure(em: Emitter, study: Study) -> None:
    for ds in study.datasets:
        _variables(em, ds)
        _domain_column(em, ds)
        if not ds.is_supp and ds.domain_class not in _USABLE and ds.domain != "RELREC":
            em.one(
                "warning", ds.file, None, "unknown-class",
                f"domain {ds.domain}: neither define.xml nor the variable names show its "
                "class (events, interventions, findings); it is not used in counts",
            )  # fmt: skip
    _unique_subjects(em, study)
    _unique_seq(em, study)
    _known_subjects(em, study)
    _supp_links(em, study)
