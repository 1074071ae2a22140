"""HTTP to a FHIR server (the only I/O of the REST backend): the CapabilityStatement, counts
(`_summary=count`) and paged searches that follow the Bundle's ``next`` links one page at a
time (memory bounded by one page), every request under the query's deadline.

A refused search (4xx/5xx) is a `RestError` quoting the OperationOutcome's diagnostics and
naming the request; a network failure is a `RestError` too; the deadline passing is
`QueryTimeout`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.errors import QueryTimeout
from hyperfed.adapters.fhir.errors import RestError

__all__ = ["FhirClient"]

_FHIR_JSON = "application/fhir+json"


def _diagnostics(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        texts = [
            str(i.get("diagnostics") or i.get("details", {}).get("text") or i.get("code"))
            for i in body.get("issue", [])
            if isinstance(i, dict)
        ]
        return "; ".join(texts) or "OperationOutcome without diagnostics"
    return str(body)[:200]


class FhirClient:
    """A FHIR R4 server's REST API at `base` (thread-safe: one httpx client)."""

    def __init__(
        self,
        base: str,
        *,
        timeout: float = 30.0,
        headers: dict[str, str] | None = None,
        verify: bool = True,
        page_size: int = 1000,
    ) -> None:
        self.base = base.rstrip("/")
        self.timeout = timeout
        self.page_size = page_size
        self.requests = 0
        self._origin = urlsplit(self.base)[:2]
        self._http = httpx.Client(
            headers={"Accept": _FHIR_JSON, **(headers or {})},
            verify=verify,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def _get(self, url: str, deadline: Deadline | None) -> dict[str, Any]:
        timeout = self.timeout
        if deadline is not None:
            deadline.check()
            timeout = min(timeout, max(deadline.remaining(), 0.001))
        shown = url.removeprefix(self.base + "/")
        self.requests += 1
        try:
            response = self._http.get(url, timeout=timeout)
        except httpx.TimeoutException as exc:
            if deadline is not None and deadline.expired:
                raise QueryTimeout(
                    f"the query ran longer than its {deadline.budget:g} s deadline"
                ) from exc
            raise RestError(f"GET {shown}: no answer within {timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise RestError(f"GET {shown}: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise RestError(
                f"the FHIR server refused GET {shown} ({response.status_code}): "
                f"{_diagnostics(response)}"
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise RestError(f"GET {shown}: the answer is not JSON") from exc
        if not isinstance(body, dict):
            raise RestError(f"GET {shown}: the answer is not a FHIR resource")
        return body

    def url(self, resource: str, params: Sequence[tuple[str, str]]) -> str:
        return f"{self.base}/{resource}?{urlencode(list(params), safe='|,:/')}"

    def capabilities(self, deadline: Deadline | None = None) -> dict[str, frozenset[str]]:
        """Resource type -> the search parameters the server declares (``/metadata``)."""
        body = self._get(f"{self.base}/metadata", deadline)
        if body.get("resourceType") != "CapabilityStatement":
            raise RestError(f"{self.base}/metadata is not a CapabilityStatement")
        found: dict[str, frozenset[str]] = {}
        for rest in body.get("rest", []):
            for r in rest.get("resource", []) if isinstance(rest, dict) else []:
                if isinstance(r, dict) and isinstance(r.get("type"), str):
                    names = {
                        str(p.get("name")) for p in r.get("searchParam", []) if isinstance(p, dict)
                    }
                    found[r["type"]] = frozenset(names)
        return found

    def count(
        self, resource: str, params: Sequence[tuple[str, str]], deadline: Deadline | None = None
    ) -> int:
        """How many resources a search finds (``_summary=count``)."""
        body = self._get(self.url(resource, [*params, ("_summary", "count")]), deadline)
        total = body.get("total")
        if not isinstance(total, int):
            raise RestError(f"{resource} search with _summary=count gave no total")
        return total

    def search(
        self,
        resource: str,
        params: Sequence[tuple[str, str]],
        elements: Sequence[str] = (),
        deadline: Deadline | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every resource a search finds, one page in memory at a time."""
        query = list(params)
        if elements:
            query.append(("_elements", ",".join(elements)))
        url: str | None = self.url(resource, [*query, ("_count", str(self.page_size))])
        pages = 0
        while url is not None:
            body = self._get(url, deadline)
            pages += 1
            for entry in body.get("entry", []) or []:
                r = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(r, dict) and r.get("resourceType") == resource:
                    yield r  # search mode "include"/"outcome" entries are not matches
            url = None
            for link in body.get("link", []) or []:
                if isinstance(link, dict) and link.get("relation") == "next":
                    nxt = str(link.get("url", ""))
                    if urlsplit(nxt)[:2] != self._origin:
                        raise RestError(f"{resource} search: a next link to another server")
                    url = nxt
            if pages > 1_000_000:
                raise RestError(f"{resource} search: more than a million pages")
