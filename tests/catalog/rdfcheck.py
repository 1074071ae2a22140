"""rdflib parsing for the tests, in every format the catalogue serves."""

from __future__ import annotations

import warnings

from rdflib import Graph

RDFLIB_FORMATS = {
    "text/turtle": "turtle",
    "application/ld+json": "json-ld",
    "application/rdf+xml": "xml",
    "application/n-triples": "nt",
}


def parse_rdf(data: bytes | str, media_type: str) -> Graph:
    """Parse with rdflib. Its JSON-LD parser uses its own deprecated ConjunctiveGraph
    internally (rdflib 7.x); only that warning is silenced, and only here."""
    fmt = RDFLIB_FORMATS[media_type.split(";")[0].strip()]
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=r".*(ConjunctiveGraph is deprecated|default_context is deprecated).*",
            category=DeprecationWarning,
        )
        return Graph().parse(data=data, format=fmt)
