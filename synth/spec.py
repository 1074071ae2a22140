"""What to generate (`SynthSpec`) and what was written (`Summary`): plain values, no I/O."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from hyperfed.synth.errors import SynthSpecError

__all__ = ["MAX_PERSONS", "CdmVersion", "Summary", "SynthSpec"]

CdmVersion = Literal["5.4", "5.3"]

# OMOP ids are 32-bit integers; ~25 measurements per person keep every table far below 2**31.
MAX_PERSONS = 20_000_000
_MEASUREMENTS_PER_VISIT = 4.0  # a generous bound (the mean is about 2.3)


@dataclass(frozen=True)
class SynthSpec:
    """One synthetic site: its size, seed and recording habits ("site profile").

    The same spec always yields the same rows (for the same installed DuckDB version).
    """

    persons: int = 1_000
    seed: int = 1
    site_name: str = "Hyperfed synthetic site"
    site_abbreviation: str = "HFSYN"
    start_year: int = 2000
    end_year: int = 2025
    visits_per_person: float = 8.0
    """Mean regular visits per person; every per-visit event volume scales with it."""
    hemoglobin_g_per_l_share: float = 0.0
    """Share of hemoglobin results recorded in g/L (values x10) instead of g/dL."""
    creatinine_umol_per_l_share: float = 0.0
    """Share of creatinine results recorded in umol/L (values x88.4) instead of mg/dL."""
    missing_unit_share: float = 0.02
    """Share of hemoglobin and creatinine results without a unit (unit_concept_id 0 or NULL)."""
    icd10cm_source_share: float = 0.1
    """Share of lung cancer, hypertension and T2D patients (and of GI bleeding episodes)
    recorded through an ICD-10-CM source code, mapped to the standard SNOMED concept."""
    cancer_scale: float = 1.0
    """Multiplies every cancer prevalence (an oncology centre sees more cancer)."""
    cdm_version: CdmVersion = "5.4"
    upper_case_names: bool = False
    """Write upper-case table and column names, as many real-world CSV exports do."""

    def __post_init__(self) -> None:
        _check_int("persons", self.persons, 1, MAX_PERSONS)
        _check_int("seed", self.seed, 0, 2**63 - 1)
        _check_int("start_year", self.start_year, 1900, 2100)
        _check_int("end_year", self.end_year, self.start_year, 2100)
        for name in ("site_name", "site_abbreviation"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise SynthSpecError(name, value, "must be a non-empty string")
        if len(self.site_abbreviation) > 25:
            raise SynthSpecError(
                "site_abbreviation", self.site_abbreviation, "at most 25 characters (CDM_SOURCE)"
            )
        if len(self.site_name) > 255:
            raise SynthSpecError("site_name", self.site_name, "at most 255 characters")
        _check_float("visits_per_person", self.visits_per_person, 1.0, 200.0)
        for name in (
            "hemoglobin_g_per_l_share",
            "creatinine_umol_per_l_share",
            "missing_unit_share",
            "icd10cm_source_share",
        ):
            _check_float(name, getattr(self, name), 0.0, 1.0)
        for name in ("hemoglobin_g_per_l_share", "creatinine_umol_per_l_share"):
            if getattr(self, name) + self.missing_unit_share > 1.0:
                raise SynthSpecError(
                    name, getattr(self, name), "plus missing_unit_share must not exceed 1"
                )
        _check_float("cancer_scale", self.cancer_scale, 0.0, 10.0)
        if self.persons * self.visits_per_person * _MEASUREMENTS_PER_VISIT >= 2**31:
            raise SynthSpecError(
                "persons",
                self.persons,
                f"with visits_per_person={self.visits_per_person} the event ids would overflow "
                "32-bit OMOP ids; lower one of them",
            )
        if self.cdm_version not in ("5.4", "5.3"):
            raise SynthSpecError("cdm_version", self.cdm_version, "must be '5.4' or '5.3'")
        if not isinstance(self.upper_case_names, bool):
            raise SynthSpecError("upper_case_names", self.upper_case_names, "must be a bool")


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SynthSpecError(name, value, "must be an integer")
    if not low <= value <= high:
        raise SynthSpecError(name, value, f"must be between {low} and {high}")


def _check_float(name: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SynthSpecError(name, value, "must be a number")
    if not math.isfinite(value) or not low <= value <= high:
        raise SynthSpecError(name, value, f"must be between {low} and {high}")


@dataclass(frozen=True)
class Summary:
    """What a writer wrote: table row counts (aggregates only) and timings."""

    spec: SynthSpec
    target: str
    """The DuckDB path or the PostgreSQL schema (never a password-bearing DSN)."""
    row_counts: Mapping[str, int]
    seconds: Mapping[str, float] = field(default_factory=dict)
    """Wall-clock seconds per phase (for example 'generate', 'copy', 'index')."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "row_counts", MappingProxyType(dict(self.row_counts)))
        object.__setattr__(self, "seconds", MappingProxyType(dict(self.seconds)))

    @property
    def total_rows(self) -> int:
        return sum(self.row_counts.values())

    def format(self) -> str:
        """A small human-readable table of row counts and timings."""
        width = max(len(t) for t in self.row_counts) if self.row_counts else 5
        lines = [f"{self.target}: {self.spec.persons:,} persons, seed {self.spec.seed}"]
        lines += [f"  {t:<{width}} {n:>14,}" for t, n in self.row_counts.items()]
        lines.append(f"  {'total':<{width}} {self.total_rows:>14,}")
        lines += [f"  {phase} {s:.2f} s" for phase, s in self.seconds.items()]
        return "\n".join(lines)
