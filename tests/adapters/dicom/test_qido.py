"""The QIDO-RS client against a real Orthanc holding pydicom's test files."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from datetime import date
from typing import Any

import httpx
import pytest

from hyperfed.adapters.dicom import QidoError, QidoTimeout, UnknownKeyword
from hyperfed.adapters.dicom.qido import DateRange, QidoClient, first_value, values
from tests.adapters.dicom.conftest import read, upload_files
from tests.orthanc import OrthancServer


def _truth() -> dict[str, Any]:
    studies: dict[str, dict[str, Any]] = {}
    series: dict[str, dict[str, Any]] = {}
    for path in upload_files():
        ds = read(path)
        assert ds is not None
        st = studies.setdefault(
            str(ds.StudyInstanceUID),
            {"date": str(ds.get("StudyDate", "")), "modalities": set(), "patient": ds.PatientID},
        )
        st["modalities"].add(str(ds.Modality))
        se = series.setdefault(
            str(ds.SeriesInstanceUID),
            {"study": str(ds.StudyInstanceUID), "modality": str(ds.Modality),
             "date": str(ds.get("StudyDate", "")), "sops": set(),
             "body": str(ds.get("BodyPartExamined", "") or "")},
        )  # fmt: skip
        se["sops"].add(str(ds.SOPInstanceUID))
    return {"studies": studies, "series": series}


TRUTH = _truth()


def test_all_studies_and_their_attributes(orthanc: OrthancServer) -> None:
    with QidoClient(orthanc.dicomweb) as q:
        found = q.search_studies(includefield=["ModalitiesInStudy"])
    by_uid = {first_value(s, "StudyInstanceUID"): s for s in found}
    assert set(by_uid) == set(TRUTH["studies"])
    for uid, truth in TRUTH["studies"].items():
        assert first_value(by_uid[uid], "StudyDate") == truth["date"]
        assert set(values(by_uid[uid], "ModalitiesInStudy")) == truth["modalities"]
        assert first_value(by_uid[uid], "PatientID") == truth["patient"]


def test_series_by_modality_and_date_range(orthanc: OrthancServer) -> None:
    with QidoClient(orthanc.dicomweb) as q:
        ct = q.search_series({"Modality": "CT"})
        window = DateRange(date(2000, 1, 1), date(2004, 12, 31))
        dated = q.search_series(
            {"StudyDate": window}, includefield=["NumberOfSeriesRelatedInstances"]
        )
        before = q.search_series({"StudyDate": DateRange(None, date(1999, 12, 31))})
    expected_ct = {u for u, s in TRUTH["series"].items() if s["modality"] == "CT"}
    assert {first_value(s, "SeriesInstanceUID") for s in ct} == expected_ct
    expected_dated = {
        u for u, s in TRUTH["series"].items() if "20000101" <= s["date"] <= "20041231"
    }
    assert {first_value(s, "SeriesInstanceUID") for s in dated} == expected_dated
    for s in dated:
        uid = first_value(s, "SeriesInstanceUID")
        assert first_value(s, "NumberOfSeriesRelatedInstances") == len(TRUTH["series"][uid]["sops"])
    assert {first_value(s, "SeriesInstanceUID") for s in before} == {
        u for u, s in TRUTH["series"].items() if s["date"] and s["date"] < "20000101"
    }


def test_series_of_one_study(orthanc: OrthancServer) -> None:
    counts: dict[str, int] = defaultdict(int)
    for s in TRUTH["series"].values():
        counts[s["study"]] += 1
    study = max(counts, key=lambda k: counts[k])
    with QidoClient(orthanc.dicomweb) as q:
        found = q.search_series(study=study)
        instances = q.search_instances(study=study)
    assert len(found) == counts[study] > 1
    assert len(instances) == sum(
        len(s["sops"]) for s in TRUTH["series"].values() if s["study"] == study
    )


def test_paging_returns_the_same_results_in_more_requests(orthanc: OrthancServer) -> None:
    n = len(TRUTH["series"])
    with QidoClient(orthanc.dicomweb, page_size=4) as small, QidoClient(orthanc.dicomweb) as big:
        paged = small.search_series()
        whole = big.search_series()
        assert len(small.requests) == math.floor(n / 4) + 1
        assert len(big.requests) == 1
        window = small.search_series(limit=5, offset=3)
    uids = [first_value(s, "SeriesInstanceUID") for s in paged]
    assert sorted(uids) == sorted(first_value(s, "SeriesInstanceUID") for s in whole)
    assert len(set(uids)) == n
    assert [first_value(s, "SeriesInstanceUID") for s in window] == uids[3:8]
    assert "limit=4&offset=4" in small.requests[1]


def test_keywords_are_validated_before_anything_is_sent(orthanc: OrthancServer) -> None:
    with QidoClient(orthanc.dicomweb) as q:
        with pytest.raises(UnknownKeyword, match="Modalty"):
            q.search_series({"Modalty": "CT"})
        with pytest.raises(UnknownKeyword):
            q.search_studies(includefield=["PatientNam"])
        assert q.requests == []


def test_a_passed_deadline_sends_nothing(orthanc: OrthancServer) -> None:
    with QidoClient(orthanc.dicomweb, page_size=1) as q:
        with pytest.raises(QidoTimeout):
            q.search_series(deadline=time.monotonic() - 1)
        assert q.requests == []
        # the request gets only what is left of the deadline: far too little for an answer
        with pytest.raises(QidoTimeout):
            q.search_series(deadline=time.monotonic() + 0.0005)


def test_http_errors_name_the_url(orthanc: OrthancServer) -> None:
    with QidoClient(orthanc.url + "/no-such-root") as q, pytest.raises(QidoError, match="HTTP 404"):
        q.search_studies()
    with QidoClient("http://127.0.0.1:9", timeout=2) as q, pytest.raises(QidoError, match="GET"):
        q.search_studies()


def test_an_answer_that_is_not_json_is_an_error() -> None:
    # a misconfigured proxy answering HTML (a transport fault, simulated)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="<html>"))
    client = httpx.Client(transport=transport)
    with (
        QidoClient("http://pacs.invalid/dicom-web", client=client) as q,
        pytest.raises(QidoError, match="not JSON"),
    ):
        q.search_studies()
