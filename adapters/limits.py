"""Input limits of the hub's and the node's HTTP APIs: every number in one place.

The hub and the node refuse anything beyond these with a 4xx problem+json that names the
JSON path or the header (never a 500): `hyperfed.adapters.problems` parses JSON strictly
against them, `hyperfed.adapters.guard` bounds bodies and headers before a route runs, and
the HQL model (`hyperfed.adapters.hql.model`) bounds what a query may say. The README
("Input limits") has the same table for operators.
"""

from __future__ import annotations

__all__ = [
    "JSON_MEDIA_TYPES",
    "MAX_BODY_BYTES",
    "MAX_CODE_SET",
    "MAX_CRITERIA",
    "MAX_HEADERS_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_CHARS",
    "MAX_INT",
    "MAX_JSON_DEPTH",
    "MAX_NODE_BODY_BYTES",
    "MAX_SPARQL_BODY_BYTES",
    "MAX_STRING_CHARS",
    "MAX_VALUE",
]

MAX_BODY_BYTES = 2 * 1024 * 1024
"""a request body the hub reads (413 beyond; checked on Content-Length before reading,
and while reading a body without one)."""

MAX_NODE_BODY_BYTES = 8 * 1024 * 1024
"""a `POST /count` body a node reads: the query plus the bindings of its concepts."""

MAX_SPARQL_BODY_BYTES = 256 * 1024
"""a SPARQL query POSTed to the hub's `/ontology/sparql`."""

MAX_JSON_DEPTH = 64
"""nesting of JSON arrays and objects (an HQL `all` inside an `any` is two levels each)."""

MAX_STRING_CHARS = 4096
"""any JSON string, object keys included (HQL fields have tighter limits of their own)."""

MAX_INT = 2**53 - 1
"""the largest integer magnitude in a JSON body: the range JSON numbers keep exactly
(RFC 8259 section 6); a 5,000-digit integer is a 400 naming its path."""

MAX_VALUE = 1e15
"""the largest magnitude of a measurement or attribute bound in HQL (`value.min` ...):
finite, and far enough from the float range that unit conversion never overflows."""

MAX_CRITERIA = 10_000
"""event criteria in one query (`within.of` anchors included)."""

MAX_CODE_SET = 10_000
"""codes one query names, its own and its concepts' bindings together (a larger set is a
422 naming the path of the criterion that passes the limit)."""

MAX_HEADER_CHARS: dict[str, int] = {"prefer": 256, "authorization": 4096}
"""headers with a limit of their own (a bearer token of the hub's issuer is well under
1,000 characters; external providers' tokens under 4,096)."""

MAX_HEADER_BYTES = 8 * 1024
"""any one request header value (431 beyond)."""

MAX_HEADERS_BYTES = 32 * 1024
"""all request headers together (431 beyond)."""

JSON_MEDIA_TYPES = ("application/json",)
"""what a JSON route accepts as Content-Type (also any `application/*+json`); 415 else."""
