"""Strata of a stratified query: labels and the full grid every node reports."""

from __future__ import annotations

import itertools

from hyperfed.adapters.hql.model import Query

__all__ = ["SEXES", "age_band_labels", "strata_grid"]

SEXES = ("female", "male", "other", "unknown")


def age_band_labels(bands: list[int]) -> list[str]:
    """["0-17", "18-29", ..., "80+"] for lower bounds [0, 18, 30, ..., 80]."""
    labels = [f"{lo}-{hi - 1}" for lo, hi in itertools.pairwise(bands)]
    return [*labels, f"{bands[-1]}+"]


def strata_grid(query: Query) -> list[tuple[str, ...]]:
    """Every stratum a stratified query reports — all of them, so that an absent row
    cannot reveal a zero. Persons without a known birth year fall in age "unknown"."""
    if query.stratify is None:
        return []
    axes: list[list[str]] = []
    for dim in query.stratify.by:
        axes.append(
            list(SEXES) if dim == "sex" else [*age_band_labels(query.stratify.age_bands), "unknown"]
        )
    return [tuple(cell) for cell in itertools.product(*axes)]
