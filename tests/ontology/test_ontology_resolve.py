"""Resolution of concepts to bindings, per data model.

Expected values are written down from the EUCAIM README (search vocabulary), SNOMED CT /
LOINC / RxNorm codes of the demo data, DICOM's Modality / BodyPartExamined / Manufacturer
values and the CDISC pilot study's SDTM terms, not read back from the code.
"""

from __future__ import annotations

import pytest

from hyperfed.adapters.dicom.bindings import DicomBinding
from hyperfed.adapters.hql.bindings import (
    Binding,
    CodesBinding,
    EveryoneBinding,
    SexBinding,
    Unexpressible,
)
from hyperfed.adapters.hql.model import Code
from hyperfed.adapters.sdtm.bindings import SdtmBinding
from hyperfed.ontology import Ontology, UnsupportedModel

SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
MODELS = ("omop", "fhir", "sdtm", "dicom")  # the models the packaged Turtle binds, in order


def sct(*codes: str) -> CodesBinding:
    return CodesBinding(codes=[Code(system=SCT, code=c) for c in sorted(codes)])


def codes(system: str, code: str) -> CodesBinding:
    return CodesBinding(codes=[Code(system=system, code=code)])


def mh(*terms: str) -> SdtmBinding:
    """A condition: recorded as medical history or as an adverse event."""
    return SdtmBinding(domains=["AE", "MH"], variables=["AEDECOD", "MHDECOD"], terms=sorted(terms))


def finding(domain: str, code: str) -> SdtmBinding:
    return SdtmBinding(domains=[domain], variables=[f"{domain}TESTCD"], terms=[code])


def drug(*terms: str) -> SdtmBinding:
    """A drug: a concomitant medication or the study treatment."""
    return SdtmBinding(domains=["CM", "EX"], variables=["CMDECOD", "EXTRT"], terms=sorted(terms))


def dicom(keyword: str, *values: str) -> DicomBinding:
    return DicomBinding(keyword=keyword, values=sorted(values))


NONE = None  # "Unexpressible" in the tables below

SEX = {
    "eucaim:COM1001370": "female",
    "eucaim:COM1001366": "male",
    "eucaim:COM1001288": "other",
    "eucaim:COM1002760": "unknown",
}

ALL_CANCER_CODES = (
    "363346000",
    "363358000",
    "254637007",
    "254837009",
    "363406005",
    "399068003",
    "363484005",
)

# EUCAIM search-vocabulary concepts: (omop, fhir, sdtm, dicom)
EXPECTED: dict[str, tuple[Binding | None, Binding | None, Binding | None, Binding | None]] = {
    # cancers
    "eucaim:CLIN1007977": (sct(*ALL_CANCER_CODES), sct(*ALL_CANCER_CODES), NONE, NONE),
    "eucaim:CLIN1000057": (
        sct("363406005"),
        sct("363406005"),
        mh("COLON CANCER"),
        NONE,
    ),
    "eucaim:CLIN1000060": (
        sct("254837009"),
        sct("254837009"),
        mh("BREAST CANCER"),
        NONE,
    ),
    "eucaim:CLIN1000065": (
        sct("363358000", "254637007"),
        sct("363358000", "254637007"),
        mh("LUNG NEOPLASM MALIGNANT", "NON-SMALL CELL LUNG CANCER"),
        NONE,
    ),
    "eucaim:CLIN1000075": (
        sct("399068003"),
        sct("399068003"),
        mh("PROSTATE CANCER"),
        NONE,
    ),
    "eucaim:CLIN1000087": (sct("363484005"), sct("363484005"), NONE, NONE),
    # body parts
    "eucaim:BP1000024": (NONE, NONE, NONE, NONE),
    "eucaim:BP1000136": (NONE, NONE, NONE, dicom("BodyPartExamined", "BREAST")),
    "eucaim:BP1000257": (NONE, NONE, NONE, dicom("BodyPartExamined", "COLON")),
    "eucaim:BP1000113": (NONE, NONE, NONE, dicom("BodyPartExamined", "CHEST", "LUNG")),
    "eucaim:BP1000092": (NONE, NONE, NONE, dicom("BodyPartExamined", "PELVIS")),
    "eucaim:BP1000021": (NONE, NONE, NONE, dicom("BodyPartExamined", "PROSTATE")),
    # imaging modalities
    "eucaim:IMG1000009": (NONE, NONE, NONE, NONE),
    "eucaim:IMG1000038": (sct("113091000"), codes(DCM, "MR"), NONE, dicom("Modality", "MR")),
    "eucaim:IMG1000042": (sct("77477000"), codes(DCM, "CT"), NONE, dicom("Modality", "CT")),
    "eucaim:IMG1000062": (sct("82918005"), codes(DCM, "PT"), NONE, dicom("Modality", "PT")),
    "eucaim:IMG1000061": (NONE, NONE, NONE, NONE),
    "eucaim:IMG1000035": (sct("16310003"), codes(DCM, "US"), NONE, dicom("Modality", "US")),
    # manufacturers
    "eucaim:IMG1000010": (NONE, NONE, NONE, NONE),
    "eucaim:IMG1000044": (
        NONE,
        NONE,
        NONE,
        dicom(
            "Manufacturer",
            "SIEMENS",
            "Siemens",
            "Siemens Healthineers",
            "Siemens Healthcare",
            "Siemens Healthcare GmbH",
        ),
    ),
    "eucaim:IMG1000045": (
        NONE,
        NONE,
        NONE,
        dicom("Manufacturer", "TOSHIBA", "Toshiba", "Toshiba Medical Systems"),
    ),
    "eucaim:IMG1000046": (
        NONE,
        NONE,
        NONE,
        dicom(
            "Manufacturer", "Philips", "PHILIPS", "Philips Medical Systems", "Philips Healthcare"
        ),
    ),
    "eucaim:IMG1000047": (
        NONE,
        NONE,
        NONE,
        dicom("Manufacturer", "GE MEDICAL SYSTEMS", "GE Healthcare", "GE HEALTHCARE", "GE"),
    ),
    "eucaim:IMG1000050": (
        NONE,
        NONE,
        NONE,
        dicom("Manufacturer", "Canon Medical Systems", "CANON_MEC", "Canon", "CANON"),
    ),
}

# the other manufacturers: label -> one spelling that must match
OTHER_MANUFACTURERS = {
    "eucaim:IMG1000048": "I.M.S",
    "eucaim:IMG1000049": "Esaote",
    "eucaim:IMG1000051": "Agfa",
    "eucaim:IMG1000052": "ADAC",
    "eucaim:IMG1000053": "Marconi",
    "eucaim:IMG1000054": "Shimadzu",
    "eucaim:IMG1000055": "Elscint",
    "eucaim:IMG1000056": "Mediso",
    "eucaim:IMG1000057": "Hitachi",
    "eucaim:IMG1000058": "MiE",
    "eucaim:IMG1000059": "Picker International",
}


@pytest.mark.parametrize("ref", sorted(EXPECTED))
@pytest.mark.parametrize("position", range(4), ids=MODELS)
def test_eucaim_search_vocabulary_per_model(onto: Ontology, ref: str, position: int) -> None:
    model = MODELS[position]
    expected = EXPECTED[ref][position]
    got = onto.resolve(ref, model)
    if expected is None:
        assert isinstance(got, Unexpressible), got
        assert ref in got.reason
        assert model in got.reason
    else:
        assert got == expected


@pytest.mark.parametrize("ref", sorted(SEX))
@pytest.mark.parametrize("model", MODELS)
def test_sex_concepts_bind_to_sex_in_every_model(onto: Ontology, ref: str, model: str) -> None:
    assert onto.resolve(ref, model) == SexBinding(sex=SEX[ref])


@pytest.mark.parametrize("ref", sorted(OTHER_MANUFACTURERS))
def test_other_manufacturers_bind_to_dicom_manufacturer(onto: Ontology, ref: str) -> None:
    got = onto.resolve(ref, "dicom")
    assert isinstance(got, DicomBinding)
    assert got.keyword == "Manufacturer"
    assert OTHER_MANUFACTURERS[ref] in got.values
    for model in ("omop", "fhir", "sdtm"):
        assert isinstance(onto.resolve(ref, model), Unexpressible)


@pytest.mark.parametrize("model", MODELS)
def test_person_is_everyone(onto: Ontology, model: str) -> None:
    assert onto.resolve("hf:Person", model) == EveryoneBinding()


@pytest.mark.parametrize(
    ("hf_name", "eucaim_ref"),
    [
        ("hf:Female", "eucaim:COM1001370"),
        ("hf:Male", "eucaim:COM1001366"),
        ("hf:OtherSex", "eucaim:COM1001288"),
        ("hf:UnknownSex", "eucaim:COM1002760"),
        ("hf:Sex", "eucaim:COM1001396"),
        ("hf:Cancer", "eucaim:CLIN1007977"),
        ("hf:LungCancer", "eucaim:CLIN1000065"),
        ("hf:BreastCancer", "eucaim:CLIN1000060"),
        ("hf:ColonCancer", "eucaim:CLIN1000057"),
        ("hf:ProstateCancer", "eucaim:CLIN1000075"),
        ("hf:PelvisCancer", "eucaim:CLIN1000087"),
        ("hf:CT", "eucaim:IMG1000042"),
        ("hf:MR", "eucaim:IMG1000038"),
        ("hf:PET", "eucaim:IMG1000062"),
        ("hf:SPECT", "eucaim:IMG1000061"),
        ("hf:US", "eucaim:IMG1000035"),
        ("hf:Lung", "eucaim:BP1000113"),
        ("hf:Breast", "eucaim:BP1000136"),
        ("hf:Colon", "eucaim:BP1000257"),
        ("hf:Pelvis", "eucaim:BP1000092"),
        ("hf:Prostate", "eucaim:BP1000021"),
        ("hf:Siemens", "eucaim:IMG1000044"),
        ("hf:GE", "eucaim:IMG1000047"),
        ("hf:Philips", "eucaim:IMG1000046"),
        ("hf:Toshiba", "eucaim:IMG1000045"),
        ("hf:Canon", "eucaim:IMG1000050"),
    ],
)
def test_hf_names_and_eucaim_concepts_are_one_concept(
    onto: Ontology, hf_name: str, eucaim_ref: str
) -> None:
    hf_info, eucaim_info = onto.concept(hf_name), onto.concept(eucaim_ref)
    assert eucaim_info.iri in hf_info.exact_matches
    assert hf_info.iri in eucaim_info.exact_matches
    assert hf_info.notation == eucaim_ref.split(":")[1]
    assert hf_info.category == eucaim_info.category
    for model in MODELS:
        a, b = onto.resolve(hf_name, model), onto.resolve(eucaim_ref, model)
        if isinstance(a, Unexpressible):
            assert isinstance(b, Unexpressible)
        else:
            assert a == b


# demo-data concepts: hf name -> (system, code) bound for omop and fhir
DEMO_CODES = {
    "hf:GastrointestinalHemorrhage": (SCT, "74474003"),
    "hf:Type2Diabetes": (SCT, "44054006"),
    "hf:EssentialHypertension": (SCT, "59621000"),
    "hf:Asthma": (SCT, "195967001"),
    "hf:COPD": (SCT, "13645005"),
    "hf:ViralSinusitis": (SCT, "444814009"),
    "hf:MyocardialInfarction": (SCT, "22298006"),
    "hf:NonSmallCellLungCancer": (SCT, "254637007"),
    "hf:Hemoglobin": (LOINC, "718-7"),
    "hf:Creatinine": (LOINC, "2160-0"),
    "hf:BodyMassIndex": (LOINC, "39156-5"),
    "hf:SystolicBloodPressure": (LOINC, "8480-6"),
    "hf:HbA1c": (LOINC, "4548-4"),
    "hf:PSA": (LOINC, "2857-1"),
    "hf:Aspirin": (RXNORM, "1191"),
    "hf:Metformin": (RXNORM, "6809"),
    "hf:Carboplatin": (RXNORM, "40048"),
    "hf:Paclitaxel": (RXNORM, "56946"),
    "hf:Acetaminophen": (RXNORM, "161"),
    "hf:MRIScan": (SCT, "113091000"),
    "hf:PETScan": (SCT, "82918005"),
    "hf:Mammography": (SCT, "71651007"),
    "hf:Colonoscopy": (SCT, "73761001"),
    "hf:ChestCT": (SCT, "169069000"),
}


@pytest.mark.parametrize("ref", sorted(DEMO_CODES))
@pytest.mark.parametrize("model", ["omop", "fhir"])
def test_demo_concepts_bind_to_their_standard_code(onto: Ontology, ref: str, model: str) -> None:
    assert onto.resolve(ref, model) == codes(*DEMO_CODES[ref])


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("hf:Hemoglobin", finding("LB", "HGB")),
        ("hf:Creatinine", finding("LB", "CREAT")),
        ("hf:HbA1c", finding("LB", "HBA1C")),
        ("hf:PSA", finding("LB", "PSA")),
        (
            "hf:SystolicBloodPressure",
            finding("VS", "SYSBP"),
        ),
        ("hf:BodyMassIndex", finding("VS", "BMI")),
        ("hf:Hypertension", mh("ESSENTIAL HYPERTENSION", "HYPERTENSION")),
        ("hf:EssentialHypertension", mh("ESSENTIAL HYPERTENSION")),
        ("hf:ViralSinusitis", mh("SINUSITIS VIRAL")),
        ("hf:Glucose", finding("LB", "GLUC")),
        ("hf:DiastolicBloodPressure", finding("VS", "DIABP")),
        ("hf:BodyTemperature", finding("VS", "TEMP")),
        (
            "hf:CTScan",
            SdtmBinding(
                domains=["PR"],
                variables=["PRDECOD", "PRTRT"],
                terms=["COMPUTED TOMOGRAPHY", "CT OF CHEST"],
            ),
        ),
        ("hf:MyocardialInfarction", mh("MYOCARDIAL INFARCTION")),
        ("hf:Asthma", mh("ASTHMA")),
        ("hf:COPD", mh("CHRONIC OBSTRUCTIVE PULMONARY DISEASE")),
        ("hf:GastrointestinalHemorrhage", mh("GASTROINTESTINAL HAEMORRHAGE")),
        (
            "hf:Type2Diabetes",
            mh("TYPE 2 DIABETES MELLITUS", "DIABETES MELLITUS NON-INSULIN-DEPENDENT"),
        ),
        (
            "hf:Aspirin",
            drug("ACETYLSALICYLIC ACID", "ASPIRIN"),
        ),
        (
            "hf:Metformin",
            drug("METFORMIN", "METFORMIN HYDROCHLORIDE"),
        ),
    ],
)
def test_sdtm_bindings(onto: Ontology, ref: str, expected: Binding) -> None:
    assert onto.resolve(ref, "sdtm") == expected


def test_hierarchy_union_includes_narrower_codes(onto: Ontology) -> None:
    cancer = onto.resolve("hf:Cancer", "omop")
    assert isinstance(cancer, CodesBinding)
    got = [c.code for c in cancer.codes]
    assert "363358000" in got  # lung cancer
    assert "254637007" in got  # NSCLC, two levels down
    assert got == sorted(ALL_CANCER_CODES)
    lung = onto.resolve("hf:LungCancer", "fhir")
    assert isinstance(lung, CodesBinding)
    assert {c.code for c in lung.codes} == {"363358000", "254637007"}
    # narrower concepts do not inherit their parents' codes
    assert onto.resolve("hf:NonSmallCellLungCancer", "omop") == sct("254637007")
    assert onto.resolve("hf:CTScan", "omop") == sct("77477000", "169069000")
    assert onto.resolve("hf:Hypertension", "omop") == sct("38341003", "59621000")


def test_a_concept_alone_leaves_its_narrower_concepts_out(onto: Ontology) -> None:
    """For a code asked without its descendants, the hub takes the concept's own binding."""
    assert onto.resolve("hf:LungCancer", "sdtm", narrower=False) == mh("LUNG NEOPLASM MALIGNANT")
    assert onto.resolve("hf:LungCancer", "omop", narrower=False) == sct("363358000")
    assert onto.resolve("hf:NonSmallCellLungCancer", "sdtm", narrower=False) == mh(
        "NON-SMALL CELL LUNG CANCER"
    )
    assert isinstance(onto.resolve("hf:Cancer", "sdtm", narrower=False), Unexpressible)


def test_bindings_are_deduplicated_and_sorted(onto: Ontology) -> None:
    cancer = onto.resolve("hf:Cancer", "fhir")
    assert isinstance(cancer, CodesBinding)
    pairs = [(c.system, c.code) for c in cancer.codes]
    assert pairs == sorted(set(pairs))
    lung = onto.resolve("hf:Lung", "dicom")
    assert isinstance(lung, DicomBinding)
    assert lung.values == ["CHEST", "LUNG"]


def test_parent_without_its_own_binding_is_unexpressible_and_names_children(
    onto: Ontology,
) -> None:
    got = onto.resolve("hf:BodyPart", "dicom")
    assert isinstance(got, Unexpressible)
    assert "hf:BodyPart" in got.reason and "dicom" in got.reason
    assert "hf:Lung" in got.reason  # points at the concepts that can be queried
    cancer = onto.resolve("hf:Cancer", "sdtm")
    assert isinstance(cancer, Unexpressible)
    assert "hf:LungCancer" in cancer.reason


def test_explicit_unexpressible_reason(onto: Ontology) -> None:
    got = onto.resolve("hf:SPECT", "dicom")
    assert isinstance(got, Unexpressible)
    assert "NM" in got.reason
    chest = onto.resolve("hf:ChestCT", "dicom")
    assert isinstance(chest, Unexpressible)
    assert "BodyPartExamined" in chest.reason
    # the parent keeps its own DICOM binding; the unexpressible child adds nothing
    assert onto.resolve("hf:CTScan", "dicom") == dicom("Modality", "CT")


def test_unexpressible_names_the_concept_and_model(onto: Ontology) -> None:
    got = onto.resolve("hf:Lung", "omop")
    assert isinstance(got, Unexpressible)
    assert "hf:Lung" in got.reason and "omop" in got.reason


def test_the_packaged_data_declares_its_models_in_order(onto: Ontology) -> None:
    assert onto.models[:4] == MODELS


def test_unknown_model_is_a_value_error_listing_models(onto: Ontology) -> None:
    with pytest.raises(UnsupportedModel) as caught:
        onto.resolve("hf:Female", "openehr")
    assert isinstance(caught.value, ValueError)
    assert "'openehr'" in str(caught.value)
    for model in ("omop", "fhir", "sdtm", "dicom"):
        assert model in str(caught.value)


def test_resolve_accepts_every_reference_form(onto: Ontology) -> None:
    expected = sct("363358000", "254637007")
    for ref in (
        "hf:LungCancer",
        "eucaim:CLIN1000065",
        "CLIN1000065",
        "SNOMEDCT363358000",
        "https://cancerimage.eu/ontology/EUCAIM#CLIN1000065",
        "https://hyperontology.eucaim.cancerimage.eu/#CLIN1000065",
        "http://snomed.info/sct|363358000",
    ):
        assert onto.resolve(ref, "omop") == expected, ref
