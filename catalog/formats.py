"""Serialisation formats and content negotiation.

Turtle is the default (no Accept header, ``*/*``), then JSON-LD (compacted with an
inline ``@context`` of the catalogue's prefixes), RDF/XML, N-Triples and HTML. A format
can be forced with an extension on the path (``.ttl``, ``.jsonld``, ``.rdf``, ``.nt``,
``.html``) or ``?format=`` (``ttl``/``turtle``, ``jsonld``/``json-ld``/``json``,
``rdf``/``xml``/``rdfxml``, ``nt``/``ntriples``, ``html``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from pyoxigraph import RdfFormat, Triple, parse, serialize

from hyperfed.catalog.documents import Page
from hyperfed.catalog.errors import BadRequest, CatalogError, StoreFailed

__all__ = [
    "EXTENSIONS",
    "MEDIA_TYPES",
    "Format",
    "NotAcceptable",
    "compact_jsonld",
    "format_from_param",
    "negotiate",
    "prefix_header",
    "render",
    "render_page",
    "split_extension",
    "turtle_body",
]

Format = Literal["turtle", "jsonld", "rdfxml", "ntriples", "html"]
PREFERENCE: tuple[Format, ...] = ("turtle", "jsonld", "rdfxml", "ntriples", "html")

MEDIA_TYPES: dict[Format, str] = {
    "turtle": "text/turtle",
    "jsonld": "application/ld+json",
    "rdfxml": "application/rdf+xml",
    "ntriples": "application/n-triples",
    "html": "text/html",
}
_ACCEPTED: dict[str, Format] = {
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/ld+json": "jsonld",
    "application/json": "jsonld",
    "application/rdf+xml": "rdfxml",
    "application/xml": "rdfxml",
    "text/xml": "rdfxml",
    "application/n-triples": "ntriples",
    "text/html": "html",
    "application/xhtml+xml": "html",
}
EXTENSIONS: dict[str, Format] = {
    ".ttl": "turtle",
    ".jsonld": "jsonld",
    ".rdf": "rdfxml",
    ".xml": "rdfxml",
    ".nt": "ntriples",
    ".html": "html",
}
_PARAM: dict[str, Format] = {
    "ttl": "turtle",
    "turtle": "turtle",
    "jsonld": "jsonld",
    "json-ld": "jsonld",
    "json": "jsonld",
    "rdf": "rdfxml",
    "xml": "rdfxml",
    "rdfxml": "rdfxml",
    "rdf/xml": "rdfxml",
    "nt": "ntriples",
    "ntriples": "ntriples",
    "n-triples": "ntriples",
    "html": "html",
}
_RDF_FORMATS = {
    "turtle": RdfFormat.TURTLE,
    "rdfxml": RdfFormat.RDF_XML,
    "ntriples": RdfFormat.N_TRIPLES,
    "jsonld": RdfFormat.JSON_LD,
}


class NotAcceptable(CatalogError):
    """None of the formats the client accepts can be served (406)."""

    status = 406
    title = "Not acceptable"


def format_from_param(value: str) -> Format:
    fmt = _PARAM.get(value.lower())
    if fmt is None:
        raise BadRequest(f"format={value!r} is not one of {', '.join(sorted(_PARAM))}")
    return fmt


def split_extension(path: str, exists: Any) -> tuple[str, Format | None]:
    """(path, forced format): a known extension is a format override unless the path
    with the extension names a resource itself (`exists(path)`)."""
    for ext, fmt in EXTENSIONS.items():
        if path.endswith(ext) and not exists(path):
            return path[: -len(ext)], fmt
    return path, None


def _ranges(header: str) -> list[tuple[str, float]]:
    out = []
    for item in header.split(","):
        parts = [p.strip() for p in item.split(";")]
        media = parts[0].lower()
        if not media:
            continue
        q = 1.0
        for p in parts[1:]:
            if p.lower().startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        out.append((media, q))
    return out


def negotiate(accept: str | None, *, allow_html: bool = True) -> Format:
    """The best format for an Accept header (module docstring)."""
    if not accept or not accept.strip():
        return "turtle"
    ranges = _ranges(accept)
    best: tuple[float, int, int] | None = None
    chosen: Format | None = None
    for fmt in PREFERENCE:
        if fmt == "html" and not allow_html:
            continue
        types = [m for m, f in _ACCEPTED.items() if f == fmt]
        q, specificity = 0.0, -1
        for media, weight in ranges:
            for t in types:
                kind = t.split("/")[0]
                if media == t:
                    s = 2
                elif media == f"{kind}/*":
                    s = 1
                elif media == "*/*":
                    s = 0
                else:
                    continue
                if s > specificity or (s == specificity and weight > q):
                    q, specificity = weight, s
        if q <= 0:
            continue
        score = (q, specificity, -PREFERENCE.index(fmt))
        if best is None or score > best:
            best, chosen = score, fmt
    if chosen is None:
        offered = ", ".join(MEDIA_TYPES[f] for f in PREFERENCE)
        raise NotAcceptable(f"cannot serve any of Accept: {accept}; available: {offered}")
    return chosen


def _compact(iri: str, ns: Sequence[tuple[str, str]]) -> str:
    for prefix, base in ns:
        if iri.startswith(base):
            local = iri[len(base) :]
            if local and not local.startswith("//") and "/" not in local and "#" not in local:
                return f"{prefix}:{local}"
    return iri


def compact_jsonld(expanded: list[dict[str, Any]], prefixes: dict[str, str]) -> dict[str, Any]:
    """Expanded JSON-LD (as pyoxigraph writes it) with keys, types and datatypes written
    as compact IRIs under an inline ``@context`` of `prefixes`. Node IRIs stay absolute."""
    ns = sorted(prefixes.items(), key=lambda kv: -len(kv[1]))
    rdf_type = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
    nodes = []
    for node in expanded:
        out: dict[str, Any] = {}
        for key, values in node.items():
            if key == "@id":
                out["@id"] = values
            elif key == rdf_type and all(set(v) == {"@id"} for v in values):
                out["@type"] = [_compact(v["@id"], ns) for v in values]
            else:
                converted = []
                for v in values:
                    if "@type" in v and "@value" in v:
                        v = {**v, "@type": _compact(v["@type"], ns)}
                    converted.append(v)
                out[_compact(key, ns)] = converted
        nodes.append(out)
    return {"@context": dict(prefixes), "@graph": nodes}


def _triples(lines: Sequence[bytes]) -> list[Triple]:
    data = b"\n".join(lines) + (b"\n" if lines else b"")
    try:
        return [q.triple for q in parse(data, format=RdfFormat.N_TRIPLES)]
    except (SyntaxError, ValueError) as exc:
        raise StoreFailed(f"a stored document is corrupt and cannot be served: {exc}") from exc


def _check_lines(lines: Sequence[bytes]) -> None:
    """A cheap check that cached lines are N-Triples statements (serving N-Triples does
    not parse them)."""
    for line in lines:
        if not (line.startswith((b"<", b"_:")) and line.endswith(b" .")):
            raise StoreFailed(f"a stored document is corrupt and cannot be served: {line[:80]!r}")


def turtle_body(lines: Sequence[bytes], prefixes: dict[str, str]) -> bytes:
    """Turtle of `lines` without its @prefix lines, so bodies can be concatenated under
    one prefix header."""
    out = serialize(_triples(lines), format=RdfFormat.TURTLE, prefixes=prefixes) or b""
    body = [ln for ln in out.split(b"\n") if not ln.startswith(b"@prefix ")]
    return b"\n".join(body).strip(b"\n") + b"\n"


def prefix_header(prefixes: dict[str, str]) -> bytes:
    return b"".join(f"@prefix {k}: <{v}> .\n".encode() for k, v in prefixes.items())


def render_page(page: Page, fmt: Format, prefixes: dict[str, str]) -> bytes:
    """A page in an RDF format. Turtle and N-Triples are assembled from each record's
    cached form (a Turtle document may state a triple twice; the graph is the same)."""
    if fmt == "ntriples":
        lines = list(dict.fromkeys([*page.head, *(ln for r in page.records for ln in r.lines)]))
        _check_lines(lines)
        return b"\n".join(lines) + b"\n"
    if fmt != "turtle":
        return render(page.lines, fmt, prefixes)
    parts = [prefix_header(prefixes), turtle_body(page.head, prefixes)]
    for r in page.records:
        if r.turtle is None:
            r.turtle = turtle_body(r.lines, prefixes)
        parts.append(r.turtle)
    return b"".join(parts)


def render(lines: Sequence[bytes], fmt: Format, prefixes: dict[str, str]) -> bytes:
    """Serialise N-Triples `lines` in an RDF format (not html)."""
    if fmt == "ntriples":
        _check_lines(lines)
        return b"\n".join(lines) + (b"\n" if lines else b"")
    triples = _triples(lines)
    if fmt == "jsonld":
        raw = serialize(triples, format=RdfFormat.JSON_LD) or b"[]"
        doc = compact_jsonld(json.loads(raw), prefixes)
        return json.dumps(doc, ensure_ascii=False).encode("utf-8")
    out = serialize(triples, format=_RDF_FORMATS[fmt], prefixes=prefixes)
    return out or b""
