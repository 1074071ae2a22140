"""Keyword validation against pydicom's dictionary; the body-part table against PS3.16."""

from __future__ import annotations

import pytest
from pydicom.datadict import keyword_dict
from pydicom.sr._cid_dict import cid_concepts
from pydicom.sr._concepts_dict import concepts

from hyperfed.adapters.dicom import UnknownKeyword, validate_keyword
from hyperfed.adapters.dicom.bodyparts import body_part, body_part_terms, body_parts, term_code
from hyperfed.adapters.dicom.keywords import keyword_tag, keyword_vr
from hyperfed.adapters.dicom.layout import SERIES_KEYWORD_COLUMNS


def test_known_keywords_pass_and_have_their_tags() -> None:
    for keyword in ("Modality", "BodyPartExamined", "SliceThickness", "ConvolutionKernel"):
        assert validate_keyword(keyword) == keyword
        assert keyword_tag(keyword) == keyword_dict[keyword]
    assert keyword_vr("Modality") == "CS"


def test_every_keyword_column_of_the_layout_is_a_dictionary_keyword() -> None:
    for keyword in SERIES_KEYWORD_COLUMNS:
        assert keyword in keyword_dict, keyword


@pytest.mark.parametrize(
    ("wrong", "suggestion"),
    [("SliceThicknes", "SliceThickness"), ("modality", "Modality"), ("BodyPart", None)],
)
def test_unknown_keywords_name_themselves_and_close_matches(
    wrong: str, suggestion: str | None
) -> None:
    with pytest.raises(UnknownKeyword) as info:
        validate_keyword(wrong, "criteria.attributes")
    message = str(info.value)
    assert repr(wrong) in message and message.startswith("criteria.attributes:")
    assert isinstance(info.value, ValueError)
    if suggestion:
        assert info.value.matches[0] == suggestion
        assert suggestion in message


def test_nonsense_has_no_suggestions() -> None:
    with pytest.raises(UnknownKeyword) as info:
        validate_keyword("Zzqxv")
    assert info.value.matches == []


def test_every_body_part_code_and_meaning_is_pydicoms() -> None:
    sct = concepts["SCT"]
    by_code: dict[str, list[tuple[str, list[int]]]] = {}
    for entry in sct.values():
        for code, (meaning, cids) in entry.items():
            by_code.setdefault(code, []).append((meaning, cids))
    for part in body_parts().values():
        found = by_code[part.code]
        assert part.meaning in [m for m, _ in found], part
        assert part.cid4031 == any(4031 in cids for _, cids in found), part
    # every CID 4031 member we name is in pydicom's CID 4031 list
    names_4031 = set(cid_concepts[4031]["SCT"])
    codes_4031 = {code for name in names_4031 for code in sct[name]}
    assert {p.code for p in body_parts().values() if p.cid4031} <= codes_4031


def test_covers_name_known_terms_only() -> None:
    terms = set(body_parts())
    for part in body_parts().values():
        assert set(part.covers) <= terms, part


def test_body_site_codes_match_their_term_and_the_regions_covering_them() -> None:
    assert body_part_terms("39607008") == sorted(
        {"LUNG", "CHEST", "NECKCHEST", "CHESTABDOMEN", "CHESTABDPELVIS", "WHOLEBODY"}
    )
    assert body_part_terms("39607008", containing=False) == ["LUNG"]
    assert body_part_terms("51185008") == body_part_terms("816094009")  # retired chest code
    assert body_part_terms("41216001") == sorted(
        {"PROSTATE", "PELVIS", "ABDOMENPELVIS", "CHESTABDPELVIS", "WHOLEBODY"}
    )
    assert body_part_terms("999999") == []
    assert body_part_terms("39607008", "http://loinc.org") == []
    assert term_code("chest") == "816094009"
    part = body_part("76752008")
    assert part is not None and part.term == "BREAST"
