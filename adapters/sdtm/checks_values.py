"""Value checks: ISO 8601 dates, numeric variables, units of numeric results, controlled
terms (define.xml codelists; SEX and AGEU always), identifying data in free text."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hyperfed.adapters.sdtm.checks_base import Emitter
from hyperfed.adapters.sdtm.identifiers import EMAIL_RE2, PHONE_RE2, scanned_column
from hyperfed.adapters.sdtm.layout import AGE_UNITS
from hyperfed.adapters.sdtm.sqlparts import ident, lit, num, txt
from hyperfed.adapters.sdtm.standard import DATE_SUFFIX, is_numeric_variable

if TYPE_CHECKING:
    from hyperfed.adapters.sdtm.loader import Dataset, Study

__all__ = ["check_values"]

_DATE_PROBLEMS = {
    "ambiguous": ("error", "date-ambiguous", "day and month cannot be told apart"),
    "impossible": ("error", "date-impossible", "no such date or time"),
    "invalid": ("error", "date-invalid", "not an ISO 8601 date"),
    "non_iso": ("warning", "date-non-iso", "not ISO 8601 but unambiguous: read"),
}
_SEXES = ("F", "M", "U", "UNDIFFERENTIATED")
_UNITLESS = frozenset({"QS", "FT", "RS", "IE", "SC"})  # scores and answers: no units


def _raw(ds: Dataset) -> str:
    return f"(SELECT *, rowid + 1 AS _row FROM {ident(ds.table)}) r"


def _dates(em: Emitter, ds: Dataset) -> None:
    for col in ds.columns:
        if not col.endswith(DATE_SUFFIX):
            continue
        for kind, (severity, code, what) in _DATE_PROBLEMS.items():
            tail = "; the date is not used" if severity == "error" else ""
            em.rows(
                f"SELECT r._row, CAST(r.{ident(col)} AS VARCHAR) AS detail FROM {_raw(ds)} "
                f"JOIN hf_dtc d ON d.text = CAST(r.{ident(col)} AS VARCHAR) "
                f"WHERE d.kind = {lit(kind)}",
                severity, ds.file, col, code,  # type: ignore[arg-type]
                lambda d, what=what, tail=tail: f"{d!r}: {what}{tail}",  # type: ignore[misc]
            )  # fmt: skip


def _numeric_expected(study: Study, ds: Dataset, col: str) -> bool:
    meta = study.define.dataset(ds.name) if study.define else None
    var = meta.variables.get(col) if meta else None
    if var is not None:
        return var.numeric
    return is_numeric_variable(ds.domain, col)


def _numeric(em: Emitter, study: Study, ds: Dataset) -> None:
    for col, stored_numeric in ds.columns.items():
        if stored_numeric or not _numeric_expected(study, ds, col):
            continue
        em.rows(
            f"SELECT _row, {txt(col)} AS detail FROM {_raw(ds)} "
            f"WHERE {txt(col)} IS NOT NULL AND {num(col)} IS NULL",
            "error", ds.file, col, "not-numeric",
            lambda d, col=col: f"{col} is numeric in SDTM but holds {d!r}; the value is not used",  # type: ignore[misc]
        )  # fmt: skip


def _units(em: Emitter, ds: Dataset) -> None:
    if ds.domain_class != "FINDINGS" or ds.is_supp or ds.domain in _UNITLESS:
        return
    d = ds.domain
    pairs = ((d + "STRESN", d + "STRESU", None), (d + "ORRES", d + "ORRESU", d + "STRESN"))
    for value, unit, unless in pairs:
        if value not in ds.columns:
            continue
        v = num(value, ds.columns[value])
        u = txt(unit, ds.columns.get(unit, False)) if unit in ds.columns else "NULL"
        skip = f" AND {num(unless, ds.columns[unless])} IS NULL" if unless in ds.columns else ""
        testcd = d + "TESTCD"
        detail = txt(testcd, False) if testcd in ds.columns else "NULL"
        em.rows(
            f"SELECT _row, {detail} AS detail FROM {_raw(ds)} "
            f"WHERE {v} IS NOT NULL AND {u} IS NULL{skip}",
            "warning", ds.file, unit, "missing-unit",
            lambda t, value=value: f"numeric {value} without a unit"  # type: ignore[misc]
            + (f" (test {t})" if t else "") + ": it cannot be compared with a value in a unit",
        )  # fmt: skip
        if unit in ds.columns:
            em.rows(
                f"SELECT _row, {u} AS detail FROM {_raw(ds)} JOIN hf_unit_map m ON m.term = {u} "
                f"WHERE m.ucum IS NULL AND {v} IS NOT NULL{skip}",
                "warning", ds.file, unit, "unknown-unit",
                lambda t: f"unit {t!r} has no UCUM equivalent known to Hyperfed; results in it "
                "are not compared with values in a query",
            )  # fmt: skip


def _codelists(em: Emitter, study: Study, ds: Dataset) -> None:
    checked: set[str] = set()
    meta = study.define.dataset(ds.name) if study.define else None
    if meta is not None:
        for col, var in meta.variables.items():
            cl = study.define.codelists.get(var.codelist) if var.codelist and study.define else None
            if cl is None or cl.external or not cl.values or col not in ds.columns:
                continue
            checked.add(col)
            if ds.columns[col]:  # stored as a number: compare numbers (1.3 == 1.3000000000000003)
                test = (
                    f"round({num(col, True)}, 9) NOT IN (SELECT round(TRY_CAST(x AS DOUBLE), 9) "
                    f"FROM (VALUES {', '.join(f'({lit(x)})' for x in sorted(cl.values))}) t(x))"
                )
            else:
                values = ", ".join(lit(x) for x in sorted(cl.values))
                test = f"{txt(col)} NOT IN ({values})"
            em.rows(
                f"SELECT _row, {txt(col, ds.columns[col])} AS detail FROM {_raw(ds)} "
                f"WHERE {txt(col, ds.columns[col])} IS NOT NULL AND {test}",
                "warning", ds.file, col, "not-in-codelist",
                lambda d, col=col, name=cl.name: f"{col} {d!r} is not a term of codelist "  # type: ignore[misc]
                f"{name} (define.xml)",
            )  # fmt: skip
    if ds.domain != "DM" or ds.is_supp:
        return
    builtin = (("SEX", _SEXES, "error"), ("AGEU", tuple(AGE_UNITS), "error"))
    for col, allowed, severity in builtin:
        if col in ds.columns and col not in checked:
            values = ", ".join(lit(x) for x in allowed)
            em.rows(
                f"SELECT _row, {txt(col)} AS detail FROM {_raw(ds)} "
                f"WHERE {txt(col)} IS NOT NULL AND upper({txt(col)}) NOT IN ({values})",
                severity, ds.file, col, "not-in-codelist",  # type: ignore[arg-type]
                lambda d, col=col, allowed=allowed: f"{col} {d!r} is not one of "  # type: ignore[misc]
                f"{', '.join(allowed)}; the value is not used",
            )  # fmt: skip
    if "AGE" in ds.columns:
        u = txt("AGEU") if "AGEU" in ds.columns else "NULL"
        em.rows(
            f"SELECT _row, NULL AS detail FROM {_raw(ds)} "
            f"WHERE {num('AGE', ds.columns['AGE'])} IS NOT NULL AND {u} IS NULL",
            "warning", ds.file, "AGEU", "age-unit-missing",
            lambda _d: "AGE without AGEU: the age is not used (BRTHDTC is, when given)",
        )  # fmt: skip


def _identifying(em: Emitter, ds: Dataset) -> None:
    for col, numeric in ds.columns.items():
        if numeric or not scanned_column(col):
            continue
        c = txt(col)
        for what, pattern in (("an e-mail address", EMAIL_RE2), ("a phone number", PHONE_RE2)):
            em.rows(
                f"SELECT _row, NULL AS detail FROM {_raw(ds)} "
                f"WHERE {c} IS NOT NULL AND regexp_matches({c}, {lit(pattern)})",
                "warning", ds.file, col, "identifying-value",
                lambda _d, what=what: f"the text looks like {what}: remove direct identifiers "  # type: ignore[misc]
                "from the transfer",
            )  # fmt: skip


def check_values(em: Emitter, study: Study) -> None:
    for ds in study.datasets:
        _dates(em, ds)
        _numeric(em, study, ds)
        _units(em, ds)
        _codelists(em, study, ds)
        _identifying(em, ds)
