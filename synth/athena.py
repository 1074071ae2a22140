"""The synthetic sites' OMOP vocabulary as an Athena download: tab-separated CONCEPT.csv,
CONCEPT_ANCESTOR.csv and CONCEPT_RELATIONSHIP.csv with Athena's headers and date format
(``YYYYMMDD``), the files an operator points a FHIR node at for descendants.

    write_athena_vocabulary("athena/")
"""

from __future__ import annotations

import csv
import datetime as dt
from os import PathLike
from pathlib import Path

from hyperfed.synth import vocabulary as voc

__all__ = ["ATHENA_FILES", "write_athena_vocabulary"]

ATHENA_FILES: dict[str, tuple[str, ...]] = {
    "CONCEPT.csv": (
        "concept_id",
        "concept_name",
        "domain_id",
        "vocabulary_id",
        "concept_class_id",
        "standard_concept",
        "concept_code",
        "valid_start_date",
        "valid_end_date",
        "invalid_reason",
    ),
    "CONCEPT_ANCESTOR.csv": (
        "ancestor_concept_id",
        "descendant_concept_id",
        "min_levels_of_separation",
        "max_levels_of_separation",
    ),
    "CONCEPT_RELATIONSHIP.csv": (
        "concept_id_1",
        "concept_id_2",
        "relationship_id",
        "valid_start_date",
        "valid_end_date",
        "invalid_reason",
    ),
}


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.strftime("%Y%m%d")
    return str(value)


def write_athena_vocabulary(out_dir: str | PathLike[str]) -> list[Path]:
    """Write the three files into `out_dir` (created if missing); returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start, end = voc.VALID_START, voc.VALID_END
    rows: dict[str, list[tuple[object, ...]]] = {
        "CONCEPT.csv": [
            (
                c.concept_id,
                c.concept_name,
                c.domain_id,
                c.vocabulary_id,
                c.concept_class_id,
                c.standard_concept,
                c.concept_code,
                start,
                end,
                None,
            )
            for c in voc.CONCEPTS
        ],
        "CONCEPT_ANCESTOR.csv": [tuple(r) for r in voc.ancestor_rows()],
        "CONCEPT_RELATIONSHIP.csv": [
            (a, b, rel, start, end, None) for a, b, rel in voc.relationship_rows()
        ],
    }
    written = []
    for name, header in ATHENA_FILES.items():
        path = out / name
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE)
            writer.writerow(header)
            writer.writerows([_cell(v) for v in row] for row in rows[name])
        written.append(path)
    return written
