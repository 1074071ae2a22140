"""The packaged Turtle (checked with rdflib, a second parser), SPARQL and Turtle export."""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from importlib.resources import files
from pathlib import Path

import pyoxigraph
import pytest
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, OWL, RDF, SKOS

from hyperfed.ontology import Ontology, SparqlRejected

HF = Namespace("https://w3id.org/hyperfed/ontology#")
EUCAIM = "https://cancerimage.eu/ontology/EUCAIM#"
ONTOLOGY_IRI = URIRef("https://w3id.org/hyperfed/ontology")
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def packaged_bytes() -> bytes:
    return files("hyperfed.ontology").joinpath("data", "hyperfed.ttl").read_bytes()


@pytest.fixture(scope="module")
def graph(packaged_bytes: bytes) -> Graph:
    g = Graph()
    g.parse(data=packaged_bytes.decode("utf-8"), format="turtle")
    return g


def test_packaged_turtle_is_package_data() -> None:
    resource = files("hyperfed.ontology").joinpath("data", "hyperfed.ttl")
    assert resource.is_file()
    assert (REPO_ROOT / "ontology" / "data" / "hyperfed.ttl").is_file()


def test_wheel_contains_the_turtle(tmp_path: Path) -> None:
    from hatchling.builders.wheel import WheelBuilder

    built = WheelBuilder(str(REPO_ROOT)).build(directory=str(tmp_path), versions=["standard"])
    names = zipfile.ZipFile(next(iter(built))).namelist()
    assert "hyperfed/ontology/data/hyperfed.ttl" in names


def test_both_parsers_agree(graph: Graph, packaged_bytes: bytes) -> None:
    oxigraph_triples = list(pyoxigraph.parse(packaged_bytes, format=pyoxigraph.RdfFormat.TURTLE))
    assert len(graph) == len(oxigraph_triples)
    assert len(graph) > 500


def test_header(graph: Graph) -> None:
    assert (ONTOLOGY_IRI, RDF.type, OWL.Ontology) in graph
    assert graph.value(ONTOLOGY_IRI, OWL.versionInfo) == Literal("1.0.0")
    assert graph.value(ONTOLOGY_IRI, DCTERMS.source) == URIRef(
        "https://doi.org/10.5281/zenodo.10777925"
    )
    rights = str(graph.value(ONTOLOGY_IRI, DCTERMS.rights))
    assert "CC BY 4.0" in rights and "10.5281/zenodo.10777925" in rights and "v2.0" in rights
    assert graph.value(ONTOLOGY_IRI, DCTERMS.title) is not None
    assert graph.value(ONTOLOGY_IRI, DCTERMS.license) is not None


def test_version(onto: Ontology) -> None:
    assert onto.version == "1.0.0"


def test_one_pref_label_per_language_and_concept(graph: Graph) -> None:
    concepts = set(graph.subjects(RDF.type, SKOS.Concept))
    assert len(concepts) > 100
    for concept in concepts:
        languages = Counter(
            label.language
            for label in graph.objects(concept, SKOS.prefLabel)
            if isinstance(label, Literal)
        )
        assert languages, f"{concept} has no skos:prefLabel"
        assert max(languages.values()) == 1, f"{concept} has duplicate prefLabels"


def test_eucaim_concepts_are_first_class(graph: Graph) -> None:
    eucaim = [c for c in graph.subjects(RDF.type, SKOS.Concept) if str(c).startswith(EUCAIM)]
    assert len(eucaim) >= 40
    for concept in eucaim:
        notations = [str(n) for n in graph.objects(concept, SKOS.notation)]
        assert notations == [str(concept)[len(EUCAIM) :]]


def test_hf_names_map_onto_eucaim_concepts_not_beside_them(graph: Graph) -> None:
    for hf_name, target in graph.subject_objects(SKOS.exactMatch):
        if not str(hf_name).startswith(str(HF)) or not str(target).startswith(EUCAIM):
            continue
        assert (target, RDF.type, SKOS.Concept) in graph, f"{target} is not defined"
        # bindings, codes and hierarchy live on the EUCAIM concept
        assert (hf_name, HF.binding, None) not in graph, hf_name
        assert (hf_name, HF.externalCode, None) not in graph, hf_name
        assert (hf_name, SKOS.broader, None) not in graph, hf_name


def test_binding_nodes_name_known_models(graph: Graph) -> None:
    nodes = list(graph.objects(None, HF.binding))
    assert len(nodes) > 60
    for node in nodes:
        models = {str(m) for m in graph.objects(node, HF.model)}
        assert models and models <= {"omop", "fhir", "sdtm", "dicom"}


def test_to_turtle_round_trips(onto: Ontology, graph: Graph) -> None:
    exported = Graph()
    exported.parse(data=onto.to_turtle(), format="turtle")
    assert isomorphic(exported, graph)


def test_sparql_select(onto: Ontology) -> None:
    result = onto.sparql("SELECT ?label WHERE { eucaim:CLIN1000065 skos:prefLabel ?label }")
    assert isinstance(result, dict)
    json.dumps(result)
    assert result["head"]["vars"] == ["label"]
    assert result["results"]["bindings"] == [
        {"label": {"type": "literal", "value": "Malignant tumor of lung", "xml:lang": "en"}}
    ]


def test_sparql_select_counts_manufacturers(onto: Ontology) -> None:
    result = onto.sparql(
        """PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
        SELECT (COUNT(?c) AS ?n) WHERE {
          ?c a skos:Concept ; skos:inScheme hf:ManufacturerCategory ; skos:notation ?code .
        }"""
    )
    assert isinstance(result, dict)
    # IMG1000010 manufacturer + IMG1000044 .. IMG1000059 (EUCAIM README)
    assert result["results"]["bindings"][0]["n"]["value"] == "17"


def test_sparql_ask(onto: Ontology) -> None:
    assert onto.sparql("ASK { hf:LungCancer skos:exactMatch eucaim:CLIN1000065 }") == {
        "head": {},
        "boolean": True,
    }
    assert onto.sparql("ASK { hf:LungCancer skos:exactMatch eucaim:CLIN1000060 }") == {
        "head": {},
        "boolean": False,
    }


def test_sparql_construct_returns_turtle(onto: Ontology) -> None:
    result = onto.sparql(
        "CONSTRUCT { ?c skos:prefLabel ?l } WHERE { ?c skos:broader eucaim:CLIN1007977 ; "
        "skos:prefLabel ?l }"
    )
    assert isinstance(result, str)
    g = Graph()
    g.parse(data=result, format="turtle")
    assert (
        URIRef(EUCAIM + "CLIN1000060"),
        SKOS.prefLabel,
        Literal("Malignant neoplasm of breast", lang="en"),
    ) in g
    assert len(g) == 5  # colon, breast, lung, prostate, pelvis


@pytest.mark.parametrize(
    "update",
    [
        "INSERT DATA { hf:X a skos:Concept }",
        "# a comment\nPREFIX ex: <http://example.org/#>\nDELETE WHERE { ?s ?p ?o }",
        "prefix ex: <http://example.org/> delete { ?s ?p ?o } where { ?s ?p ?o }",
        "BASE <http://example.org/> CLEAR DEFAULT",
        "DROP ALL",
        "LOAD <http://example.org/data.ttl>",
        "WITH <http://example.org/g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
    ],
)
def test_sparql_update_is_rejected(onto: Ontology, update: str) -> None:
    with pytest.raises(SparqlRejected) as caught:
        onto.sparql(update)
    assert "UPDATE" in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert onto.sparql("ASK { hf:LungCancer a skos:Concept }") == {"head": {}, "boolean": True}


def test_sparql_keywords_inside_strings_and_iris_are_not_updates(onto: Ontology) -> None:
    result = onto.sparql(
        'PREFIX x: <http://example.org/INSERT#> SELECT ?c WHERE { ?c skos:prefLabel "DELETE" }'
    )
    assert isinstance(result, dict)
    assert result["results"]["bindings"] == []


def test_sparql_syntax_error(onto: Ontology) -> None:
    with pytest.raises(SparqlRejected) as caught:
        onto.sparql("SELECT WHERE {")
    assert "invalid SPARQL" in str(caught.value)
