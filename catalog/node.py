"""The node's side: read the ``[[datasets]]`` entries of a node config and make the
`NodePublication` the hub fetches (descriptions plus protected facts). Pure, apart from
reading the operator's RDF files.

    entries = dataset_descriptions(config_dict["datasets"], base_dir, "site-a.toml")
    pub = node_publication(node_info, entries, {"site-a-omop": exact_facts}, policy, secret)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hyperfed.adapters.disclosure import Policy
from hyperfed.adapters.facts import ExactFacts, protect_facts
from hyperfed.catalog.errors import DescriptionInvalid, Problem
from hyperfed.catalog.model import (
    DatasetDescription,
    DatasetEntry,
    DatasetRdf,
    NodeInfo,
    NodePublication,
)

__all__ = ["dataset_descriptions", "node_publication"]

_FORMAT_BY_SUFFIX = {
    ".ttl": "turtle",
    ".rdf": "rdfxml",
    ".xml": "rdfxml",
    ".jsonld": "jsonld",
    ".json": "jsonld",
    ".nt": "ntriples",
}


def dataset_descriptions(
    entries: Sequence[Mapping[str, Any]], base_dir: Path, source: str
) -> list[DatasetDescription | DatasetRdf]:
    """Validate a config's ``[[datasets]]`` tables; ``rdf_file`` (relative to the config)
    is read into ``rdf``. Errors name the file, the entry and the field."""
    out: list[DatasetDescription | DatasetRdf] = []
    problems: list[Problem] = []
    for i, raw in enumerate(entries):
        entry = dict(raw)
        where = f"{source}: datasets[{i}]"
        if "rdf_file" in entry:
            path = base_dir / str(entry.pop("rdf_file"))
            try:
                entry["rdf"] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(Problem(where, "rdf_file", f"cannot read {path}: {exc}"))
                continue
            entry.setdefault("format", _FORMAT_BY_SUFFIX.get(path.suffix.lower(), "turtle"))
        kind = DatasetRdf if "rdf" in entry else DatasetDescription
        try:
            out.append(kind.model_validate(entry))
        except ValidationError as exc:
            for e in exc.errors():
                field = ".".join(str(x) for x in e["loc"])
                problems.append(Problem(where, field, e["msg"]))
    ids = [d.id for d in out]
    for twice in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(Problem(f"{source}: datasets", "id", f"{twice!r} is used more than once"))
    if problems:
        first = problems[0]
        raise DescriptionInvalid(f"{first.focus}.{first.path}: {first.message}", problems)
    return out


def node_publication(
    node: NodeInfo,
    descriptions: Sequence[DatasetDescription | DatasetRdf],
    facts: Mapping[str, ExactFacts],
    policy: Policy,
    secret: bytes,
    *,
    age_band: int = 5,
) -> NodePublication:
    """What the node serves to the hub: every description with its facts protected under
    the node's own policy (exact facts never leave this function)."""
    entries = []
    for d in descriptions:
        exact = facts.get(d.id)
        protected = protect_facts(exact, policy, secret, d.id, age_band=age_band) if exact else None
        entries.append(DatasetEntry(description=d, facts=protected))
    return NodePublication(node=node, datasets=entries)
