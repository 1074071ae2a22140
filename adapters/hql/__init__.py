"""The common query AST (HQL v1), concept bindings and canonical form."""

from hyperfed.adapters.hql.bindings import (
    Binding,
    Bindings,
    CodesBinding,
    EveryoneBinding,
    SexBinding,
    Unexpressible,
)
from hyperfed.adapters.hql.model import (
    AgeCriterion,
    AgeRange,
    AllCriterion,
    AnyCriterion,
    Code,
    Criterion,
    DateWindow,
    EventCriterion,
    NotCriterion,
    Occurrences,
    Query,
    Stratify,
    ValueRange,
    Within,
)

__all__ = [
    "AgeCriterion",
    "AgeRange",
    "AllCriterion",
    "AnyCriterion",
    "Binding",
    "Bindings",
    "Code",
    "CodesBinding",
    "Criterion",
    "DateWindow",
    "EventCriterion",
    "EveryoneBinding",
    "NotCriterion",
    "Occurrences",
    "Query",
    "SexBinding",
    "Stratify",
    "Unexpressible",
    "ValueRange",
    "Within",
]
