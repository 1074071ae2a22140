"""What the loaded view tables hold, for the query compiler: the codes each event view carries
(directly, or through a referenced Medication) and whether its patient ids all name loaded
Patients.

`build_index(con, tables)` runs once at load time (the loader's last phase; the result is
part of a cache file): table ``fhir_code(view, via, system, code, n)`` — ``via`` is ``code``
for the view's own codings and ``medication`` for the codes of the Medication its rows
reference — and ``fhir_meta`` keys ``unlinked:VIEW`` for views with events of Patients that
are not loaded. `read_index(con)` turns both into a `StoreIndex` (plain values), so a compiler
routes each code to the tables that can hold it, as a person writing SQL would, and counts
straight from an event table only where that cannot count a Patient who is not there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import duckdb
from sqlglot import exp

from hyperfed.adapters.hql.systems import UnknownSystem, canonical_system

__all__ = ["CODE_TABLE", "StoreIndex", "build_index", "canonical_uri", "read_index"]

CODE_TABLE = "fhir_code"
_PATIENT_VIEW = "patient"
_MEDICATION_VIEW = "medication"


def canonical_uri(system: str | None) -> str:
    """A code system as HQL names it (its canonical URI); unknown systems as written."""
    if system is None:
        return ""
    try:
        return canonical_system(system).uri
    except UnknownSystem:
        return system


def _q(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql("duckdb")


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM information_schema.columns"
    ).fetchall():
        out.setdefault(str(table), set()).add(str(column))
    return out


def build_index(con: duckdb.DuckDBPyConnection, tables: Mapping[str, str]) -> None:
    """Write ``fhir_code`` and the ``unlinked:VIEW`` facts for the view tables `tables`
    (view name -> table name) of a database being loaded."""
    con.execute(
        f"CREATE TABLE {CODE_TABLE} (view VARCHAR, via VARCHAR, system VARCHAR, code VARCHAR, "
        "n BIGINT)"
    )
    columns = _columns(con)
    patient = tables.get(_PATIENT_VIEW)
    medication = tables.get(_MEDICATION_VIEW)
    for view, table in tables.items():
        cols = columns.get(table, set())
        if "patient_id" not in cols or view == _PATIENT_VIEW:
            continue
        t = _q(table)
        if {"system", "code"} <= cols:
            con.execute(
                f"INSERT INTO {CODE_TABLE} SELECT ?, 'code', system, code, count(*) FROM {t} "
                "WHERE code IS NOT NULL GROUP BY ALL",
                [view],
            )
        if "medication_id" in cols and medication is not None:
            con.execute(
                f"INSERT INTO {CODE_TABLE} SELECT ?, 'medication', m.system, m.code, count(*) "
                f"FROM {t} r JOIN {_q(medication)} m ON m.id = r.medication_id "
                "WHERE m.code IS NOT NULL GROUP BY ALL",
                [view],
            )
        if patient is not None:
            orphan = con.execute(
                f"SELECT EXISTS (SELECT 1 FROM {t} e WHERE e.patient_id IS NOT NULL AND NOT "
                f"EXISTS (SELECT 1 FROM {_q(patient)} p WHERE p.id = e.patient_id))"
            ).fetchone()
            if orphan and orphan[0]:
                con.execute("INSERT INTO fhir_meta VALUES (?, 'true')", [f"unlinked:{view}"])


@dataclass(frozen=True)
class StoreIndex:
    """What a compiler may know about a loaded FHIR store (no patient-level data)."""

    tables: Mapping[str, str]
    """view name -> table name"""
    columns: Mapping[str, frozenset[str]]
    """view name -> the columns of its table"""
    codes: Mapping[tuple[str, str], tuple[tuple[str, str, str], ...]] = field(default_factory=dict)
    """(canonical system, code) -> (view, via, system as stored) for every place it occurs"""
    unlinked: frozenset[str] = frozenset()
    """views with events of Patients that are not loaded"""

    def has(self, view: str, *columns: str) -> bool:
        cols = self.columns.get(view)
        return cols is not None and all(c in cols for c in columns)

    def where(self, system: str, code: str) -> tuple[tuple[str, str, str], ...]:
        return self.codes.get((canonical_uri(system), code), ())


def read_index(con: duckdb.DuckDBPyConnection, tables: Mapping[str, str]) -> StoreIndex:
    """The `StoreIndex` of a loaded database whose view tables are `tables`."""
    columns = _columns(con)
    codes: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for view, via, system, code in con.execute(
        f"SELECT view, via, system, code FROM {CODE_TABLE} ORDER BY ALL"
    ).fetchall():
        stored = "" if system is None else str(system)
        key = (canonical_uri(system), str(code))
        codes.setdefault(key, []).append((str(view), str(via), stored))
    unlinked = frozenset(
        str(k).removeprefix("unlinked:")
        for (k,) in con.execute("SELECT key FROM fhir_meta WHERE key LIKE 'unlinked:%'").fetchall()
    )
    return StoreIndex(
        tables=dict(tables),
        columns={v: frozenset(columns.get(t, set())) for v, t in tables.items()},
        codes={k: tuple(v) for k, v in codes.items()},
        unlinked=unlinked,
    )
