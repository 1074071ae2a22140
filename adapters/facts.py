"""Dataset facts for the catalogue: exact on the node, protected before they leave it.

An adapter computes a dataset's `ExactFacts` (how many persons and records, persons per
age, per sex, per calendar year, per coding system, per code value, per imaging facet
value ...). `protect_facts` turns them into `ProtectedFacts` under the node's disclosure
`Policy` and secret; only those are ever serialised, published by the node and put into
the HealthDCAT-AP catalogue by the hub (which applies its federation floor again with
`reprotect_facts`). `ExactFacts` cannot be serialised: pydantic refuses to build a schema
for it, and pickling and `json.dumps` fail.

The rules (every number goes through `hyperfed.adapters.disclosure.protect`, so no
published count is ever in (0, k), zero included; noise is keyed on the dataset and the
fact, so a refresh with unchanged data publishes the same numbers):

- ``numberOfUniqueIndividuals`` and ``numberOfRecords`` are protected counts; a suppressed
  one is omitted.
- A **value** (a sex, a coding system, a code value, a facet value such as modality "CT")
  is listed only when its own protected person count is released, and is listed with that
  protected count. A value held by fewer than k persons is not named at all.
- **Typical ages**: persons are counted in age bands of `age_band` years ([0, 5), [5, 10)
  ... for the default 5); each band count is protected. ``minTypicalAge`` is the lower
  bound of the youngest released band, ``maxTypicalAge`` the upper bound (inclusive) of the
  oldest released band. Small bands at either end are skipped, so the published range says
  "at least k persons are this young / this old" and never reveals one person's age; when
  no band is released both are omitted.
- **Temporal coverage** works the same way on calendar years (persons with any record in
  the year): from 1 January of the first released year to 31 December of the last.
- Health categories are not counts and pass through unchanged.

Errors: `FactsError` (a ValueError) for facts that cannot be protected (negative counts,
unknown facet names) or protected facts that break the rules (a count below their
threshold).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NoReturn, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hyperfed.adapters.disclosure import Policy, Protected, protect, reprotect

__all__ = [
    "FACETS",
    "AgeBand",
    "ExactFacts",
    "FactsError",
    "FactsSource",
    "ProtectedCode",
    "ProtectedFacts",
    "ProtectedValue",
    "protect_facts",
    "reprotect_facts",
    "temporal_coverage",
    "typical_ages",
]

FACETS = ("modality", "body_part", "condition", "sex", "manufacturer")
"""EUCAIM's imaging facets. An adapter may add others (names like these: lower case)."""

MAX_AGE = 130


class FactsError(ValueError):
    """Facts that cannot be protected, or protected facts that break the rules."""


def _no_schema(*_: Any) -> NoReturn:
    raise TypeError("ExactFacts never leave the node: protect them with protect_facts()")


@dataclass(frozen=True)
class ExactFacts:
    """True facts about one dataset, as an adapter computes them. Internal to the node.

    All counts are of distinct persons unless the name says otherwise. Keys: ages in
    whole years on `as_of`; sexes ``female``/``male``/``other``/``unknown``; coding
    systems as canonical URIs (``http://snomed.info/sct``); code values as
    ``(system URI, code)``; facets by name (`FACETS`) then value.
    """

    persons: int
    records: int
    record_kind: str = "records"
    as_of: dt.date | None = None
    persons_by_age: Mapping[int, int] = field(default_factory=dict)
    persons_by_sex: Mapping[str, int] = field(default_factory=dict)
    persons_by_year: Mapping[int, int] = field(default_factory=dict)
    coding_systems: Mapping[str, int] = field(default_factory=dict)
    code_values: Mapping[tuple[str, str], int] = field(default_factory=dict)
    facets: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    health_categories: tuple[str, ...] = ()

    # never serialisable: no pydantic schema, no pickling
    __get_pydantic_core_schema__ = classmethod(_no_schema)

    def __reduce__(self) -> NoReturn:
        _no_schema()


class FactsSource(Protocol):
    """What an adapter offers the catalogue (`hyperfed.adapters.base.Adapter.facts`): the
    exact facts of one of its datasets, computed where the data lives (None: no facts)."""

    def facts(self, dataset: str, as_of: dt.date, deadline: Any = None) -> ExactFacts | None: ...


class ProtectedValue(BaseModel):
    """A value (a sex, a coding system, a facet value) with its released person count."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: Annotated[str, Field(min_length=1, max_length=500)]
    count: Annotated[int, Field(ge=1, le=10**10)]
    countAdjustedTo: list[str | int] = []
    countPrecision: Literal["exact", "rounded", "imprecise"] = "rounded"


class ProtectedCode(BaseModel):
    """A code value present in the data (system URI + code) with its released person count."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    system: Annotated[str, Field(min_length=1, max_length=500)]
    code: Annotated[str, Field(min_length=1, max_length=200)]
    count: Annotated[int, Field(ge=1, le=10**10)]


class AgeBand(BaseModel):
    """Persons aged `low` to `high` (inclusive) years, as a released protected count."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    low: Annotated[int, Field(ge=0, le=MAX_AGE)]
    high: Annotated[int, Field(ge=0, le=MAX_AGE + 100)]
    count: Annotated[int, Field(ge=1, le=10**10)]


class ProtectedFacts(BaseModel):
    """A dataset's facts after disclosure control: the only form that leaves a node.

    `threshold` is the k the numbers were protected with; every count here is at least k
    (checked on construction), and values whose count was suppressed are absent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: Annotated[int, Field(ge=1, le=1_000_000)]
    as_of: dt.date | None = None
    number_of_unique_individuals: Protected | None = None
    number_of_records: Protected | None = None
    record_kind: Annotated[str, Field(max_length=50)] = "records"
    age_bands: list[AgeBand] = []
    years: list[ProtectedValue] = []
    sexes: list[ProtectedValue] = []
    coding_systems: list[ProtectedValue] = []
    code_values: list[ProtectedCode] = []
    facets: dict[str, list[ProtectedValue]] = {}
    health_categories: list[str] = []

    @model_validator(mode="after")
    def _all_at_least_k(self) -> ProtectedFacts:
        k = self.threshold
        for name in ("number_of_unique_individuals", "number_of_records"):
            p: Protected | None = getattr(self, name)
            if p is not None and p.count is not None and p.count < k:
                raise FactsError(f"{name}: {p.count} is below the threshold {k}")
        lists: list[tuple[str, Iterable[Any]]] = [
            ("age_bands", self.age_bands),
            ("years", self.years),
            ("sexes", self.sexes),
            ("coding_systems", self.coding_systems),
            ("code_values", self.code_values),
            *((f"facets.{name}", values) for name, values in self.facets.items()),
        ]
        for where, items in lists:
            for i, item in enumerate(items):
                if item.count < k:
                    raise FactsError(f"{where}[{i}]: {item.count} is below the threshold {k}")
        for band in self.age_bands:
            if band.high < band.low:
                raise FactsError(f"age band {band.low}-{band.high} ends before it starts")
        for y in self.years:
            if not (y.value.isdigit() and len(y.value) == 4):
                raise FactsError(f"years: {y.value!r} is not a four-digit year")
        return self

    @property
    def persons(self) -> int | None:
        p = self.number_of_unique_individuals
        return None if p is None else p.count

    @property
    def records(self) -> int | None:
        p = self.number_of_records
        return None if p is None else p.count


def _check_counts(where: str, counts: Mapping[Any, int]) -> None:
    for key, n in counts.items():
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise FactsError(f"{where}[{key!r}]: a count must be a non-negative integer, not {n!r}")


def _released(
    counts: Mapping[str, int], policy: Policy, secret: bytes, context: bytes
) -> list[ProtectedValue]:
    out: list[ProtectedValue] = []
    for value in sorted(counts):
        p = protect(counts[value], policy, secret, context + value.encode())
        if p.status == "ok" and p.count is not None:
            out.append(
                ProtectedValue(
                    value=value,
                    count=p.count,
                    countAdjustedTo=p.countAdjustedTo,
                    countPrecision=p.countPrecision,
                )
            )
    return out


def protect_facts(
    exact: ExactFacts,
    policy: Policy,
    secret: bytes,
    dataset: str,
    *,
    age_band: int = 5,
    max_code_values: int = 1000,
) -> ProtectedFacts:
    """Protect `exact` (the facts of dataset `dataset`) under `policy` (module docstring).

    At most `max_code_values` code values are listed (the most frequent by protected
    count, ties by system and code)."""
    if not 1 <= age_band <= 50:
        raise FactsError(f"age_band must be between 1 and 50 years, not {age_band}")
    if exact.persons < 0 or exact.records < 0:
        raise FactsError("persons and records must be non-negative")
    _check_counts("persons_by_age", exact.persons_by_age)
    _check_counts("persons_by_sex", exact.persons_by_sex)
    _check_counts("persons_by_year", exact.persons_by_year)
    _check_counts("coding_systems", exact.coding_systems)
    _check_counts("code_values", exact.code_values)
    for name, values in exact.facets.items():
        if not name.replace("_", "").isalpha() or name != name.lower():
            raise FactsError(f"facets: {name!r} is not a facet name (e.g. {', '.join(FACETS)})")
        _check_counts(f"facets.{name}", values)

    base = b"catalogue-facts|" + dataset.encode() + b"|"

    def one(n: int, what: bytes) -> Protected | None:
        p = protect(n, policy, secret, base + what)
        return p if p.status == "ok" else None

    bands: dict[int, int] = {}
    for age, n in exact.persons_by_age.items():
        if not 0 <= age <= MAX_AGE:
            raise FactsError(f"persons_by_age: {age} is not an age in years")
        low = (age // age_band) * age_band
        bands[low] = bands.get(low, 0) + n
    released_bands: list[AgeBand] = []
    for low in sorted(bands):
        p = protect(bands[low], policy, secret, base + b"age|%d|%d" % (low, age_band))
        if p.status == "ok" and p.count is not None:
            released_bands.append(AgeBand(low=low, high=low + age_band - 1, count=p.count))

    for year in exact.persons_by_year:
        if not 1000 <= year <= 9999:
            raise FactsError(f"persons_by_year: {year} is not a four-digit year")
    years = _released(
        {str(y): n for y, n in exact.persons_by_year.items()}, policy, secret, base + b"year|"
    )

    codes: list[ProtectedCode] = []
    for (system, code), n in exact.code_values.items():
        ctx = base + b"code|" + system.encode() + b"|" + code.encode()
        p = protect(n, policy, secret, ctx)
        if p.status == "ok" and p.count is not None:
            codes.append(ProtectedCode(system=system, code=code, count=p.count))
    codes.sort(key=lambda c: (-c.count, c.system, c.code))

    return ProtectedFacts(
        threshold=policy.threshold,
        as_of=exact.as_of,
        number_of_unique_individuals=one(exact.persons, b"persons"),
        number_of_records=one(exact.records, b"records"),
        record_kind=exact.record_kind,
        age_bands=released_bands,
        years=years,
        sexes=_released(exact.persons_by_sex, policy, secret, base + b"sex|"),
        coding_systems=_released(exact.coding_systems, policy, secret, base + b"system|"),
        code_values=codes[:max_code_values],
        facets={
            name: released
            for name in sorted(exact.facets)
            if (released := _released(exact.facets[name], policy, secret, base + b"facet|"))
        },
        health_categories=sorted(set(exact.health_categories)),
    )


def _floor_value(v: ProtectedValue, floor: Policy) -> ProtectedValue | None:
    p = reprotect(
        Protected(
            count=v.count,
            status="ok",
            countAdjustedTo=v.countAdjustedTo,
            countPrecision=v.countPrecision,
        ),
        floor,
    )
    if p.status != "ok" or p.count is None:
        return None
    return v.model_copy(
        update={
            "count": p.count,
            "countAdjustedTo": p.countAdjustedTo,
            "countPrecision": p.countPrecision,
        }
    )


def _floor_count(count: int, floor: Policy) -> int | None:
    p = reprotect(
        Protected(count=count, status="ok", countAdjustedTo=[], countPrecision="exact"), floor
    )
    return p.count if p.status == "ok" else None


def reprotect_facts(facts: ProtectedFacts, floor: Policy) -> ProtectedFacts:
    """`facts` made at least as protective as `floor` (the hub's federation floor): pure
    post-processing of released numbers, as `reprotect` does for query answers. Values
    whose count falls below the floor's threshold disappear."""

    def total(p: Protected | None) -> Protected | None:
        if p is None:
            return None
        out = reprotect(p, floor)
        return out if out.status == "ok" else None

    def values(items: list[ProtectedValue]) -> list[ProtectedValue]:
        return [v for item in items if (v := _floor_value(item, floor)) is not None]

    bands = [
        b.model_copy(update={"count": n})
        for b in facts.age_bands
        if (n := _floor_count(b.count, floor)) is not None
    ]
    codes = [
        c.model_copy(update={"count": n})
        for c in facts.code_values
        if (n := _floor_count(c.count, floor)) is not None
    ]
    return ProtectedFacts(
        threshold=max(facts.threshold, floor.threshold),
        as_of=facts.as_of,
        number_of_unique_individuals=total(facts.number_of_unique_individuals),
        number_of_records=total(facts.number_of_records),
        record_kind=facts.record_kind,
        age_bands=bands,
        years=values(facts.years),
        sexes=values(facts.sexes),
        coding_systems=values(facts.coding_systems),
        code_values=codes,
        facets={name: kept for name, items in facts.facets.items() if (kept := values(items))},
        health_categories=facts.health_categories,
    )


def typical_ages(facts: ProtectedFacts) -> tuple[int, int] | None:
    """(minTypicalAge, maxTypicalAge) from the released age bands, or None."""
    if not facts.age_bands:
        return None
    return min(b.low for b in facts.age_bands), max(b.high for b in facts.age_bands)


def temporal_coverage(facts: ProtectedFacts) -> tuple[dt.date, dt.date] | None:
    """(start, end) of the released calendar years, or None."""
    if not facts.years:
        return None
    years = sorted(int(y.value) for y in facts.years)
    return dt.date(years[0], 1, 1), dt.date(years[-1], 12, 31)
