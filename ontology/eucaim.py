"""Import of EUCAIM's full concept list (CSV) as Turtle, for `Ontology.load(extra_files=...)`.

EUCAIM's concept CSV has the columns ``code,iri,label,concept_class,parent_or_note,
vocabulary,kind,standard``. Each row with a EUCAIM IRI becomes a ``skos:Concept`` in the
eucaim: namespace with its label (``skos:prefLabel``, English), code (``skos:notation``),
domain (``hf:eucaimDomain``) and, where the domain says so, a category. Rows whose "IRI"
is an anonymous-node id (``N3f...``) are not concepts and are skipped. Imported concepts
carry no bindings, so they resolve to `Unexpressible` until someone binds them.

The triples are the ones ``hyperfed.ttl`` states for the EUCAIM concepts it covers
(same label, notation and category), so both load together without conflicts.

Command line: ``python -m ontology.eucaim eucaim_hyperontology_concepts.csv > eucaim.ttl``.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

from hyperfed.ontology.errors import OntologyInvalid
from hyperfed.ontology.vocab import ALT_EUCAIM, EUCAIM, normalise_iri

__all__ = ["CATEGORY_OF_DOMAIN", "EUCAIM_COLUMNS", "eucaim_csv_to_turtle", "main"]

EUCAIM_COLUMNS = (
    "code",
    "iri",
    "label",
    "concept_class",
    "parent_or_note",
    "vocabulary",
    "kind",
    "standard",
)

CATEGORY_OF_DOMAIN = {
    "Condition": "ConditionCategory",
    "Measurement": "MeasurementCategory",
    "Procedure": "ProcedureCategory",
    "Drug": "DrugCategory",
    "Spec Anatomic Site": "BodyPartCategory",
    "Gender": "SexCategory",
}
"""EUCAIM domain (concept_class) -> hf: category scheme. Other domains (Observation,
Meas Value, Unit ...) mix kinds of concepts and get no category; rows without a domain
("---") whose code starts with BP (body parts) go to the body-part category."""

_LOCAL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _literal(text: str) -> str:
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in text) + '"'


def _subject(iri: str) -> str:
    local = iri[len(EUCAIM) :]
    return f"eucaim:{local}" if _LOCAL_NAME.match(local) else f"<{iri}>"


def _category(code: str, domain: str) -> str | None:
    if domain in CATEGORY_OF_DOMAIN:
        return CATEGORY_OF_DOMAIN[domain]
    if domain in ("", "---") and code.startswith("BP"):
        return "BodyPartCategory"
    return None


def eucaim_csv_to_turtle(csv_path: Path) -> str:
    """Turtle for every EUCAIM concept in EUCAIM's concept CSV (see the module docstring).

    Raises `OntologyInvalid` when the CSV lacks a column or a row is inconsistent."""
    with Path(csv_path).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in EUCAIM_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise OntologyInvalid(f"{csv_path}: missing column(s) {', '.join(missing)}")
        rows = list(reader)
    blocks: list[str] = []
    skipped = 0
    seen: set[str] = set()
    for line, row in enumerate(rows, start=2):
        code, label = row["code"].strip(), row["label"]
        iri = row["iri"].strip()
        if not iri.startswith((EUCAIM, ALT_EUCAIM)):
            skipped += 1
            continue
        iri = normalise_iri(iri)
        if iri[len(EUCAIM) :] != code:
            raise OntologyInvalid(f"{csv_path}:{line}: code {code!r} does not match IRI <{iri}>")
        if iri in seen:
            raise OntologyInvalid(f"{csv_path}:{line}: concept {code} appears twice")
        seen.add(iri)
        domain = row["concept_class"].strip()
        statements = [
            "a skos:Concept",
            f"skos:prefLabel {_literal(label)}@en",
            f"skos:notation {_literal(code)}",
        ]
        if domain and domain != "---":
            statements.append(f"hf:eucaimDomain {_literal(domain)}")
        category = _category(code, domain)
        if category is not None:
            statements.append(f"skos:inScheme hf:{category}")
        blocks.append(f"{_subject(iri)} " + " ;\n    ".join(statements) + " .\n")
    header = (
        "# EUCAIM hyperontology v2.0 concepts (CC BY 4.0, Zenodo 10.5281/zenodo.10777925),\n"
        f"# converted from {Path(csv_path).name} by ontology.eucaim: {len(blocks)} concepts,\n"
        f"# {skipped} rows without a EUCAIM IRI (anonymous OWL nodes) skipped.\n\n"
        "@prefix hf: <https://w3id.org/hyperfed/ontology#> .\n"
        f"@prefix eucaim: <{EUCAIM}> .\n"
        "@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n\n"
    )
    return header + "\n".join(blocks)


def main(argv: list[str] | None = None) -> int:
    """Print the Turtle for the CSV named on the command line."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ontology.eucaim EUCAIM_CONCEPTS.csv > eucaim.ttl", file=sys.stderr)
        return 2
    sys.stdout.write(eucaim_csv_to_turtle(Path(args[0])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
