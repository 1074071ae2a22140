"""Conformance with EUCAIM's concept list (shared/reference/eucaim) and the CSV import."""

from __future__ import annotations

import csv
from importlib.resources import files
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, SKOS

from hyperfed.adapters.hql.bindings import CodesBinding, Unexpressible
from hyperfed.ontology import Ontology, OntologyInvalid, eucaim_csv_to_turtle

EUCAIM = "https://cancerimage.eu/ontology/EUCAIM#"
ALT = "https://hyperontology.eucaim.cancerimage.eu/#"

# facts about EUCAIM's CSV, counted when the import was written (README: 4,068 concepts;
# 77 rows carry anonymous OWL node ids instead of IRIs)
CSV_ROWS = 4068
ANONYMOUS_ROWS = 77


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def rows(eucaim_csv: Path) -> list[dict[str, str]]:
    return read_rows(eucaim_csv)


@pytest.fixture(scope="module")
def imported(eucaim_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("eucaim") / "eucaim.ttl"
    path.write_text(eucaim_csv_to_turtle(eucaim_csv), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def full(imported: Path) -> Ontology:
    return Ontology.load([imported])


def test_csv_is_the_expected_release(rows: list[dict[str, str]]) -> None:
    assert len(rows) == CSV_ROWS
    anonymous = [r for r in rows if not r["iri"].startswith(EUCAIM)]
    assert len(anonymous) == ANONYMOUS_ROWS


def test_every_packaged_eucaim_concept_matches_the_csv(rows: list[dict[str, str]]) -> None:
    by_iri = {r["iri"]: r for r in rows}
    graph = Graph()
    graph.parse(data=files("hyperfed.ontology").joinpath("data", "hyperfed.ttl").read_text("utf-8"))
    packaged = [c for c in graph.subjects(RDF.type, SKOS.Concept) if str(c).startswith(EUCAIM)]
    assert len(packaged) >= 40
    for concept in packaged:
        row = by_iri.get(str(concept))
        assert row is not None, f"{concept} is not in EUCAIM's concept list"
        assert row["code"] == str(concept)[len(EUCAIM) :]
        assert graph.value(concept, SKOS.prefLabel) == Literal(row["label"], lang="en")
        assert str(graph.value(concept, SKOS.notation)) == row["code"]


def test_import_parses_with_rdflib(imported: Path) -> None:
    graph = Graph()
    graph.parse(imported, format="turtle")
    concepts = set(graph.subjects(RDF.type, SKOS.Concept))
    assert len(concepts) == CSV_ROWS - ANONYMOUS_ROWS
    assert (
        URIRef(EUCAIM + "CLIN1000064"),
        SKOS.prefLabel,
        Literal("Neoplasm of lung", lang="en"),
    ) in graph
    # labels with quotes survive the escaping
    assert Literal('"+"', lang="en") in set(graph.objects(None, SKOS.prefLabel))


def test_full_import_loads_with_the_packaged_ontology(
    full: Ontology, onto: Ontology, rows: list[dict[str, str]]
) -> None:
    eucaim_rows = [r for r in rows if r["iri"].startswith(EUCAIM)]
    assert full.concept_count >= len(eucaim_rows) + 40  # + hf: names
    assert full.concept_count > onto.concept_count
    for row in eucaim_rows:
        info = full.concept(row["code"])
        assert info.iri == row["iri"]
        assert info.label == row["label"]
    # no concept has two English prefLabels in the merged graph
    result = full.sparql(
        "SELECT ?c WHERE { ?c skos:prefLabel ?a, ?b . "
        "FILTER(?a != ?b && lang(?a) = lang(?b)) } LIMIT 5"
    )
    assert isinstance(result, dict)
    assert result["results"]["bindings"] == []


def test_imported_concepts_are_searchable_and_categorised(full: Ontology) -> None:
    hit = full.search("Neoplasm of lung")[0]
    assert hit.curie == "eucaim:CLIN1000064"
    assert hit.category == "condition"
    assert full.concept("eucaim:CLIN1000227").label == "Prostate specific antigen measurement"
    assert full.concept("eucaim:CLIN1000227").category == "measurement"
    assert full.concept("eucaim:COM1000176").category == "sex"  # domain Gender
    assert full.concept("eucaim:BP1000001").category == "body_part"
    assert full.concept("eucaim:IMG1000040").category == "procedure"
    assert full.concept("eucaim:IMG1000083").category is None  # no domain
    assert full.concept("TumorGrade").label == "Tumor grade"
    assert full.search("tumor grade")[0].curie == "eucaim:TumorGrade"


def test_imported_concepts_without_bindings_are_unexpressible(full: Ontology) -> None:
    got = full.resolve("eucaim:CLIN1000064", "omop")
    assert isinstance(got, Unexpressible)
    assert "eucaim:CLIN1000064" in got.reason and "omop" in got.reason


def test_import_keeps_the_curated_bindings(full: Ontology, onto: Ontology) -> None:
    for ref in ("hf:LungCancer", "hf:Cancer", "hf:CT", "eucaim:IMG1000044", "hf:Female"):
        for model in ("omop", "fhir", "sdtm", "dicom"):
            a, b = full.resolve(ref, model), onto.resolve(ref, model)
            assert type(a) is type(b)
            if not isinstance(a, Unexpressible):
                assert a == b
    lung = full.resolve("eucaim:CLIN1000065", "omop")
    assert isinstance(lung, CodesBinding)
    assert {c.code for c in lung.codes} == {"363358000", "254637007"}


# -- the converter on small hand-written files ----------------------------------------------


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    header = ["code", "iri", "label", "concept_class", "parent_or_note", "vocabulary", "kind"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*header, "standard"])
        writer.writerows(rows)
    return path


def test_converter_maps_namespaces_escapes_and_skips(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "c.csv",
        [
            [
                "CLIN9000001",
                ALT + "CLIN9000001",
                'A "quoted" \\ label',
                "Condition",
                "None",
                "EUCAIM",
                "Class",
                "S",
            ],
            ["N0abc", "N0abc", "N0abc", "---", "None", "EUCAIM", "Class", "S"],
            [
                "BP9000001",
                EUCAIM + "BP9000001",
                "Some body part",
                "---",
                "None",
                "EUCAIM",
                "Class",
                "S",
            ],
        ],
    )
    turtle = eucaim_csv_to_turtle(path)
    assert "1 rows without a EUCAIM IRI" in turtle
    graph = Graph()
    graph.parse(data=turtle, format="turtle")
    concept = URIRef(EUCAIM + "CLIN9000001")
    assert graph.value(concept, SKOS.prefLabel) == Literal('A "quoted" \\ label', lang="en")
    assert len(set(graph.subjects(RDF.type, SKOS.Concept))) == 2
    extra = tmp_path / "c.ttl"
    extra.write_text(turtle, encoding="utf-8")
    loaded = Ontology.load([extra])
    assert loaded.concept("CLIN9000001").category == "condition"
    assert loaded.concept("BP9000001").category == "body_part"


def test_converter_rejects_bad_files(tmp_path: Path) -> None:
    missing_column = tmp_path / "bad.csv"
    missing_column.write_text("code,iri,label\nX,Y,Z\n", encoding="utf-8")
    with pytest.raises(OntologyInvalid, match="missing column"):
        eucaim_csv_to_turtle(missing_column)
    mismatch = write_csv(
        tmp_path / "mismatch.csv",
        [["CLIN1", EUCAIM + "CLIN2", "x", "---", "None", "EUCAIM", "Class", "S"]],
    )
    with pytest.raises(OntologyInvalid, match="does not match"):
        eucaim_csv_to_turtle(mismatch)
