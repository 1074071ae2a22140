"""Capabilities: what a data model can evaluate, declared as class constants on its adapter.

One table (`FEATURES`) says which constant enables which part of HQL. The node publishes the
features in `/capabilities`; the criterion-compiler base (`hyperfed.adapters.compiler`) reports
a criterion that needs a feature the adapter does not declare as unsupported, with its path,
so no adapter checks them again.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FEATURES", "FILTER_FEATURES", "Feature"]


@dataclass(frozen=True)
class Feature:
    name: str
    """the key published in /capabilities `features`"""
    constant: str
    """the adapter class constant that declares it"""
    meaning: str


FEATURES: tuple[Feature, ...] = (
    Feature("temporal", "SUPPORTS_TEMPORAL", "event dates: `during` windows, age at the event"),
    Feature("relative_windows", "SUPPORTS_RELATIVE_WINDOWS", "`within` another event"),
    Feature("values", "SUPPORTS_VALUES", "`value` ranges in UCUM units"),
    Feature("occurrences", "SUPPORTS_OCCURRENCES", "`occurrences` counts"),
    Feature("descendants", "SUPPORTS_DESCENDANTS", "a terminology hierarchy for `descendants`"),
    Feature("stratify", "SUPPORTS_STRATIFY", "`stratify` by sex and age band"),
    Feature("body_site", "SUPPORTS_BODY_SITE", "`body_site` of the same event (series)"),
    Feature("attributes", "SUPPORTS_ATTRIBUTES", "model-specific `attributes` of the event"),
)

FILTER_FEATURES: dict[str, str] = {
    "during": "temporal",
    "age": "temporal",
    "within": "relative_windows",
    "value": "values",
    "occurrences": "occurrences",
    "body_site": "body_site",
    "attributes": "attributes",
}
"""Event filter (HQL key) -> the feature it needs. `descendants` is not gated: without a
hierarchy the result notes that descendants were not included (never a silent narrowing)."""
