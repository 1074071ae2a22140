"""The normalised layout: SELECTs that turn domain views into the tables a compiler queries.

Tables (all text trimmed, empty -> NULL; matching columns upper-cased; dates as intervals
`(lo, hi)` under the partial-date rule of `hyperfed.adapters.sdtm.dates`):

- `subjects`       one row per DM subject kept (see `LoadOptions.exclude_arms`)
- `events`         EVENTS class rows (AE, MH, DS, CE ... and unknown event domains)
- `interventions`  INTERVENTIONS class rows (CM, EX, PR, SU ...)
- `findings`       FINDINGS class rows (LB, VS, MB, MI, DD ...), with the numeric `value`
- `qualifiers`     SUPP-- rows linked to the row they qualify

Rows of subjects missing from DM (or excluded) are not in `events`, `interventions`,
`findings`: nothing can be counted for a person the study does not have. Column lists are in
`TABLE_COLUMNS` (also the documentation of the layout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from hyperfed.adapters.sdtm.sqlparts import ident, lit, num, ref, txt, up

__all__ = [
    "TABLE_COLUMNS",
    "DomainView",
    "class_select",
    "subjects_select",
]

TABLE_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "subjects": (
        "usubjid", "studyid", "siteid", "sex", "age", "age_raw", "age_unit", "ref_lo", "ref_hi",
        "birth_lo", "birth_hi", "birth_source", "death_lo", "death_hi", "dead", "armcd", "arm",
        "actarmcd", "actarm", "country", "_file", "_row",
    ),
    "events": (
        "domain", "dataset", "usubjid", "seq", "term", "decod", "llt", "lltcd", "ptcd", "hlt",
        "hltcd", "hlgt", "hlgtcd", "bodsys", "bdsycd", "soc", "soccd", "cat", "scat", "presp",
        "occur", "start_lo", "start_hi", "start_source", "end_lo", "end_hi", "_file", "_row",
    ),
    "interventions": (
        "domain", "dataset", "usubjid", "seq", "trt", "decod", "cat", "scat", "clas", "dose",
        "dosu", "route", "presp", "occur", "start_lo", "start_hi", "start_source", "end_lo",
        "end_hi", "_file", "_row",
    ),
    "findings": (
        "domain", "dataset", "usubjid", "seq", "testcd", "test", "cat", "scat", "orres",
        "orresu", "stresc", "stresn", "stresu", "value", "unit", "ucum", "value_source", "stat",
        "spec", "loc", "method", "loinc", "date_lo", "date_hi", "_file", "_row",
    ),
    "qualifiers": (
        "rdomain", "dataset", "usubjid", "idvar", "idvarval", "qnam", "qlabel", "qval",
        "parent_file", "parent_row", "_file", "_row",
    ),
}  # fmt: skip

_SEXES = ("F", "M", "U", "UNDIFFERENTIATED")
# Years per AGEU unit, and the DuckDB interval unit for the birth interval.
AGE_UNITS: Final[dict[str, tuple[str, str]]] = {
    "YEARS": ("1.0", "YEAR"),
    "MONTHS": ("1.0 / 12", "MONTH"),
    "WEEKS": ("7.0 / 365.25", "WEEK"),
    "DAYS": ("1.0 / 365.25", "DAY"),
}


@dataclass(frozen=True)
class DomainView:
    """A domain's rows across its files: view `view` with columns (name -> stored as a number),
    plus `_file` and `_row`."""

    view: str
    domain: str
    domain_class: str | None
    columns: dict[str, bool] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.columns

    def var(self, suffix: str) -> str | None:
        name = self.domain + suffix
        return name if name in self.columns else None

    def isnum(self, name: str | None) -> bool:
        return bool(name) and self.columns.get(name or "", False)


def _dates(v: DomainView, joins: list[str], alias: str, column: str | None) -> tuple[str, str]:
    """(lo, hi) expressions of a date column through the date dictionary (NULL if absent)."""
    if column is None:
        return "CAST(NULL AS DATE)", "CAST(NULL AS DATE)"
    joins.append(f"LEFT JOIN hf_dtc {alias} ON {alias}.text = CAST({ref(column)} AS VARCHAR)")
    return f"{alias}.lo", f"{alias}.hi"


def _col(v: DomainView, suffix: str, kind: str = "txt") -> str:
    name = v.var(suffix)
    fn = {"txt": txt, "up": up, "num": num, "code": txt}[kind]
    return fn(name, v.isnum(name))


def _start(v: DomainView, joins: list[str]) -> tuple[str, str, str]:
    """Start (lo, hi, source): --STDTC when filled, else --DTC."""
    st, dtc = v.var("STDTC"), v.var("DTC")
    st_lo, st_hi = _dates(v, joins, "d_st", st)
    dt_lo, dt_hi = _dates(v, joins, "d_dtc", dtc)
    st_filled = f"{txt(st)} IS NOT NULL" if st else "false"
    lo = f"CASE WHEN {st_filled} THEN {st_lo} ELSE {dt_lo} END"
    hi = f"CASE WHEN {st_filled} THEN {st_hi} ELSE {dt_hi} END"
    dtc_filled = f"{txt(dtc)} IS NOT NULL" if dtc else "false"
    source = (
        f"CASE WHEN {st_filled} THEN {lit(st or '')} WHEN {dtc_filled} THEN {lit(dtc or '')} END"
    )
    return lo, hi, source


def _keep(v: DomainView) -> str:
    return f"{_rcol('USUBJID', v)} IN (SELECT usubjid FROM subjects)"


def _rcol(name: str, v: DomainView) -> str:
    return txt(name, v.isnum(name)) if v.has(name) else "CAST(NULL AS VARCHAR)"


def class_select(table: str, v: DomainView) -> str:
    """SELECT of `v`'s rows in the layout of `table` (events, interventions or findings)."""
    joins: list[str] = []
    head = [
        f"{lit(v.domain)} AS domain",
        "r._dataset AS dataset",
        f"{_rcol('USUBJID', v)} AS usubjid",
        f"{_col(v, 'SEQ', 'num')} AS seq",
    ]
    cols: list[str]
    if table == "events":
        lo, hi, source = _start(v, joins)
        end_lo, end_hi = _dates(v, joins, "d_en", v.var("ENDTC"))
        cols = [f"{_col(v, s.upper(), 'up')} AS {s}" for s in ("term", "decod", "llt")] + [
            f"{_col(v, 'LLTCD', 'code')} AS lltcd",
            f"{_col(v, 'PTCD', 'code')} AS ptcd",
        ]
        cols += [
            f"{_col(v, 'HLT', 'up')} AS hlt",
            f"{_col(v, 'HLTCD', 'code')} AS hltcd",
            f"{_col(v, 'HLGT', 'up')} AS hlgt",
            f"{_col(v, 'HLGTCD', 'code')} AS hlgtcd",
            f"{_col(v, 'BODSYS', 'up')} AS bodsys",
            f"{_col(v, 'BDSYCD', 'code')} AS bdsycd",
            f"{_col(v, 'SOC', 'up')} AS soc",
            f"{_col(v, 'SOCCD', 'code')} AS soccd",
            f"{_col(v, 'CAT', 'up')} AS cat",
            f"{_col(v, 'SCAT', 'up')} AS scat",
            f"{_col(v, 'PRESP', 'up')} AS presp",
            f"{_col(v, 'OCCUR', 'up')} AS occur",
            f"{lo} AS start_lo",
            f"{hi} AS start_hi",
            f"{source} AS start_source",
            f"{end_lo} AS end_lo",
            f"{end_hi} AS end_hi",
        ]
    elif table == "interventions":
        lo, hi, source = _start(v, joins)
        end_lo, end_hi = _dates(v, joins, "d_en", v.var("ENDTC"))
        cols = [
            f"{_col(v, 'TRT', 'up')} AS trt",
            f"{_col(v, 'DECOD', 'up')} AS decod",
            f"{_col(v, 'CAT', 'up')} AS cat",
            f"{_col(v, 'SCAT', 'up')} AS scat",
            f"{_col(v, 'CLAS', 'up')} AS clas",
            f"{_col(v, 'DOSE', 'num')} AS dose",
            f"{_col(v, 'DOSU')} AS dosu",
            f"{_col(v, 'ROUTE', 'up')} AS route",
            f"{_col(v, 'PRESP', 'up')} AS presp",
            f"{_col(v, 'OCCUR', 'up')} AS occur",
            f"{lo} AS start_lo",
            f"{hi} AS start_hi",
            f"{source} AS start_source",
            f"{end_lo} AS end_lo",
            f"{end_hi} AS end_hi",
        ]
    elif table == "findings":
        lo, hi = _dates(v, joins, "d_dtc", v.var("DTC"))
        stresn, orres = _col(v, "STRESN", "num"), _col(v, "ORRES", "num")
        stresu, orresu = _col(v, "STRESU"), _col(v, "ORRESU")
        value = f"CASE WHEN {stresn} IS NOT NULL THEN {stresn} ELSE {orres} END"
        unit = (
            f"CASE WHEN {stresn} IS NOT NULL THEN {stresu} "
            f"WHEN {orres} IS NOT NULL THEN {orresu} END"
        )
        source = (
            f"CASE WHEN {stresn} IS NOT NULL THEN 'STRESN' "
            f"WHEN {orres} IS NOT NULL THEN 'ORRES' END"
        )
        joins.append(f"LEFT JOIN hf_unit_map um ON um.term = ({unit})")
        cols = [
            f"{_col(v, 'TESTCD', 'up')} AS testcd",
            f"{_col(v, 'TEST', 'up')} AS test",
            f"{_col(v, 'CAT', 'up')} AS cat",
            f"{_col(v, 'SCAT', 'up')} AS scat",
            f"{_col(v, 'ORRES')} AS orres",
            f"{orresu} AS orresu",
            f"{_col(v, 'STRESC')} AS stresc",
            f"{stresn} AS stresn",
            f"{stresu} AS stresu",
            f"{value} AS value",
            f"{unit} AS unit",
            "um.ucum AS ucum",
            f"{source} AS value_source",
            f"{_col(v, 'STAT', 'up')} AS stat",
            f"{_col(v, 'SPEC', 'up')} AS spec",
            f"{_col(v, 'LOC', 'up')} AS loc",
            f"{_col(v, 'METHOD', 'up')} AS method",
            f"{_col(v, 'LOINC')} AS loinc",
            f"{lo} AS date_lo",
            f"{hi} AS date_hi",
        ]
    else:
        raise ValueError(f"unknown layout table {table!r}")
    select = ",\n  ".join([*head, *cols, "r._file AS _file", "r._row AS _row"])
    return (
        f"SELECT\n  {select}\nFROM {ident(v.view)} r\n" + "\n".join(joins) + f"\nWHERE {_keep(v)}"
    )


def subjects_select(v: DomainView, exclude_arms: tuple[str, ...]) -> str:
    """SELECT of the `subjects` table from the DM view `v` (first row of each USUBJID)."""
    joins: list[str] = []
    ref_lo, ref_hi = _dates(v, joins, "d_ref", "RFSTDTC" if v.has("RFSTDTC") else None)
    b_lo, b_hi = _dates(v, joins, "d_birth", "BRTHDTC" if v.has("BRTHDTC") else None)
    d_lo, d_hi = _dates(v, joins, "d_death", "DTHDTC" if v.has("DTHDTC") else None)
    age_raw = num("AGE", v.isnum("AGE")) if v.has("AGE") else "CAST(NULL AS DOUBLE)"
    ageu = _rcol("AGEU", v)
    years = " ".join(f"WHEN {lit(u)} THEN {f}" for u, (f, _) in AGE_UNITS.items())
    age = f"{age_raw} * (CASE upper({ageu}) {years} END)"
    n = f"CAST(floor({age_raw}) AS INTEGER)"
    lo_parts = " ".join(
        f"WHEN {lit(u)} THEN {ref_lo} - to_{unit.lower()}s({n} + 1) + INTERVAL 1 DAY"
        for u, (_, unit) in AGE_UNITS.items()
    )
    hi_parts = " ".join(
        f"WHEN {lit(u)} THEN {ref_hi} - to_{unit.lower()}s({n})"
        for u, (_, unit) in AGE_UNITS.items()
    )
    from_age_lo = f"CAST(CASE upper({ageu}) {lo_parts} END AS DATE)"
    from_age_hi = f"CAST(CASE upper({ageu}) {hi_parts} END AS DATE)"
    birth_lo = f"CASE WHEN {b_lo} IS NOT NULL THEN {b_lo} ELSE {from_age_lo} END"
    birth_hi = f"CASE WHEN {b_lo} IS NOT NULL THEN {b_hi} ELSE {from_age_hi} END"
    birth_source = (
        f"CASE WHEN {b_lo} IS NOT NULL THEN 'BRTHDTC' WHEN {from_age_lo} IS NOT NULL THEN 'AGE' END"
    )
    sex = _rcol("SEX", v)
    sexes = ", ".join(lit(s) for s in _SEXES)
    dthfl = _rcol("DTHFL", v)
    cols = [
        f"{_rcol('USUBJID', v)} AS usubjid",
        f"{_rcol('STUDYID', v)} AS studyid",
        f"{_rcol('SITEID', v)} AS siteid",
        f"CASE WHEN upper({sex}) IN ({sexes}) THEN upper({sex}) END AS sex",
        f"CAST({age} AS DOUBLE) AS age",
        f"{age_raw} AS age_raw",
        f"upper({ageu}) AS age_unit",
        f"{ref_lo} AS ref_lo",
        f"{ref_hi} AS ref_hi",
        f"{birth_lo} AS birth_lo",
        f"{birth_hi} AS birth_hi",
        f"{birth_source} AS birth_source",
        f"{d_lo} AS death_lo",
        f"{d_hi} AS death_hi",
        f"(upper({dthfl}) = 'Y' OR {d_lo} IS NOT NULL) IS TRUE AS dead",
        *(f"{_rcol(c.upper(), v)} AS {c}" for c in ("armcd", "arm", "actarmcd", "actarm")),
        f"{_rcol('COUNTRY', v)} AS country",
        "r._file AS _file",
        "r._row AS _row",
    ]
    where = [f"{_rcol('USUBJID', v)} IS NOT NULL"]
    if exclude_arms:
        arms = ", ".join(lit(a) for a in exclude_arms)
        for c in ("ARMCD", "ARM"):
            if v.has(c):
                where.append(f"coalesce({_rcol(c, v)}, '') NOT IN ({arms})")
    select = ",\n  ".join(cols)
    return (
        f"SELECT\n  {select}\nFROM {ident(v.view)} r\n"
        + "\n".join(joins)
        + f"\nWHERE {' AND '.join(where)}\n"
        + f"QUALIFY row_number() OVER (PARTITION BY {_rcol('USUBJID', v)} "
        + "ORDER BY r._file, r._row) = 1"
    )
