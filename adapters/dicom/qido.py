"""A small QIDO-RS client (DICOMweb search, PS3.18 10.6) over httpx.

    client = QidoClient("http://pacs.example/dicom-web")
    studies = client.search_studies(
        {"StudyDate": DateRange(date(2010, 1, 1), date(2019, 12, 31)), "ModalitiesInStudy": "CT"},
        includefield=["PatientSex", "PatientAge"],
        deadline=deadline_in(5.0),
    )
    series = client.search_series({"Modality": "CT", "BodyPartExamined": "CHEST"})
    values(series[0], "SeriesInstanceUID")

Search keys are DICOM keywords, validated against pydicom's dictionary (an unknown keyword is
`UnknownKeyword` before anything is sent). Values are strings (QIDO matching: exact, `*`/`?`
wildcards, comma-separated UID lists), dates, or `DateRange`s. Results are DICOM JSON datasets
(dicts keyed by tag). Paging follows `limit`/`offset` until a page comes back short or the
wanted number of results is reached; every request made is appended to `requests` (what
`node explain` prints and benchmarks count). A `deadline` (time.monotonic() seconds) bounds
the whole search: each request's timeout is what is left of it, and a passed deadline is a
`QidoTimeout`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

import httpx

from hyperfed.adapters.dicom.errors import QidoError, QidoTimeout
from hyperfed.adapters.dicom.keywords import keyword_tag, validate_keyword

__all__ = [
    "DateRange",
    "QidoClient",
    "SearchValue",
    "deadline_in",
    "first_value",
    "search_params",
    "values",
]


@dataclass(frozen=True)
class DateRange:
    """An inclusive date range; an open end is None ('20100101-' or '-20191231')."""

    start: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        if self.start is None and self.end is None:
            raise ValueError("a date range needs a start or an end")
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"date range {self.start}..{self.end} ends before it starts")

    def qido(self) -> str:
        f = "%Y%m%d"
        return (
            f"{self.start.strftime(f) if self.start else ''}-"
            f"{self.end.strftime(f) if self.end else ''}"
        )


SearchValue = str | int | date | DateRange
MAX_RECORDED = 10_000  # request URLs kept in QidoClient.requests


def deadline_in(seconds: float) -> float:
    """A deadline `seconds` from now, in time.monotonic() terms."""
    return time.monotonic() + seconds


def _tag_hex(keyword: str) -> str:
    return f"{keyword_tag(keyword):08X}"


def values(dataset: Mapping[str, Any], keyword: str) -> list[Any]:
    """The values of `keyword` in a DICOM JSON dataset ([] when absent); person names as
    their Alphabetic form."""
    element = dataset.get(_tag_hex(keyword))
    if not element:
        return []
    out = []
    for value in element.get("Value", []):
        if isinstance(value, dict) and "Alphabetic" in value:
            out.append(value["Alphabetic"])
        else:
            out.append(value)
    return out


def first_value(dataset: Mapping[str, Any], keyword: str) -> Any:
    found = values(dataset, keyword)
    return found[0] if found else None


def _encode(value: SearchValue) -> str:
    if isinstance(value, DateRange):
        return value.qido()
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    return str(value)


def search_params(
    filters: Mapping[str, SearchValue] | None,
    includefield: Sequence[str],
    fuzzymatching: bool = False,
) -> list[tuple[str, str]]:
    """The query parameters of a QIDO-RS search (keywords validated), without paging."""
    params: list[tuple[str, str]] = []
    for keyword, value in (filters or {}).items():
        params.append((validate_keyword(keyword, "QIDO search key"), _encode(value)))
    for keyword in includefield:
        if keyword == "all":
            params.append(("includefield", "all"))
        else:
            params.append(("includefield", validate_keyword(keyword, "includefield")))
    if fuzzymatching:
        params.append(("fuzzymatching", "true"))
    return params


class QidoClient:
    """QIDO-RS searches against one DICOMweb base URL (synchronous, one httpx.Client)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        page_size: int = 100,
        headers: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.page_size = page_size
        self._client = client or httpx.Client(headers=dict(headers or {}))
        self._own_client = client is None
        self.requests: list[str] = []

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    def __enter__(self) -> QidoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- searches --------------------------------------------------------------------------

    def search_studies(
        self,
        filters: Mapping[str, SearchValue] | None = None,
        *,
        includefield: Sequence[str] = (),
        limit: int | None = None,
        offset: int = 0,
        fuzzymatching: bool = False,
        deadline: float | None = None,
    ) -> list[dict[str, Any]]:
        """Studies matching `filters` (at most `limit`, from `offset`)."""
        return list(
            self._search("studies", filters, includefield, limit, offset, fuzzymatching, deadline)
        )

    def search_series(
        self,
        filters: Mapping[str, SearchValue] | None = None,
        *,
        study: str | None = None,
        includefield: Sequence[str] = (),
        limit: int | None = None,
        offset: int = 0,
        fuzzymatching: bool = False,
        deadline: float | None = None,
    ) -> list[dict[str, Any]]:
        """Series matching `filters`, of one study when `study` (a StudyInstanceUID) is given."""
        path = f"studies/{study}/series" if study else "series"
        return list(
            self._search(path, filters, includefield, limit, offset, fuzzymatching, deadline)
        )

    def search_instances(
        self,
        filters: Mapping[str, SearchValue] | None = None,
        *,
        study: str | None = None,
        series: str | None = None,
        includefield: Sequence[str] = (),
        limit: int | None = None,
        offset: int = 0,
        deadline: float | None = None,
    ) -> list[dict[str, Any]]:
        """Instances matching `filters`, within a study / series when given."""
        if series and not study:
            raise ValueError("an instance search within a series needs its study too")
        path = "instances"
        if study:
            path = f"studies/{study}/" + (f"series/{series}/instances" if series else "instances")
        return list(self._search(path, filters, includefield, limit, offset, False, deadline))

    # -- machinery -------------------------------------------------------------------------

    def query_params(
        self,
        filters: Mapping[str, SearchValue] | None,
        includefield: Sequence[str],
        fuzzymatching: bool = False,
    ) -> list[tuple[str, str]]:
        """The query parameters of a search (keywords validated), without paging."""
        return search_params(filters, includefield, fuzzymatching)

    def iter_search(
        self,
        path: str,
        filters: Mapping[str, SearchValue] | None = None,
        *,
        includefield: Sequence[str] = (),
        deadline: float | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every result of a search (`path`: 'studies', 'series', 'studies/UID/series' ...),
        one page in memory at a time."""
        return self._search(path, filters, includefield, None, 0, False, deadline)

    def _search(
        self,
        path: str,
        filters: Mapping[str, SearchValue] | None,
        includefield: Sequence[str],
        limit: int | None,
        offset: int,
        fuzzymatching: bool,
        deadline: float | None,
    ) -> Iterator[dict[str, Any]]:
        if (limit is not None and limit < 0) or offset < 0:
            raise ValueError("limit and offset must not be negative")
        base = self.query_params(filters, includefield, fuzzymatching)
        got = 0
        while limit is None or got < limit:
            size = self.page_size if limit is None else min(self.page_size, limit - got)
            page = self._get(path, [*base, ("limit", str(size)), ("offset", str(offset))], deadline)
            yield from page
            got += len(page)
            offset += len(page)
            if len(page) < size:
                break

    def _get(
        self, path: str, params: list[tuple[str, str]], deadline: float | None
    ) -> list[dict[str, Any]]:
        url = f"{self.base_url}/{path}?{urlencode(params)}"
        timeout = self.timeout
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise QidoTimeout(f"deadline passed before GET {url}")
            timeout = min(timeout, left)
        self.requests.append(url)
        if len(self.requests) > MAX_RECORDED:  # a long-running node keeps the recent ones
            del self.requests[: MAX_RECORDED // 2]
        try:
            response = self._client.get(
                url, headers={"Accept": "application/dicom+json"}, timeout=timeout
            )
        except httpx.TimeoutException as exc:
            raise QidoTimeout(f"GET {url}: no answer within {timeout:.2f}s") from exc
        except httpx.HTTPError as exc:
            raise QidoError(f"GET {url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 204:
            return []
        if response.status_code != 200:
            raise QidoError(f"GET {url}: HTTP {response.status_code}: {response.text[:300]}")
        try:
            data = response.json()
        except ValueError as exc:
            raise QidoError(f"GET {url}: the answer is not JSON: {response.text[:200]}") from exc
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise QidoError(f"GET {url}: expected a JSON array of datasets")
        return data
