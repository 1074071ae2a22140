"""The synthetic population as plain Python patients, read straight from its OMOP tables
with hand-written SQL (for the in-memory oracle adapter)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb

from hyperfed.adapters.omop.tables import OMOP_VOCABULARIES
from tests.adapters.memory import Patient, Vocabulary

SYSTEM_OF = {v: k for k, v in OMOP_VOCABULARIES.items()}
SEX_OF = {8532: "female", 8507: "male", 8521: "other"}
EVENTS = (
    ("condition_occurrence", "condition_concept_id", "condition_start_date", None, None),
    ("drug_exposure", "drug_concept_id", "drug_exposure_start_date", None, None),
    ("procedure_occurrence", "procedure_concept_id", "procedure_date", None, None),
    ("measurement", "measurement_concept_id", "measurement_date", "value_as_number",
     "unit_concept_id"),
    ("observation", "observation_concept_id", "observation_date", "value_as_number",
     "unit_concept_id"),
)  # fmt: skip


def load(path: Path) -> tuple[list[Patient], Vocabulary]:
    with duckdb.connect(str(path), read_only=True) as con:
        code: dict[int, tuple[str, str]] = {}
        for cid, vocab, concept_code in con.execute(
            "SELECT concept_id, vocabulary_id, concept_code FROM concept"
        ).fetchall():
            if vocab in SYSTEM_OF:
                code[int(cid)] = (SYSTEM_OF[vocab], str(concept_code))
        vocabulary = Vocabulary()
        for a, d in con.execute(
            "SELECT ancestor_concept_id, descendant_concept_id FROM concept_ancestor"
        ).fetchall():
            if a in code and d in code:
                vocabulary.descendants.setdefault(code[a], set()).add(code[d])
        for a, b in con.execute(
            "SELECT concept_id_1, concept_id_2 FROM concept_relationship "
            "WHERE relationship_id = 'Maps to' AND concept_id_1 <> concept_id_2"
        ).fetchall():
            if a in code and b in code:
                vocabulary.maps_to.setdefault(code[a], set()).add(code[b])
        events: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for table, concept, start, value, unit in EVENTS:
            cols = f"person_id, {concept}, {start}, {value or 'NULL'}, {unit or 'NULL'}"
            for pid, cid, day, v, u in con.execute(f"SELECT {cols} FROM {table}").fetchall():
                if cid not in code:
                    continue
                unit_code = code.get(int(u))[1] if u and int(u) in code else None
                events[int(pid)].append(
                    {
                        "codes": {code[int(cid)]},
                        "date": day,
                        "value": None if v is None else float(v),
                        "unit": unit_code,
                    }
                )
        patients = [
            {
                "id": int(pid),
                "sex": SEX_OF.get(int(g)) if g is not None else None,
                "birth": None if y is None else (int(y), m and int(m), d and int(d)),
                "events": events.get(int(pid), []),
            }
            for pid, g, y, m, d in con.execute(
                "SELECT person_id, gender_concept_id, year_of_birth, month_of_birth, "
                "day_of_birth FROM person"
            ).fetchall()
        ]
    return patients, vocabulary
