"""HQL v1 — the Hyperfed feasibility query language, as frozen pydantic models.

Nodes hold data only: no compiler logic lives here (DESIGN principle 2). A query is

    {"hql": "1", "criteria": <criterion>, "stratify": {...}?, "as_of": "YYYY-MM-DD"?}

and a criterion is one of

    {"all": [c, ...]}            every child holds
    {"any": [c, ...]}            at least one child holds
    {"not": c}                   the child does not hold
    {"age": {"min": a, "max": b}}   age in whole years on the reference date (inclusive)
    {"concept": "hf:Female"} or {"code": {"system": S, "code": C}} plus optional event filters:
        "descendants": true       include the code's descendants (default true)
        "value": {"min", "max", "unit"}   a measurement value in a UCUM unit (inclusive)
        "during": {"from", "to"}  the event's start date lies in the window (inclusive)
        "age": {"min", "max"}     the person's age at the event (inclusive)
        "occurrences": {"min", "max"}   how many such events the person has
        "within": {"of": <event>, "days_before": n, "days_after": m}
                                  the event starts between n days before and m days after
                                  the start of an event matching "of"
        "body_site": {"system", "code"}   the same event's body site (imaging: the series')
        "attributes": {"Keyword": v}      model-specific attributes of the same event, each a
                                  value (equality), a list of values (any) or {"min", "max"}

`dated(query)` fills in the reference date (`as_of`, today by default): the one place where
it is defaulted.

Types are strict where JSON would be read loosely: booleans only as `true`/`false` (never
"yes" or 0), integers never as strings or booleans, numbers finite and within
`hyperfed.adapters.limits.MAX_VALUE`, strings bounded (see the README ("Input limits")).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    Tag,
    model_validator,
)

from hyperfed.adapters.limits import MAX_VALUE

__all__ = [
    "AgeCriterion",
    "AgeRange",
    "AllCriterion",
    "AnyCriterion",
    "AttributeRange",
    "AttributeValue",
    "Code",
    "Criterion",
    "DateWindow",
    "EventCriterion",
    "NotCriterion",
    "Occurrences",
    "Query",
    "Stratify",
    "ValueRange",
    "Within",
    "dated",
]


def _integer(value: Any) -> Any:
    """An integer as JSON writes one: never a boolean or a string ("60")."""
    if isinstance(value, bool | str):
        raise ValueError("Input should be an integer number")
    return value


Int = Annotated[int, BeforeValidator(_integer)]
"""an integer (60, or 60.0); not true, not "60"."""

Bound = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-MAX_VALUE, le=MAX_VALUE)]
"""a finite number within +-MAX_VALUE (1e15); not a boolean, not a string."""

System = Annotated[str, Field(min_length=1, max_length=256, examples=["http://snomed.info/sct"])]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Code(_Frozen):
    """A code in a terminology, named by its canonical system URI (FHIR style)."""

    system: System
    code: Annotated[str, Field(min_length=1, max_length=128, examples=["74474003"])]


class ValueRange(_Frozen):
    """Inclusive bounds on a measurement value, in a UCUM unit."""

    min: Bound | None = None
    max: Bound | None = None
    unit: Annotated[str | None, Field(min_length=1, max_length=64, examples=["g/dL"])] = None

    @model_validator(mode="after")
    def _bounds(self) -> ValueRange:
        if self.min is None and self.max is None:
            raise ValueError("a value range needs 'min', 'max' or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"'min' ({self.min}) is greater than 'max' ({self.max})")
        return self


class AgeRange(_Frozen):
    """Inclusive bounds on age in whole years."""

    min: Annotated[Int | None, Field(ge=0, le=150)] = None
    max: Annotated[Int | None, Field(ge=0, le=150)] = None

    @model_validator(mode="after")
    def _bounds(self) -> AgeRange:
        if self.min is None and self.max is None:
            raise ValueError("an age range needs 'min', 'max' or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"'min' ({self.min}) is greater than 'max' ({self.max})")
        return self


class DateWindow(_Frozen):
    """Inclusive window on an event's start date."""

    from_: Annotated[dt.date | None, Field(alias="from")] = None
    to: dt.date | None = None

    @model_validator(mode="after")
    def _bounds(self) -> DateWindow:
        if self.from_ is None and self.to is None:
            raise ValueError("a date window needs 'from', 'to' or both")
        if self.from_ is not None and self.to is not None and self.from_ > self.to:
            raise ValueError(f"'from' ({self.from_}) is after 'to' ({self.to})")
        return self


class Occurrences(_Frozen):
    """How many matching events a person must have (inclusive)."""

    min: Annotated[Int, Field(ge=1)] = 1
    max: Annotated[Int | None, Field(ge=1)] = None

    @model_validator(mode="after")
    def _bounds(self) -> Occurrences:
        if self.max is not None and self.min > self.max:
            raise ValueError(f"'min' ({self.min}) is greater than 'max' ({self.max})")
        return self


class AttributeRange(_Frozen):
    """Inclusive bounds on a numeric attribute (e.g. DICOM SliceThickness in mm)."""

    min: Bound | None = None
    max: Bound | None = None

    @model_validator(mode="after")
    def _bounds(self) -> AttributeRange:
        if self.min is None and self.max is None:
            raise ValueError("an attribute range needs 'min', 'max' or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"'min' ({self.min}) is greater than 'max' ({self.max})")
        return self


AttributeValue = (
    Annotated[str, Field(min_length=1, max_length=256)]
    | StrictBool
    | Annotated[StrictInt, Field(ge=-MAX_VALUE, le=MAX_VALUE)]
    | Bound
    | Annotated[
        list[Annotated[str, Field(min_length=1, max_length=256)]],
        Field(min_length=1, max_length=1000),
    ]
    | AttributeRange
)
AttributeKey = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]


class Within(_Frozen):
    """The event starts between `days_before` days before and `days_after` days after
    the start of an event matching `of` (same person)."""

    of: EventCriterion
    days_before: Annotated[Int, Field(ge=0, le=36600)] = 0
    days_after: Annotated[Int, Field(ge=0, le=36600)] = 0


class EventCriterion(_Frozen):
    """A clinical event (diagnosis, drug, measurement, procedure, imaging ...) or a
    demographic concept, named by a hyperontology concept or by a code."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        # in the JSON Schema too, an event names a concept or a code (so that it is never
        # mistaken for an age criterion, which has an 'age' of its own)
        json_schema_extra={"anyOf": [{"required": ["concept"]}, {"required": ["code"]}]},
    )

    concept: Annotated[
        str | None,
        Field(min_length=1, max_length=512, examples=["hf:Female", "eucaim:CLIN1000065"]),
    ] = None
    code: Code | None = None
    descendants: StrictBool = True
    value: ValueRange | None = None
    during: DateWindow | None = None
    age: AgeRange | None = None
    occurrences: Occurrences | None = None
    within: Within | None = None
    body_site: Code | None = None
    attributes: Annotated[
        dict[AttributeKey, AttributeValue] | None,
        Field(min_length=1, max_length=32, examples=[{"Manufacturer": "SIEMENS"}]),
    ] = None

    @model_validator(mode="after")
    def _one_reference(self) -> EventCriterion:
        if (self.concept is None) == (self.code is None):
            raise ValueError("a criterion names exactly one of 'concept' or 'code'")
        return self

    @property
    def has_filters(self) -> bool:
        return any(
            f is not None
            for f in (
                self.value,
                self.during,
                self.age,
                self.occurrences,
                self.within,
                self.body_site,
                self.attributes,
            )
        )


class AgeCriterion(_Frozen):
    """The person's age in whole years on the query's reference date (`as_of`)."""

    age: AgeRange


class AllCriterion(_Frozen):
    all: Annotated[list[Criterion], Field(min_length=1)]


class AnyCriterion(_Frozen):
    any: Annotated[list[Criterion], Field(min_length=1)]


class NotCriterion(_Frozen):
    not_: Annotated[Criterion, Field(alias="not")]


def _criterion_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        tags: dict[type[BaseModel], str] = {
            AllCriterion: "all",
            AnyCriterion: "any",
            NotCriterion: "not",
            AgeCriterion: "age",
            EventCriterion: "event",
        }
        return tags.get(type(value))
    if not isinstance(value, dict):
        return None
    for key in ("all", "any", "not"):
        if key in value:
            return key
    if "concept" in value or "code" in value:
        return "event"
    if "age" in value:
        return "age"
    return None


Criterion = Annotated[
    Annotated[AllCriterion, Tag("all")]
    | Annotated[AnyCriterion, Tag("any")]
    | Annotated[NotCriterion, Tag("not")]
    | Annotated[AgeCriterion, Tag("age")]
    | Annotated[EventCriterion, Tag("event")],
    Discriminator(
        _criterion_tag,
        custom_error_type="unknown_criterion",
        custom_error_message=(
            "a criterion is an object with one of the keys 'all', 'any', 'not', "
            "'age', 'concept' or 'code'"
        ),
    ),
]

DEFAULT_AGE_BANDS: tuple[int, ...] = (0, 18, 30, 40, 50, 60, 70, 80)


class Stratify(_Frozen):
    """Break the count down by sex and/or age band (age on the reference date).

    `age_bands` are the lower bounds of the bands, ascending, starting at 0; the last
    band is open-ended ("80+")."""

    by: Annotated[list[Literal["sex", "age"]], Field(min_length=1, max_length=2)]
    age_bands: Annotated[
        list[Annotated[Int, Field(ge=0, le=150)]], Field(min_length=1, max_length=20)
    ] = list(DEFAULT_AGE_BANDS)

    @model_validator(mode="after")
    def _check(self) -> Stratify:
        if len(set(self.by)) != len(self.by):
            raise ValueError("'by' lists a dimension twice")
        if self.age_bands[0] != 0 or any(
            b <= a for a, b in zip(self.age_bands, self.age_bands[1:], strict=False)
        ):
            raise ValueError("'age_bands' must start at 0 and be strictly ascending")
        return self


class Query(_Frozen):
    """A feasibility query: how many persons satisfy `criteria`?"""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "hql": "1",
                    "criteria": {
                        "all": [
                            {"code": {"system": "http://snomed.info/sct", "code": "74474003"}},
                            {"any": [{"concept": "hf:Female"}, {"age": {"min": 60}}]},
                        ]
                    },
                }
            ]
        },
    )

    hql: Literal["1"]
    criteria: Criterion
    stratify: Stratify | None = None
    as_of: Annotated[
        dt.date | None,
        Field(description="reference date for ages; the hub fills in today's date"),
    ] = None


def dated(query: Query, today: dt.date | None = None) -> Query:
    """`query` with its reference date filled in (today, unless given)."""
    if query.as_of is not None:
        return query
    return query.model_copy(update={"as_of": today or dt.date.today()})


Within.model_rebuild()
EventCriterion.model_rebuild()
AllCriterion.model_rebuild()
AnyCriterion.model_rebuild()
NotCriterion.model_rebuild()
Query.model_rebuild()
