"""OMOP CDMs with a partial vocabulary: when CONCEPT_ANCESTOR is missing or empty but
CONCEPT_RELATIONSHIP holds the hierarchy ('Subsumes', or 'Is a' read backwards), a code's
descendants are still counted, transitively, and the result says how."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from hyperfed.adapters.hql.model import Query, dated
from hyperfed.adapters.omop import OmopAdapter
from tests.crossmodel.battery import AS_OF, SNOMED

CANCER = "363346000"  # malignant neoplastic disease: lung, NSCLC, breast, colon ... below it

# the truth, written by hand: persons with a condition whose concept lies anywhere below the
# code in the (complete) ancestor table of the unmodified population
TRUTH = """
SELECT COUNT(DISTINCT o.person_id) FROM condition_occurrence o
WHERE o.condition_concept_id IN (
  SELECT ca.descendant_concept_id FROM concept_ancestor ca JOIN concept c
    ON c.concept_id = ca.ancestor_concept_id
  WHERE c.vocabulary_id = 'SNOMED' AND c.concept_code = '{code}')
"""


def _variant(src: Path, dst: Path, *statements: str) -> Path:
    shutil.copyfile(src, dst)
    with duckdb.connect(str(dst)) as con:
        for sql in statements:
            con.execute(sql)
    return dst


def _count(path: Path, code: str, descendants: bool = True) -> tuple[int | None, list[str]]:
    adapter = OmopAdapter.from_source(f"duckdb://{path}")
    try:
        q = Query.model_validate(
            {"hql": "1", "criteria": {"code": {"system": SNOMED, "code": code},
                                      "descendants": descendants}}
        )  # fmt: skip
        result = adapter.count(dated(q, AS_OF), {})
        return result.total, result.notes
    finally:
        adapter.close()


@pytest.mark.parametrize(
    ("name", "kept"),
    [("subsumes-and-is-a", None), ("subsumes-only", "Subsumes"), ("is-a-only", "Is a")],
)
def test_descendants_come_from_concept_relationship(
    population_omop: Path, tmp_path: Path, name: str, kept: str | None
) -> None:
    with duckdb.connect(str(population_omop), read_only=True) as con:
        expected = con.execute(TRUTH.format(code=CANCER)).fetchone()
        only_root = con.execute(TRUTH.format(code=CANCER) + " AND false").fetchone()
    assert expected is not None and expected[0] > 50 and only_root == (0,)
    drop = (
        f"DELETE FROM concept_relationship WHERE relationship_id IN ('Subsumes', 'Is a') "
        f"AND relationship_id <> '{kept}'"
        if kept
        else "SELECT 1"
    )
    path = _variant(
        population_omop, tmp_path / f"{name}.duckdb", "DELETE FROM concept_ancestor", drop
    )
    total, notes = _count(path, CANCER)
    assert total == expected[0]
    assert any("derived from CONCEPT_RELATIONSHIP" in n for n in notes), notes


def test_without_any_hierarchy_the_note_says_descendants_are_missing(
    population_omop: Path, tmp_path: Path
) -> None:
    path = _variant(
        population_omop,
        tmp_path / "flat.duckdb",
        "DELETE FROM concept_ancestor",
        "DELETE FROM concept_relationship WHERE relationship_id IN ('Subsumes', 'Is a')",
    )
    with duckdb.connect(str(path), read_only=True) as con:
        own = con.execute(
            "SELECT COUNT(DISTINCT person_id) FROM condition_occurrence o JOIN concept c "
            f"ON c.concept_id = o.condition_concept_id WHERE c.concept_code = '{CANCER}'"
        ).fetchone()
    total, notes = _count(path, CANCER)
    assert own is not None and total == own[0]
    assert any("descendants of codes are not included" in n for n in notes), notes


def test_deprecated_hierarchy_rows_are_ignored(population_omop: Path, tmp_path: Path) -> None:
    lung = "363358000"
    path = _variant(
        population_omop,
        tmp_path / "deprecated.duckdb",
        "DELETE FROM concept_ancestor",
        "UPDATE concept_relationship SET invalid_reason = 'D' "
        "WHERE relationship_id IN ('Subsumes', 'Is a')",
    )
    with_desc, _ = _count(path, lung)
    own, _ = _count(path, lung, descendants=False)
    assert with_desc == own  # no valid hierarchy row left: the code alone
