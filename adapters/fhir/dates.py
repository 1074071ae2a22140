"""FHIR date text -> SQL DATE, for compilers over the view tables (pure sqlglot).

View tables keep dates as written (``2019``, ``2019-04``, ``2019-04-05``,
``2019-04-05T23:30:00-05:00``). `date_start_sql(col)` is the first day the text allows (the
rule for birth dates and event dates alike: ``2019`` -> 2019-01-01), `date_end_sql(col)` the
last (``2019-04`` -> 2019-04-30). A dateTime counts on the calendar date written, whatever its
zone. Text that is not a FHIR date gives NULL. `day_sql(col)` is the same first day in the
cheaper form query predicates use (a cast, no regular expression): it agrees with
`date_start_sql` on every FHIR date and dateTime.
"""

from __future__ import annotations

from sqlglot import exp

from hyperfed.adapters.fhir.fhirpath.boundary import boundary_sql
from hyperfed.adapters.fhir.fhirpath.sql import fn, lit, sql_type

__all__ = ["date_end_sql", "date_start_sql", "day_sql"]

_SHAPE = r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2}(T.*)?)?)?$"


def _bound(text: exp.Expression, side: str) -> exp.Expression:
    valid = fn("regexp_matches", text.copy(), lit(_SHAPE))
    day = exp.TryCast(this=boundary_sql("date", side, text), to=sql_type("DATE"))
    return exp.Case().when(valid, day).else_(exp.null())


def date_start_sql(text: exp.Expression) -> exp.Expression:
    """The first day a FHIR date / dateTime text allows, as DATE."""
    return _bound(text, "low")


def date_end_sql(text: exp.Expression) -> exp.Expression:
    """The last day a FHIR date / dateTime text allows, as DATE."""
    return _bound(text, "high")


def day_sql(text: exp.Expression) -> exp.Expression:
    """The first day a FHIR date / dateTime text allows, as DATE (fast: for predicates): the
    first ten characters cast, else a year-month or a year completed. It agrees with
    `date_start_sql` on every FHIR date and dateTime; other text may still read as a day
    (``2019/04/05``) where `date_start_sql` gives NULL (`check` reports such dates)."""
    n = exp.Length(this=text.copy())

    def cast(value: exp.Expression) -> exp.Expression:
        return exp.TryCast(this=value, to=sql_type("DATE"))

    first10 = exp.Substring(this=text.copy(), start=lit(1), length=lit(10))
    partial = (
        exp.Case()
        .when(n.eq(lit(7)), cast(exp.DPipe(this=text.copy(), expression=lit("-01"))))
        .when(n.copy().eq(lit(4)), cast(exp.DPipe(this=text.copy(), expression=lit("-01-01"))))
    )
    return exp.Coalesce(this=cast(first10), expressions=[partial])
