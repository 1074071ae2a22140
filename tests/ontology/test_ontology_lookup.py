"""Concept references: CURIEs, IRIs of both EUCAIM namespaces, codes, EUCAIM search keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hyperfed.adapters.hql.model import Code
from hyperfed.ontology import ConceptInfo, Ontology, OntologyError, UnknownConcept

HF = "https://w3id.org/hyperfed/ontology#"
EUCAIM = "https://cancerimage.eu/ontology/EUCAIM#"
ALT = "https://hyperontology.eucaim.cancerimage.eu/#"

# EUCAIM federated-search values and criterion keys (EUCAIM README) -> EUCAIM concept code
SEARCH_KEYS = {
    "SNOMEDCT248153007": "COM1001366",  # male
    "SNOMEDCT248152002": "COM1001370",  # female
    "SNOMEDCT74964007": "COM1001288",  # other
    "SNOMEDCT261665006": "COM1002760",  # unknown
    "SNOMEDCT363406005": "CLIN1000057",  # colon cancer
    "SNOMEDCT254837009": "CLIN1000060",  # breast cancer
    "SNOMEDCT363358000": "CLIN1000065",  # lung cancer
    "SNOMEDCT363484005": "CLIN1000087",  # pelvis cancer
    "SNOMEDCT399068003": "CLIN1000075",  # prostate cancer
    "RID10311": "IMG1000009",  # imaging modality
    "RID10312": "IMG1000038",  # MR
    "RID10337": "IMG1000062",  # PET
    "RID10334": "IMG1000061",  # SPECT
    "RID10321": "IMG1000042",  # CT
    "SNOMEDCT123037004": "BP1000024",  # body part
    "SNOMEDCT76752008": "BP1000136",  # breast
    "SNOMEDCT71854001": "BP1000257",  # colon
    "SNOMEDCT39607008": "BP1000113",  # lung
    "SNOMEDCT12921003": "BP1000092",  # pelvis
    "SNOMEDCT41216001": "BP1000021",  # prostate
    "C25392": "IMG1000010",  # manufacturer
    "C200140": "IMG1000044",  # Siemens Healthineers
    "birnlex_3066": "IMG1000044",  # Siemens
    "birnlex_12833": "IMG1000047",  # GE
    "birnlex_3065": "IMG1000046",  # Philips
    "birnlex_3067": "IMG1000045",  # Toshiba
}


@pytest.mark.parametrize("key", sorted(SEARCH_KEYS))
def test_eucaim_search_keys_resolve_to_the_eucaim_concept(onto: Ontology, key: str) -> None:
    info = onto.concept(key)
    assert EUCAIM + SEARCH_KEYS[key] in {info.iri, *info.exact_matches}
    assert key.lower() in {k.lower() for k in info.search_keys}


def test_search_keys_ignore_case(onto: Ontology) -> None:
    assert onto.expand("snomedct363358000") == onto.expand("SNOMEDCT363358000")
    assert onto.expand("rid10321") == EUCAIM + "IMG1000042"


@pytest.mark.parametrize(
    ("ref", "iri"),
    [
        ("hf:LungCancer", HF + "LungCancer"),
        ("HF:LungCancer", HF + "LungCancer"),
        ("hf:lungcancer", HF + "LungCancer"),
        (" hf:LungCancer ", HF + "LungCancer"),
        (f"<{HF}LungCancer>", HF + "LungCancer"),
        (HF + "LungCancer", HF + "LungCancer"),
        ("eucaim:CLIN1000065", EUCAIM + "CLIN1000065"),
        ("EUCAIM:clin1000065", EUCAIM + "CLIN1000065"),
        ("CLIN1000065", EUCAIM + "CLIN1000065"),
        ("clin1000065", EUCAIM + "CLIN1000065"),
        (EUCAIM + "CLIN1000065", EUCAIM + "CLIN1000065"),
        (ALT + "CLIN1000065", EUCAIM + "CLIN1000065"),
        (ALT + "BP1000113", EUCAIM + "BP1000113"),
        ("COM1001370", EUCAIM + "COM1001370"),
        ("http://snomed.info/sct|363358000", EUCAIM + "CLIN1000065"),
        ("snomed:44054006", HF + "Type2Diabetes"),
        ("loinc:718-7", EUCAIM + "CLIN1033419"),
        ("rxnorm:6809", HF + "Metformin"),
        ("icd10:C50", EUCAIM + "CLIN1000060"),
        ("dcm:CT", EUCAIM + "IMG1000042"),
        ("birnlex:birnlex_3066", EUCAIM + "IMG1000044"),
    ],
)
def test_expand(onto: Ontology, ref: str, iri: str) -> None:
    assert onto.expand(ref) == iri


def test_hf_names_keep_their_iri(onto: Ontology) -> None:
    # hf:Female is an exact match of eucaim:COM1001370 but stays an hf: IRI
    assert onto.expand("hf:Female") == HF + "Female"
    assert onto.concept("hf:Female").notation == "COM1001370"


def test_unknown_concept_suggests_close_curies(onto: Ontology) -> None:
    with pytest.raises(UnknownConcept) as caught:
        onto.expand("hf:LungCancr")
    err = caught.value
    assert err.ref == "hf:LungCancr"
    assert err.suggestions[0] == "hf:LungCancer"
    assert "hf:LungCancr" in str(err) and "hf:LungCancer" in str(err)
    assert isinstance(err, OntologyError) and isinstance(err, LookupError)


def test_unknown_code_suggests_eucaim_code(onto: Ontology) -> None:
    with pytest.raises(UnknownConcept) as caught:
        onto.concept("CLIN100065")
    assert caught.value.suggestions[0] == "eucaim:CLIN1000065"


def test_unknown_label_suggests_by_label(onto: Ontology) -> None:
    with pytest.raises(UnknownConcept) as caught:
        onto.resolve("hf:Hemoglobine", "omop")
    assert "hf:Hemoglobin" in caught.value.suggestions


@pytest.mark.parametrize(
    "ref",
    [
        "hf:NoSuchThing",
        "eucaim:CLIN9999999",
        "http://example.org/x",
        ALT + "NOPE",
        "SNOMEDCT1",
        "snomed:1",
        "nosystem:1",
        "",
        "hf:",
    ],
)
def test_unknown_references(onto: Ontology, ref: str) -> None:
    with pytest.raises(UnknownConcept):
        onto.expand(ref)


def test_no_suggestions_for_nonsense(onto: Ontology) -> None:
    with pytest.raises(UnknownConcept) as caught:
        onto.expand("qqqqzzzzxxxx")
    assert caught.value.suggestions == []
    assert "no similar concept" in str(caught.value)


def test_concept_info(onto: Ontology) -> None:
    info = onto.concept("hf:LungCancer")
    assert info.iri == HF + "LungCancer"
    assert info.curie == "hf:LungCancer"
    assert info.label == "Lung cancer"
    assert "Malignant tumor of lung" in info.alt_labels
    assert info.notation == "CLIN1000065"
    assert info.category == "condition"
    assert info.broader == (HF + "Cancer",)
    assert info.narrower == (HF + "NonSmallCellLungCancer",)
    assert info.exact_matches == (EUCAIM + "CLIN1000065",)
    assert info.external_codes == (Code(system="http://snomed.info/sct", code="363358000"),)
    assert info.search_keys == ("SNOMEDCT363358000",)
    assert set(info.bindings) == {"omop", "fhir", "sdtm", "dicom"}
    assert info.bindings["omop"] == onto.resolve("hf:LungCancer", "omop")


def test_concept_info_of_the_eucaim_side_has_eucaim_label(onto: Ontology) -> None:
    info = onto.concept("eucaim:CLIN1000065")
    assert info.label == "Malignant tumor of lung"
    assert info.curie == "eucaim:CLIN1000065"
    assert HF + "LungCancer" in info.exact_matches


def test_concept_info_is_json_serialisable(onto: Ontology) -> None:
    info = onto.concept("hf:Cancer")
    data = json.loads(info.model_dump_json())
    assert data["bindings"]["omop"]["kind"] == "codes"
    assert data["bindings"]["dicom"]["kind"] == "unexpressible"
    assert ConceptInfo.model_validate_json(info.model_dump_json()) == info


def test_categories(onto: Ontology) -> None:
    assert set(onto.categories) == {
        "demographic",
        "sex",
        "condition",
        "modality",
        "body_part",
        "manufacturer",
        "measurement",
        "drug",
        "procedure",
    }
    expected = {
        "hf:Person": "demographic",
        "hf:Female": "sex",
        "hf:Asthma": "condition",
        "hf:MR": "modality",
        "hf:Prostate": "body_part",
        "eucaim:IMG1000059": "manufacturer",
        "hf:BodyMassIndex": "measurement",
        "hf:Paclitaxel": "drug",
        "hf:Colonoscopy": "procedure",
    }
    for ref, category in expected.items():
        assert onto.concept(ref).category == category, ref


def test_concepts_lists_one_entry_per_class(onto: Ontology) -> None:
    manufacturers = onto.concepts("manufacturer")
    curies = [c.curie for c in manufacturers]
    # 16 manufacturers + the manufacturer concept; hf names stand for their EUCAIM concept
    assert len(curies) == 17
    assert "hf:Siemens" in curies and "eucaim:IMG1000044" not in curies
    assert "eucaim:IMG1000058" in curies


def test_alternative_namespace_in_an_extra_file(tmp_path: Path) -> None:
    extra = tmp_path / "alt.ttl"
    extra.write_text(
        "@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n"
        f"@prefix alt: <{ALT}> .\n"
        'alt:CLIN1000064 a skos:Concept ; skos:prefLabel "Neoplasm of lung"@en ;\n'
        '    skos:notation "CLIN1000064" ; skos:narrower alt:CLIN1000065 .\n',
        encoding="utf-8",
    )
    onto = Ontology.load([extra])
    assert onto.expand(ALT + "CLIN1000064") == EUCAIM + "CLIN1000064"
    assert onto.concept("hf:LungCancer").broader == (EUCAIM + "CLIN1000064", HF + "Cancer")
    assert HF + "LungCancer" in onto.concept("CLIN1000064").narrower
