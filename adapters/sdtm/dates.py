"""SDTM dates (--DTC, --STDTC, --ENDTC, BRTHDTC ...) as intervals: the one rule, in SQL.

**The partial-date rule.** Every date text denotes the interval of days it allows: a full date
`2019-03-05` the single day [2019-03-05, 2019-03-05], `2019-03` the month [2019-03-01,
2019-03-31], `2019` the year [2019-01-01, 2019-12-31], `2019---05` (day without month) the
year. Tables store the interval as `(lo, hi)` DATE columns and every compiler applies the same
test: **a date matches a window only when its whole interval lies inside the window**
(`lo >= window_start AND hi <= window_end`); a date is *before* D when `hi < D`, *after* D when
`lo > D`. A partial date is therefore never counted on a guess. Times (`T13:45`) are checked
but do not change the day.

**Kinds** (column `kind` of the dictionary):

- `iso`      ISO 8601 with a full date;
- `partial`  ISO 8601 year or year-month (or a day without month);
- `non_iso`  not ISO 8601 but unambiguous: year first with slashes (`2019/03`, `2019/3/5`),
             basic format `20190305`, SAS DATE9 `05MAR2019` or `MAR2019`; read with a note;
- `ambiguous` day and month cannot be told apart (`03/05/2019`, `5.3.19`): not used;
- `impossible` the shape of a date with no such day or time (`2019-02-30`, `2019-13`,
             `T25:00`): not used;
- `invalid`  anything else that is not empty (`unknown`, `2019-3-5x`): not used.

Only `iso`, `partial` and `non_iso` dates have an interval. The SQL here is fixed text (no
value is ever formatted into it); `dictionary_sql` builds the distinct-value dictionary a
loader joins to.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "BAD_KINDS",
    "DATE_KINDS",
    "MACROS_SQL",
    "USABLE_KINDS",
    "DateKind",
]

DateKind = Literal["iso", "partial", "non_iso", "ambiguous", "impossible", "invalid"]
DATE_KINDS: Final[tuple[DateKind, ...]] = (
    "iso",
    "partial",
    "non_iso",
    "ambiguous",
    "impossible",
    "invalid",
)
USABLE_KINDS: Final[tuple[DateKind, ...]] = ("iso", "partial", "non_iso")
BAD_KINDS: Final[tuple[DateKind, ...]] = ("ambiguous", "impossible", "invalid")

_TIME = r"(T(\d{2}|-)(:(\d{2}|-)(:\d{2}(\.\d+)?)?)?)?"
_MONTHS = "['JAN','FEB','MAR','APR','MAY','JUN','JUL','AUG','SEP','OCT','NOV','DEC']"

# hf_dtc_iso(s): the date part as canonical 'YYYY', 'YYYY-MM' or 'YYYY-MM-DD' text (not yet
# validated), or NULL when s has no recognisable year-first or named-month shape.
# hf_dtc_time_ok(s): false when an ISO time part has an hour > 24 or minutes/seconds > 59.
MACROS_SQL: Final[tuple[str, ...]] = (
    "CREATE OR REPLACE TEMP MACRO hf_dtc_t(s) AS nullif(trim(CAST(s AS VARCHAR)), '')",
    rf"""CREATE OR REPLACE TEMP MACRO hf_dtc_shape(t) AS CASE
  WHEN t IS NULL THEN NULL
  WHEN regexp_full_match(t, '\d{{4}}(-\d{{2}}(-\d{{2}})?)?{_TIME}') THEN 'iso'
  WHEN regexp_full_match(t, '\d{{4}}---\d{{2}}{_TIME}') THEN 'iso_noday'
  WHEN regexp_full_match(t, '\d{{4}}/\d{{1,2}}(/\d{{1,2}})?') THEN 'slash'
  WHEN regexp_full_match(t, '\d{{8}}') THEN 'basic'
  WHEN regexp_full_match(upper(t), '\d{{1,2}}[A-Z]{{3}}\d{{4}}') THEN 'date9'
  WHEN regexp_full_match(upper(t), '[A-Z]{{3}}\d{{4}}') THEN 'mon_year'
  WHEN regexp_full_match(t, '\d{{1,2}}[/.-]\d{{1,2}}[/.-](\d{{2}}|\d{{4}})') THEN 'ambiguous'
  END""",
    rf"""CREATE OR REPLACE TEMP MACRO hf_dtc_iso(t, shape) AS CASE shape
  WHEN 'iso' THEN regexp_extract(t, '^\d{{4}}(-\d{{2}}(-\d{{2}})?)?')
  WHEN 'iso_noday' THEN substr(t, 1, 4)
  WHEN 'slash' THEN
    regexp_extract(t, '^(\d{{4}})', 1)
    || '-' || lpad(regexp_extract(t, '^\d{{4}}/(\d{{1,2}})', 1), 2, '0')
    || CASE WHEN regexp_extract(t, '^\d{{4}}/\d{{1,2}}/(\d{{1,2}})$', 1) <> ''
       THEN '-' || lpad(regexp_extract(t, '^\d{{4}}/\d{{1,2}}/(\d{{1,2}})$', 1), 2, '0')
       ELSE '' END
  WHEN 'basic' THEN substr(t, 1, 4) || '-' || substr(t, 5, 2) || '-' || substr(t, 7, 2)
  WHEN 'date9' THEN right(t, 4) || '-'
    || lpad(CAST(list_position({_MONTHS}, upper(substr(right(t, 7), 1, 3))) AS VARCHAR), 2, '0')
    || '-' || lpad(substr(t, 1, length(t) - 7), 2, '0')
  WHEN 'mon_year' THEN right(t, 4) || '-'
    || lpad(CAST(list_position({_MONTHS}, upper(substr(t, 1, 3))) AS VARCHAR), 2, '0')
  END""",
    r"""CREATE OR REPLACE TEMP MACRO hf_dtc_time_ok(t) AS CASE
  WHEN NOT contains(t, 'T') THEN true
  ELSE coalesce(TRY_CAST(nullif(regexp_extract(t, 'T(\d{2})', 1), '') AS INTEGER), 0) <= 24
   AND coalesce(TRY_CAST(nullif(regexp_extract(t, 'T[0-9-]{1,2}:(\d{2})', 1), '') AS INTEGER),
                0) <= 59
   AND coalesce(TRY_CAST(nullif(regexp_extract(t, 'T[0-9-]{1,2}:[0-9-]{1,2}:(\d{2})', 1), '')
                AS INTEGER), 0) <= 59
  END""",
    """CREATE OR REPLACE TEMP MACRO hf_dtc_lo(iso) AS TRY_CAST(CASE length(iso)
  WHEN 4 THEN iso || '-01-01' WHEN 7 THEN iso || '-01' WHEN 10 THEN iso END AS DATE)""",
)


def dictionary_sql(values_table: str, target: str) -> str:
    """SQL creating `target` (text, kind, lo, hi) from the distinct non-empty `text` values of
    `values_table`. Both names are the loader's own fixed table names, never user input."""
    return f"""CREATE OR REPLACE TEMP TABLE {target} AS
WITH v AS (
  SELECT DISTINCT text, hf_dtc_t(text) AS t FROM {values_table} WHERE hf_dtc_t(text) IS NOT NULL
), s AS (
  SELECT text, t, hf_dtc_shape(t) AS shape FROM v
), i AS (
  SELECT text, t, shape, hf_dtc_iso(t, shape) AS iso FROM s
), d AS (
  SELECT text, t, shape, iso, hf_dtc_lo(iso) AS lo FROM i
)
SELECT text,
  CASE
    WHEN shape IS NULL THEN 'invalid'
    WHEN shape = 'ambiguous' THEN 'ambiguous'
    WHEN lo IS NULL OR NOT hf_dtc_time_ok(t) THEN 'impossible'
    WHEN shape IN ('slash', 'basic', 'date9', 'mon_year') THEN 'non_iso'
    WHEN length(iso) = 10 THEN 'iso'
    ELSE 'partial'
  END AS kind,
  CASE WHEN shape <> 'ambiguous' AND hf_dtc_time_ok(t) THEN lo END AS lo,
  CASE WHEN shape <> 'ambiguous' AND hf_dtc_time_ok(t) AND lo IS NOT NULL THEN
    CASE length(iso) WHEN 4 THEN make_date(year(lo), 12, 31)
                     WHEN 7 THEN last_day(lo) ELSE lo END
  END AS hi
FROM d"""
