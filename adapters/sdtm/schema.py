"""What the SDTM adapter knows about a loaded study before it compiles anything: which layout
table holds each domain, which UCUM units each test's values carry, and the binding
variables the layout reads (suffix -> column of each layout table).

`inspect_study` reads it once at start-up (one GROUP BY over `findings`); the compiler is pure
given an `SdtmSchema`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from hyperfed.adapters.sdtm.loader import Study

__all__ = ["CLASS_TABLE", "DATES", "MATCH_COLUMNS", "MEDDRA_CODES", "SdtmSchema", "inspect_study"]

CLASS_TABLE: Final[dict[str, str]] = {
    "EVENTS": "events",
    "INTERVENTIONS": "interventions",
    "FINDINGS": "findings",
}

MATCH_COLUMNS: Final[dict[str, dict[str, str]]] = {
    "events": {
        s: s.lower()
        for s in (
            "TERM", "DECOD", "LLT", "LLTCD", "PTCD", "HLT", "HLTCD", "HLGT", "HLGTCD",
            "BODSYS", "BDSYCD", "SOC", "SOCCD", "CAT", "SCAT",
        )
    },
    "interventions": {s: s.lower() for s in ("TRT", "DECOD", "CAT", "SCAT", "CLAS")},
    "findings": {s: s.lower() for s in ("TESTCD", "TEST", "CAT", "SCAT", "LOINC")},
}  # fmt: skip
"""Binding variable suffix (after the domain prefix) -> layout column, per layout table."""

DATES: Final[dict[str, tuple[str, str]]] = {
    "events": ("start_lo", "start_hi"),
    "interventions": ("start_lo", "start_hi"),
    "findings": ("date_lo", "date_hi"),
}
"""The (lo, hi) interval of each table's event date (events: --STDTC else --DTC)."""

MEDDRA_CODES: Final[tuple[str, ...]] = ("lltcd", "ptcd")
"""MedDRA codes of a record itself; with descendants also the groups above them."""
MEDDRA_GROUPS: Final[tuple[str, ...]] = ("hltcd", "hlgtcd", "soccd", "bdsycd")


@dataclass(frozen=True)
class SdtmSchema:
    tables: dict[str, str] = field(default_factory=dict)
    """domain -> layout table (domains with at least one dataset of a known class)"""
    test_units: dict[str, frozenset[str | None]] = field(default_factory=dict)
    """findings test code -> the UCUM units of its numeric values (None: no or unknown unit)"""
    tests: frozenset[str] = frozenset()
    """every findings test code with at least one row"""
    solicited: frozenset[str] = frozenset()
    """layout tables with rows that may say "did not happen" (--OCCUR, --PRESP; --STAT)"""
    subjects: int = 0
    has_dm: bool = True

    def domains_of(self, table: str) -> list[str]:
        return sorted(d for d, t in self.tables.items() if t == table)

    def units(self) -> frozenset[str]:
        """Every UCUM unit some numeric finding is recorded in."""
        return frozenset(u for us in self.test_units.values() for u in us if u is not None)


def inspect_study(study: Study) -> SdtmSchema:
    tables = {
        d: CLASS_TABLE[v.domain_class]
        for d, v in study.views.items()
        if v.domain_class in CLASS_TABLE
    }
    rows = study.con.execute(
        "SELECT testcd, CASE WHEN value IS NOT NULL THEN ucum END, count(value) FROM findings "
        "WHERE testcd IS NOT NULL GROUP BY ALL"
    ).fetchall()
    units: dict[str, set[str | None]] = {}
    for testcd, ucum, n in rows:
        if n:
            units.setdefault(str(testcd), set()).add(None if ucum is None else str(ucum))
    solicited = set()
    for table, cols in (("events", "occur, presp"), ("interventions", "occur, presp"),
                        ("findings", "stat")):  # fmt: skip
        check = " OR ".join(f"{c} IS NOT NULL" for c in cols.split(", "))
        if study.con.execute(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE {check})").fetchall()[0][
            0
        ]:
            solicited.add(table)
    return SdtmSchema(
        tables=tables,
        solicited=frozenset(solicited),
        test_units={k: frozenset(v) for k, v in units.items()},
        tests=frozenset(str(r[0]) for r in rows),
        subjects=study.count("subjects"),
        has_dm="DM" in study.views,
    )
