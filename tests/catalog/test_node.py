"""The node's side: [[datasets]] entries from a config, and the publication it serves."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from hyperfed.adapters.disclosure import Policy
from hyperfed.catalog import DatasetRdf, DescriptionInvalid, NodeInfo, NodePublication
from hyperfed.catalog.node import dataset_descriptions, node_publication
from tests.catalog.samples import RDF_DATASET, SECRET, exact

CONFIG = """
[[datasets]]
id = "site-a-omop"
title = "Site A oncology cohort (OMOP CDM 5.4)"
description = "Patients treated for cancer at Site A since 2010."
visibility = "public"
licence = "CC-BY-4.0"
doi = "https://doi.org/10.5072/site-a"
health_categories = ["EHRS"]
publisher = { name = "Site A University Hospital", url = "https://site-a.example" }
contact = { name = "Data office", email = "data@site-a.example" }

[[datasets]]
id = "site-a-registry"
visibility = "protected"
rdf_file = "registry.ttl"

[[datasets]]
id = "site-a-custom"
title = "Custom licence"
description = "A dataset under the hub's own terms."
licence = { title = "Use within the hub, attribution required", url = "https://hub.example/terms" }
"""


def test_entries_from_a_config(tmp_path: Path) -> None:
    (tmp_path / "registry.ttl").write_text(RDF_DATASET)
    entries = dataset_descriptions(tomllib.loads(CONFIG)["datasets"], tmp_path, "site-a.toml")
    assert [e.id for e in entries] == ["site-a-omop", "site-a-registry", "site-a-custom"]
    rdf = entries[1]
    assert isinstance(rdf, DatasetRdf) and rdf.format == "turtle" and rdf.visibility == "protected"
    assert entries[0].doi == "10.5072/site-a"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("toml", "where"),
    [
        ('[[datasets]]\nid = "a"\ndescription = "d"\n', "datasets[0] title"),
        ('[[datasets]]\nid = "a"\ntitle = "t"\ndescription = "d"\ndoi = "12.3/x"\n', "doi"),
        ('[[datasets]]\nid = "a"\ntitle = "t"\ndescription = "d"\nlicence = "GPL"\n', "licence"),
        ('[[datasets]]\nid = "a"\nrdf_file = "missing.ttl"\n', "rdf_file"),
        (
            '[[datasets]]\nid = "a"\ntitle = "t"\ndescription = "d"\nvisibility = "secret"\n',
            "visibility",
        ),
    ],
)
def test_bad_entries_name_file_entry_and_field(tmp_path: Path, toml: str, where: str) -> None:
    with pytest.raises(DescriptionInvalid) as caught:
        dataset_descriptions(tomllib.loads(toml)["datasets"], tmp_path, "node.toml")
    problem = caught.value.problems[0]
    assert problem.focus.startswith("node.toml: datasets[0]")
    assert where.split()[-1] in problem.path
    assert str(caught.value).startswith("node.toml: datasets[0]")


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    one = {"id": "a", "title": "t", "description": "d"}
    with pytest.raises(DescriptionInvalid, match="more than once"):
        dataset_descriptions([one, one], tmp_path, "node.toml")


def test_publication_carries_only_protected_facts(tmp_path: Path) -> None:
    entries = dataset_descriptions(tomllib.loads(CONFIG)["datasets"][::2], tmp_path, "n.toml")
    facts = {"site-a-omop": exact(1)}
    pub = node_publication(
        NodeInfo(id="site-a", title="Site A"), entries, facts, Policy(epsilon=None), SECRET
    )
    wire = pub.model_dump_json()
    assert NodePublication.model_validate_json(wire) == pub
    assert pub.datasets[0].facts is not None and pub.datasets[1].facts is None
    persons = pub.datasets[0].facts.number_of_unique_individuals
    assert persons is not None and persons.count == 440  # 437 rounded to 10
    assert '"count":437' not in wire and "437" not in wire
