"""Text search: exact > prefix > word prefix > substring, case-insensitive, by category."""

from __future__ import annotations

import pytest

from hyperfed.ontology import Ontology, UnknownCategory


def curies(onto: Ontology, text: str, category: str | None = None) -> list[str]:
    return [c.curie for c in onto.search(text, category=category)]


def test_ranking_exact_prefix_word_prefix_substring(onto: Ontology) -> None:
    found = curies(onto, "ct")
    # exact "CT"; prefix "CT scan" (shorter) and "CT of chest"; then substrings
    assert found[:3] == ["hf:CT", "hf:CTScan", "hf:ChestCT"]
    # "Colon structure" matches only inside a word: ranked after every better match
    assert found.index("hf:Colon") > found.index("hf:ChestCT")
    assert "hf:MyocardialInfarction" in found  # "infarction"


def test_word_prefix_beats_substring(onto: Ontology) -> None:
    found = curies(onto, "lung")
    assert found[0] == "hf:Lung"  # exact
    assert found[1] == "hf:LungCancer"  # prefix ("Lung cancer")
    assert set(found[2:4]) == {"hf:NonSmallCellLungCancer", "hf:COPD"}  # word prefix


def test_case_insensitive(onto: Ontology) -> None:
    assert curies(onto, "LUNG CANCER")[0] == "hf:LungCancer"
    assert curies(onto, "malignant TUMOR of lung")[0] == "hf:LungCancer"


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("363358000", "hf:LungCancer"),  # SNOMED code
        ("CLIN1000065", "hf:LungCancer"),  # EUCAIM code
        ("RID10321", "hf:CT"),  # EUCAIM search key
        ("718-7", "hf:Hemoglobin"),  # LOINC code
        ("Paracetamol", "hf:Acetaminophen"),  # alternative label
        ("siemens", "hf:Siemens"),
    ],
)
def test_search_by_code_notation_and_alt_label(onto: Ontology, text: str, first: str) -> None:
    assert curies(onto, text)[0] == first


def test_category_filter(onto: Ontology) -> None:
    procedures = curies(onto, "computed tomography", category="procedure")
    assert procedures[0] == "hf:CTScan"
    assert "hf:CT" not in procedures
    modalities = curies(onto, "computed tomography", category="modality")
    assert modalities[0] == "hf:CT"
    assert "hf:CTScan" not in modalities


def test_limit(onto: Ontology) -> None:
    assert len(onto.search("a", limit=3)) == 3
    assert onto.search("a", limit=0) == []


def test_empty_and_missing(onto: Ontology) -> None:
    assert onto.search("") == []
    assert onto.search("   ") == []
    assert onto.search("zzzqqqxxx") == []


def test_unknown_category(onto: Ontology) -> None:
    with pytest.raises(UnknownCategory) as caught:
        onto.search("lung", category="organ")
    assert isinstance(caught.value, ValueError)
    assert "'organ'" in str(caught.value) and "body_part" in str(caught.value)
