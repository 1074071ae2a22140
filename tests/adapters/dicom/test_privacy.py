"""Pseudonyms, ages and the PS3.15 confidentiality-profile scan."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from hyperfed.adapters.dicom.privacy import (
    DEFAULT_RETAINED,
    age_years,
    identifying_attributes,
    parse_age,
    person_key,
    profile,
)


def test_person_key_is_the_hmac_of_the_patient_id_under_the_secret() -> None:
    secret = b"s" * 32
    expected = hmac.new(secret, b"hyperfed-dicom-person\x00\x00PAT-1", hashlib.sha256).hexdigest()[
        :32
    ]
    assert person_key("PAT-1", secret) == expected
    assert person_key("PAT-1", secret) != person_key("PAT-1", b"t" * 32)
    assert person_key("PAT-1", secret, "ds1") != person_key("PAT-1", secret, "ds2")
    assert "PAT-1" not in person_key("PAT-1", secret)
    assert person_key("PAT-1", None) == "PAT-1"
    assert person_key("PAT-1", None, "ds1") == "ds1/PAT-1"


@pytest.mark.parametrize(
    ("value", "years"),
    [("045Y", 45), ("000Y", 0), ("018M", 1), ("011M", 0), ("104W", 1), ("400D", 1),
     ("45", None), ("", None), (None, None), ("-01Y", None), ("045y", 45)],
)  # fmt: skip
def test_dicom_age_strings(value: str | None, years: int | None) -> None:
    assert parse_age(value) == years


def test_age_from_birth_date() -> None:
    assert age_years(date(1960, 5, 10), date(2020, 5, 9)) == 59
    assert age_years(date(1960, 5, 10), date(2020, 5, 10)) == 60
    assert age_years(date(1960, 5, 10), None) is None
    assert age_years(date(2020, 1, 1), date(2019, 1, 1)) is None


def test_the_profile_table_is_the_standards() -> None:
    table = profile()
    # PS3.15 Table E.1-1, Basic Profile column
    tags = pydicom.datadict.keyword_dict
    assert table.action(tags["PatientName"]) == "Z"
    assert table.action(tags["PatientBirthDate"]) == "Z"
    assert table.action(tags["PatientID"]) == "Z/D"
    assert table.action(tags["OtherPatientIDsSequence"]) == "X"
    assert table.action(tags["StudyInstanceUID"]) == "U"
    assert table.action(tags["InstitutionName"]) == "X/Z/D"
    assert table.action(tags["Modality"]) is None
    assert table.action(0x50001234) == "X"  # curve data, a repeating group (50xx,xxxx)
    assert len(table) > 500


def _dataset(**values: object) -> Dataset:
    ds = Dataset()
    ds.Modality = "CT"
    ds.StudyDate = "20200101"
    for key, value in values.items():
        setattr(ds, key, value)
    return ds


def test_identifying_attributes_are_found_with_values_only() -> None:
    ds = _dataset(PatientName="Doe^John", PatientBirthDate="19600101", AccessionNumber="")
    assert identifying_attributes(ds) == ["PatientBirthDate", "PatientName"]
    # StudyDate is Z in the basic profile but retained by default (longitudinal option)
    assert "StudyDate" in identifying_attributes(ds, retained=())
    assert "StudyDate" in DEFAULT_RETAINED


def test_nested_sequences_are_searched() -> None:
    item = Dataset()
    item.ReferringPhysicianName = "Who^Doctor"
    ds = _dataset(RequestAttributesSequence=Sequence([item]))
    assert "ReferringPhysicianName" in identifying_attributes(ds)


def test_strict_adds_dummy_allowed_and_private_attributes() -> None:
    ds = _dataset(PatientID="12345", InstitutionName="General Hospital")
    block = ds.private_block(0x0011, "ACME", create=True)
    block.add_new(0x01, "LO", "secret")
    assert identifying_attributes(ds) == []
    assert identifying_attributes(ds, strict=True) == [
        "InstitutionName", "PatientID", "PrivateAttributes"
    ]  # fmt: skip
    assert identifying_attributes(ds, [*DEFAULT_RETAINED, "PatientID"], strict=True) == [
        "InstitutionName", "PrivateAttributes"
    ]  # fmt: skip
