"""Load-time validation: broken data is refused with a message naming the culprit."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperfed.adapters.hql.bindings import CodesBinding, Unexpressible
from hyperfed.adapters.hql.model import Code
from hyperfed.ontology import Ontology, OntologyError, OntologyInvalid

PREFIXES = """\
@prefix hf: <https://w3id.org/hyperfed/ontology#> .
@prefix eucaim: <https://cancerimage.eu/ontology/EUCAIM#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
"""


def load_extra(tmp_path: Path, turtle: str, name: str = "extra.ttl") -> Ontology:
    path = tmp_path / name
    path.write_text(PREFIXES + turtle, encoding="utf-8")
    return Ontology.load([path])


@pytest.mark.parametrize(
    ("turtle", "fragments"),
    [
        pytest.param(
            'hf:Asthma hf:binding [ hf:model "omop" ; hf:dicomKeyword "Modality" ;'
            ' hf:dicomValue "CT" ] .',
            ["mixed kinds", "hf:Asthma", "'omop'"],
            id="mixed-kinds-one-concept",
        ),
        pytest.param(
            'eucaim:CLIN1000065 hf:binding [ hf:model "dicom" ; hf:dicomKeyword "Modality" ;'
            ' hf:dicomValue "CT" ] .\n'
            'hf:LungCancer hf:binding [ hf:model "dicom" ; hf:dicomKeyword "BodyPartExamined" ;'
            ' hf:dicomValue "LUNG" ] .',
            ["mixed kinds", "hf:LungCancer", "Modality", "BodyPartExamined"],
            id="mixed-kinds-across-exact-matches",
        ),
        pytest.param(
            'hf:Weird a skos:Concept ; skos:prefLabel "Weird"@en ; skos:broader hf:Lung ;\n'
            '  hf:binding [ hf:model "dicom" ; hf:dicomKeyword "Modality" ; hf:dicomValue "CT" ] .',
            ["hf:Weird", "hf:Lung", "BodyPartExamined"],
            id="mixed-kinds-across-hierarchy",
        ),
        pytest.param(
            'hf:Asthma skos:prefLabel "Asthma bronchiale"@en .',
            ["hf:Asthma", "2 skos:prefLabel", "Asthma bronchiale"],
            id="two-preflabels",
        ),
        pytest.param(
            "hf:Asthma hf:externalCode [ hf:system <http://snomed.info/sct> ;"
            ' hf:code "363358000" ] .',
            ["363358000", "hf:Asthma", "two different concepts"],
            id="code-names-two-concepts",
        ),
        pytest.param(
            'hf:Asthma skos:notation "CLIN1000065" .',
            ["clin1000065", "hf:Asthma", "two different concepts"],
            id="notation-names-two-concepts",
        ),
        pytest.param(
            "hf:Cancer skos:broader hf:NonSmallCellLungCancer .",
            ["cycle", "hf:Cancer", "hf:NonSmallCellLungCancer"],
            id="hierarchy-cycle",
        ),
        pytest.param(
            "hf:Female skos:broader eucaim:COM1001370 .",
            ["exact match", "narrower"],
            id="broader-than-itself",
        ),
        pytest.param(
            "hf:Asthma skos:inScheme hf:DrugCategory .",
            ["hf:Asthma", "condition", "drug"],
            id="two-categories",
        ),
        pytest.param(
            'hf:Asthma hf:binding [ hf:model "openehr" ; hf:sex "female" ] .',
            ["'openehr'", "omop, fhir, sdtm, dicom"],
            id="unknown-model",
        ),
        pytest.param(
            'hf:Asthma hf:binding [ hf:sex "female" ] .',
            ["hf:Asthma", "no hf:model"],
            id="no-model",
        ),
        pytest.param(
            'hf:Asthma hf:binding [ hf:model "fhir" ; hf:system <urn:example:nope> ;'
            ' hf:code "1" ] .',
            ["hf:Asthma", "urn:example:nope"],
            id="unknown-code-system",
        ),
        pytest.param(
            'hf:Asthma hf:binding [ hf:model "fhir" ; hf:system <http://SNOMED.info/sct/> ;'
            ' hf:code "1" ] .',
            ["not canonical", "http://snomed.info/sct"],
            id="non-canonical-code-system",
        ),
        pytest.param(
            'hf:Asthma hf:binding [ hf:model "sdtm" ; hf:sex "woman" ] .',
            ["'woman'"],
            id="bad-sex",
        ),
        pytest.param(
            'hf:Asthma hf:binding [ hf:model "dicom" ; hf:dicomValue "CT" ] .',
            ["hf:dicomKeyword", "exactly one"],
            id="dicom-without-keyword",
        ),
        pytest.param(
            'hf:Asthma hf:binding [ hf:model "sdtm" ; hf:sex "male" ; hf:everyone true ] .',
            ["exactly one of", "everyone", "sex"],
            id="two-kinds-in-one-node",
        ),
        pytest.param(
            "<https://w3id.org/hyperfed/ontology>"
            ' <http://www.w3.org/2002/07/owl#versionInfo> "2" .',
            ["owl:versionInfo"],
            id="two-versions",
        ),
    ],
)
def test_invalid_data_is_refused(tmp_path: Path, turtle: str, fragments: list[str]) -> None:
    with pytest.raises(OntologyInvalid) as caught:
        load_extra(tmp_path, turtle)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    assert isinstance(caught.value, OntologyError)


def test_unparsable_file(tmp_path: Path) -> None:
    with pytest.raises(OntologyInvalid) as caught:
        load_extra(tmp_path, "this is not turtle", name="broken.ttl")
    assert "broken.ttl" in str(caught.value)


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    odd = tmp_path / "data.xyz"
    odd.write_text("", encoding="utf-8")
    with pytest.raises(OntologyInvalid, match="RDF format"):
        Ontology.load([odd])
    with pytest.raises(OntologyInvalid, match="cannot read"):
        Ontology.load([tmp_path / "missing.ttl"])


def test_extra_bindings_extend_the_ontology(tmp_path: Path) -> None:
    onto = load_extra(
        tmp_path,
        'hf:SmallCellLungCancer a skos:Concept ; skos:prefLabel "Small cell lung cancer"@en ;\n'
        "  skos:broader hf:LungCancer ;\n"
        '  hf:binding [ hf:model "omop", "fhir" ; hf:system <http://snomed.info/sct> ;'
        ' hf:code "254632001" ] ,\n'
        '    [ hf:model "dicom" ; hf:unexpressible "not an imaging finding" ] .\n',
    )
    assert onto.resolve("hf:SmallCellLungCancer", "fhir") == CodesBinding(
        codes=[Code(system="http://snomed.info/sct", code="254632001")]
    )
    lung = onto.resolve("hf:LungCancer", "omop")
    assert isinstance(lung, CodesBinding)
    assert {c.code for c in lung.codes} == {"363358000", "254637007", "254632001"}
    dicom = onto.resolve("hf:SmallCellLungCancer", "dicom")
    assert isinstance(dicom, Unexpressible)
    assert "not an imaging finding" in dicom.reason
    assert "hf:SmallCellLungCancer" in dicom.reason
