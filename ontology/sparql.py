"""Read-only SPARQL over the ontology store, with JSON-serialisable results."""

from __future__ import annotations

import json
import re
from typing import Any

from pyoxigraph import (
    QueryBoolean,
    QueryResultsFormat,
    QuerySolutions,
    QueryTriples,
    RdfFormat,
    Store,
    serialize,
)

from hyperfed.ontology.errors import SparqlRejected
from hyperfed.ontology.vocab import PREFIXES

__all__ = ["SparqlResult", "is_update", "run_query"]

SparqlResult = dict[str, Any] | str
"""A SPARQL 1.1 JSON results document (SELECT, ASK) or a Turtle document (CONSTRUCT, DESCRIBE)."""

_UPDATE_KEYWORDS = frozenset(
    {"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"}
)
_IRI_REF = re.compile(r"<[^<>\"{}|^`\\\s]*>")
_STRING = re.compile(r"'''.*?'''|\"\"\".*?\"\"\"|'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"", re.S)
_COMMENT = re.compile(r"#[^\n]*")
_PROLOGUE = re.compile(r"\s*(?:BASE\s*<>|PREFIX\s+[^\s:]*:\s*<>)", re.I)
_FIRST_WORD = re.compile(r"\s*([A-Za-z]+)")


def is_update(text: str) -> bool:
    """True when `text` is a SPARQL 1.1 Update request (its first keyword after the
    prologue is INSERT, DELETE, LOAD, CLEAR, DROP, CREATE, ADD, MOVE, COPY or WITH)."""
    stripped = _STRING.sub('""', _IRI_REF.sub("<>", text))
    stripped = _COMMENT.sub(" ", stripped)
    position = 0
    while match := _PROLOGUE.match(stripped, position):
        position = match.end()
    first = _FIRST_WORD.match(stripped, position)
    return first is not None and first.group(1).upper() in _UPDATE_KEYWORDS


def run_query(store: Store, query: str) -> SparqlResult:
    """Run a SELECT / ASK / CONSTRUCT / DESCRIBE query; the hf:, eucaim:, skos:, rdf:,
    rdfs:, owl:, dcterms: and xsd: prefixes are predeclared."""
    if is_update(query):
        raise SparqlRejected(
            "SPARQL UPDATE is not allowed: the hyperontology is read-only "
            "(send a SELECT, ASK, CONSTRUCT or DESCRIBE query)"
        )
    try:
        result = store.query(query, prefixes=PREFIXES)
        if isinstance(result, QueryBoolean | QuerySolutions):
            payload = result.serialize(format=QueryResultsFormat.JSON)
            assert payload is not None
            document: dict[str, Any] = json.loads(payload)
            return document
        if isinstance(result, QueryTriples):
            turtle = serialize(result, format=RdfFormat.TURTLE, prefixes=PREFIXES)
            assert turtle is not None
            return turtle.decode("utf-8")
    except SyntaxError as exc:
        raise SparqlRejected(f"invalid SPARQL query: {exc}") from exc
    raise SparqlRejected(f"unsupported SPARQL result type {type(result).__name__}")
