"""The documents the catalogue serves, as N-Triples lines: one per dereferenceable IRI,
and the pages of the whole catalogue (or of one node's sub-catalogue).

A page is a ``hydra:PagedCollection`` (the design ckanext-dcat and piveau read):
``hydra:totalItems``, ``hydra:itemsPerPage``, ``hydra:first``/``hydra:firstPage``,
``hydra:last``/``hydra:lastPage``, ``hydra:next``/``hydra:nextPage`` and
``hydra:previous``/``hydra:previousPage``, all absolute IRIs from the base URL, in a
stable order (node id, then dataset id). Each page repeats the catalogue's own
description, links its datasets with ``dcat:dataset`` and describes each of them fully.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from pyoxigraph import NamedNode

from hyperfed.catalog.errors import BadRequest, NotFound
from hyperfed.catalog.rdf import Graph, int_literal
from hyperfed.catalog.records import Record, lines_of
from hyperfed.catalog.vocab import DCAT, HYDRA

__all__ = ["Page", "PageRequest", "build_page", "merge", "parse_since"]


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    size: int | None = None
    modified_since: dt.datetime | None = None
    format: str | None = None
    """A format the client forced (extension or ?format=), kept in the page links."""


@dataclass
class Page:
    """One page: its own triples (`head`: the catalogue and the hydra collection) and its
    datasets' records. `lines` merges them (on first use)."""

    head: list[bytes]
    records: list[Record]
    total: int
    page: int
    size: int
    last: int
    url: str
    links: dict[str, str]
    _lines: list[bytes] | None = None

    @property
    def lines(self) -> list[bytes]:
        if self._lines is None:
            self._lines = merge(self.head, *(r.lines for r in self.records))
        return self._lines


def parse_since(text: str | None) -> dt.datetime | None:
    """``modified_since`` as an aware datetime (a date means its midnight UTC)."""
    if not text:
        return None
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=dt.UTC)
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError as exc:
        raise BadRequest(
            f"modified_since={text!r} is not an ISO 8601 date or date-time "
            "(e.g. 2024-06-30 or 2024-06-30T12:00:00Z)"
        ) from exc
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def merge(*parts: Sequence[bytes]) -> list[bytes]:
    """Lines of several documents, duplicates removed, sorted (so subjects group)."""
    seen: set[bytes] = set()
    for part in parts:
        seen.update(part)
    return sorted(seen)


def _url(iri: str, page: int, size: int, default: int, request: PageRequest) -> str:
    params: dict[str, str] = {"page": str(page)}
    if size != default:
        params["page_size"] = str(size)
    if request.modified_since is not None:
        params["modified_since"] = request.modified_since.isoformat().replace("+00:00", "Z")
    if request.format:
        params["format"] = request.format
    return f"{iri}?{urlencode(params)}"


def build_page(
    catalog_iri: str,
    head: Sequence[bytes],
    records: Sequence[Record],
    request: PageRequest,
    *,
    default_size: int,
    max_size: int,
) -> Page:
    """Page `request.page` of `records` (already in catalogue order) under `catalog_iri`,
    whose own description is `head`."""
    size = request.size or default_size
    if not 1 <= size <= max_size:
        raise BadRequest(f"page_size must be between 1 and {max_size}, not {size}")
    if request.page < 1:
        raise BadRequest(f"page must be 1 or more, not {request.page}")
    since = request.modified_since
    chosen = [r for r in records if since is None or r.modified >= since]
    total = len(chosen)
    last = max(1, math.ceil(total / size))
    if request.page > last:
        raise NotFound(f"page {request.page} is past the last page ({last}) of {catalog_iri}")
    members = chosen[(request.page - 1) * size : request.page * size]

    def url(n: int) -> str:
        return _url(catalog_iri, n, size, default_size, request)

    here = url(request.page)
    g = Graph()
    g.typed(here, HYDRA.PagedCollection)
    g.add(here, HYDRA.totalItems, int_literal(total))
    g.add(here, HYDRA.itemsPerPage, int_literal(size))
    links = {"first": url(1), "last": url(last)}
    if request.page < last:
        links["next"] = url(request.page + 1)
    if request.page > 1:
        links["previous"] = url(request.page - 1)
    for rel, target in links.items():
        g.add(here, HYDRA.term(rel), NamedNode(target))
        g.add(here, HYDRA.term(rel + "Page"), NamedNode(target))
    for r in members:
        g.add(catalog_iri, DCAT.dataset, r.iri)
        g.add(here, HYDRA.member, r.iri)
    return Page(
        head=merge(head, lines_of(g)),
        records=list(members),
        total=total,
        page=request.page,
        size=size,
        last=last,
        url=here,
        links=links,
    )
