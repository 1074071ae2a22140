"""The small OMOP vocabulary the synthetic sites ship with: concepts, hierarchy, mappings.

Concept ids below 2,000,000,000 are the real OMOP (Athena) ids, used only where we are sure of
them (many checked against the OHDSI Eunomia GiBleed vocabulary). Every other concept gets an id
in the range OMOP reserves for local concepts (>= 2,000,000,001): a node must resolve such
concepts through their code (vocabulary_id + concept_code), which is what Hyperfed does anyway.

Pure data plus pure functions (`ancestor_rows`, `relationship_rows`); nothing here touches a
database.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import date

__all__ = [
    "CONCEPTS",
    "DOMAINS",
    "IS_A",
    "LOCAL_CONCEPT_ID_START",
    "MAPS_TO",
    "VALID_END",
    "VALID_START",
    "VOCABULARIES",
    "VOCABULARY_VERSION",
    "Concept",
    "ancestor_rows",
    "concept_id",
    "relationship_rows",
    "standard_concept_id",
]

LOCAL_CONCEPT_ID_START = 2_000_000_001  # OMOP reserves ids above 2,000,000,000 for local use
VOCABULARY_VERSION = "Hyperfed 2025-01"  # at most 20 characters (CDM_SOURCE)
VALID_START = date(1970, 1, 1)
VALID_END = date(2099, 12, 31)


@dataclass(frozen=True)
class Concept:
    concept_id: int
    concept_name: str
    domain_id: str
    vocabulary_id: str
    concept_class_id: str
    standard_concept: str | None
    concept_code: str


def _many(
    domain: str,
    vocabulary: str,
    klass: str,
    std: str | None,
    rows: tuple[tuple[int, str, str], ...],
) -> tuple[Concept, ...]:
    return tuple(
        Concept(cid, name, domain, vocabulary, klass, std, code) for cid, name, code in rows
    )


_GEN = "OMOP generated"

CONCEPTS: tuple[Concept, ...] = (
    Concept(0, "No matching concept", "Metadata", "None", "Undefined", None, "No matching concept"),
    Concept(756265, "OMOP CDM Version 5.4.0", "Metadata", "CDM", "CDM", "S", "CDM v5.4.0"),
    *_many(
        "Metadata",
        "Domain",
        "Domain",
        None,
        (
            (2, "Gender", _GEN),
            (3, "Race", _GEN),
            (4, "Ethnicity", _GEN),
            (7, "Metadata", _GEN),
            (8, "Visit", _GEN),
            (10, "Procedure", _GEN),
            (13, "Drug", _GEN),
            (16, "Unit", _GEN),
            (17, "Device", _GEN),
            (19, "Condition", _GEN),
            (21, "Measurement", _GEN),
            (27, "Observation", _GEN),
            (58, "Type Concept", _GEN),
        ),
    ),
    *_many(
        "Metadata",
        "Vocabulary",
        "Vocabulary",
        None,
        (
            (44819096, "OMOP Standardized Vocabularies", _GEN),
            (44819097, "Systematic Nomenclature of Medicine - Clinical Terms (IHTSDO)", _GEN),
            (
                44819098,
                "International Classification of Diseases, Tenth Revision, "
                "Clinical Modification (NCHS)",
                _GEN,
            ),
            (
                44819102,
                "Logical Observation Identifiers Names and Codes (Regenstrief Institute)",
                _GEN,
            ),
            (44819104, "RxNorm (NLM)", _GEN),
            (44819107, "Unified Code for Units of Measure (Regenstrief Institute)", _GEN),
            (44819108, "OMOP Gender", _GEN),
            (44819109, "Race and Ethnicity Code Set (USBC)", _GEN),
            (44819117, "WHO Anatomic Therapeutic Chemical Classification", _GEN),
            (44819119, "OMOP Visit", _GEN),
            (44819134, "OMOP Ethnicity", _GEN),
            (44819147, "OMOP Domain", _GEN),
            (44819232, "OMOP Vocabulary", _GEN),
        ),
    ),
    *_many(
        "Gender",
        "Gender",
        "Gender",
        "S",
        ((8507, "MALE", "M"), (8532, "FEMALE", "F"), (8551, "UNKNOWN", "U"), (8521, "OTHER", "O")),
    ),
    *_many(
        "Race",
        "Race",
        "Race",
        "S",
        ((8515, "Asian", "2"), (8516, "Black or African American", "3"), (8527, "White", "5")),
    ),
    *_many(
        "Ethnicity",
        "Ethnicity",
        "Ethnicity",
        "S",
        (
            (38003563, "Hispanic or Latino", "Hispanic"),
            (38003564, "Not Hispanic or Latino", "Not Hispanic"),
        ),
    ),
    *_many(
        "Visit",
        "Visit",
        "Visit",
        "S",
        (
            (9201, "Inpatient Visit", "IP"),
            (9202, "Outpatient Visit", "OP"),
            (9203, "Emergency Room Visit", "ER"),
        ),
    ),
    *_many(
        "Type Concept",
        "Type Concept",
        "Type Concept",
        "S",
        ((32817, "EHR", "OMOP4976890"), (32856, "Lab", "OMOP4976929")),
    ),
    *_many(
        "Unit",
        "UCUM",
        "Unit",
        "S",
        (
            (8554, "percent", "%"),
            (8636, "gram per liter", "g/L"),
            (8713, "gram per deciliter", "g/dL"),
            (8749, "micromole per liter", "umol/L"),
            (8840, "milligram per deciliter", "mg/dL"),
            (8842, "nanogram per milliliter", "ng/mL"),
            (8876, "millimeter mercury column", "mm[Hg]"),
            (9531, "kilogram per square meter", "kg/m2"),
        ),
    ),
    *_many(
        "Condition",
        "SNOMED",
        "Clinical Finding",
        "S",
        (
            (28060, "Streptococcal sore throat", "43878008"),
            (80180, "Osteoarthritis", "396275006"),
            (80502, "Osteoporosis", "64859006"),
            (81151, "Sprain of ankle", "44465007"),
            (140673, "Hypothyroidism", "40930008"),
            (192671, "Gastrointestinal hemorrhage", "74474003"),
            (195588, "Cystitis", "38822007"),
            (201826, "Type 2 diabetes mellitus", "44054006"),
            (255573, "Chronic obstructive lung disease", "13645005"),
            (255848, "Pneumonia", "233604007"),
            (260139, "Acute bronchitis", "10509002"),
            (313217, "Atrial fibrillation", "49436004"),
            (316866, "Hypertensive disorder", "38341003"),
            (317009, "Asthma", "195967001"),
            (317576, "Coronary arteriosclerosis", "53741008"),
            (320128, "Essential hypertension", "59621000"),
            (372328, "Otitis media", "65363002"),
            (439777, "Anemia", "271737000"),
            (4112343, "Acute viral pharyngitis", "195662009"),
            (4280726, "Seasonal allergic rhinitis", "367498001"),
            (4285898, "Polyp of colon", "68496003"),
            (4329847, "Myocardial infarction", "22298006"),
            (40481087, "Viral sinusitis", "444814009"),
            # local ids
            (2000000001, "Malignant neoplastic disease", "363346000"),
            (2000000002, "Malignant tumor of lung", "363358000"),
            (2000000003, "Non-small cell lung cancer", "254637007"),
            (2000000004, "Malignant neoplasm of breast", "254837009"),
            (2000000005, "Malignant tumor of colon", "363406005"),
            (2000000006, "Malignant tumor of prostate", "399068003"),
            (2000000007, "Malignant tumor of pelvis", "363484005"),
            (2000000008, "Diabetes mellitus", "73211009"),
        ),
    ),
    Concept(
        35208414,
        "Gastrointestinal hemorrhage, unspecified",
        "Condition",
        "ICD10CM",
        "4-char billing code",
        None,
        "K92.2",
    ),
    Concept(
        2000000010,
        "Malignant neoplasm of unspecified part of unspecified bronchus or lung",
        "Condition",
        "ICD10CM",
        "5-char billing code",
        None,
        "C34.90",
    ),
    Concept(
        2000000011,
        "Essential (primary) hypertension",
        "Condition",
        "ICD10CM",
        "3-char billing code",
        None,
        "I10",
    ),
    Concept(
        2000000012,
        "Type 2 diabetes mellitus without complications",
        "Condition",
        "ICD10CM",
        "4-char billing code",
        None,
        "E11.9",
    ),
    *_many(
        "Measurement",
        "LOINC",
        "Lab Test",
        "S",
        (
            (3000963, "Hemoglobin [Mass/volume] in Blood", "718-7"),
            (3004410, "Hemoglobin A1c/Hemoglobin.total in Blood", "4548-4"),
            (3004501, "Glucose [Mass/volume] in Serum or Plasma", "2345-7"),
            (3016723, "Creatinine [Mass/volume] in Serum or Plasma", "2160-0"),
            (2000000020, "Prostate specific Ag [Mass/volume] in Serum or Plasma", "2857-1"),
        ),
    ),
    *_many(
        "Measurement",
        "LOINC",
        "Clinical Observation",
        "S",
        (
            (3004249, "Systolic blood pressure", "8480-6"),
            (3038553, "Body mass index (BMI) [Ratio]", "39156-5"),
            (2000000021, "Diastolic blood pressure", "8462-4"),
        ),
    ),
    Concept(
        2000000022,
        "Tobacco smoking status",
        "Observation",
        "LOINC",
        "Clinical Observation",
        "S",
        "72166-2",
    ),
    *_many(
        "Observation",
        "SNOMED",
        "Clinical Finding",
        "S",
        (
            (4048169, "Allergy to house dust mite", "232350006"),
            (4240902, "Allergy to peanuts", "91935009"),
            (4302207, "Allergy to grass pollen", "418689008"),
            (2000000050, "Never smoked tobacco", "266919005"),
            (2000000051, "Ex-smoker", "8517006"),
            (2000000052, "Smoker", "77176002"),
        ),
    ),
    Concept(
        4163874,
        "History of myocardial infarction",
        "Observation",
        "SNOMED",
        "Context-dependent",
        "S",
        "399211009",
    ),
    *_many(
        "Procedure",
        "SNOMED",
        "Procedure",
        "S",
        (
            (4037675, "Brief general examination", "162676008"),
            (4163872, "Plain chest X-ray", "399208008"),
            (4163951, "Electrocardiographic procedure", "29303009"),
            (4195803, "Bone density scan", "312681000"),
            (4218408, "Collection of blood specimen for laboratory", "82078001"),
            (4295880, "Intramuscular injection", "76601001"),
            (4326177, "Medication Reconciliation", "430193006"),
            # local ids
            (2000000030, "Computerized axial tomography", "77477000"),
            (2000000031, "Computed tomography of chest", "169069000"),
            (2000000032, "Magnetic resonance imaging", "113091000"),
            (2000000033, "Positron emission tomography", "82918005"),
            (2000000034, "Mammography", "71651007"),
            (2000000035, "Colonoscopy", "73761001"),
            (2000000036, "Imaging", "363679005"),
            (2000000037, "Chemotherapy", "367336001"),
        ),
    ),
    *_many(
        "Drug",
        "RxNorm",
        "Ingredient",
        "S",
        (
            (1000560, "Ondansetron", "26225"),
            (1107830, "Loratadine", "28889"),
            (1112807, "Aspirin", "1191"),
            (1125315, "Acetaminophen", "161"),
            (1149380, "fluticasone", "41126"),
            (1154343, "Albuterol", "435"),
            (1177480, "Ibuprofen", "5640"),
            (1310149, "Warfarin", "11289"),
            (1322184, "clopidogrel", "32968"),
            (1332418, "Amlodipine", "17767"),
            (1344905, "Carboplatin", "40048"),
            (1378382, "Paclitaxel", "56946"),
            (1396131, "ferrous sulfate", "24947"),
            (1501700, "levothyroxine", "10582"),
            (1503297, "Metformin", "6809"),
            (1545958, "atorvastatin", "83367"),
            (1557272, "Alendronate", "46041"),
            (1713332, "Amoxicillin", "723"),
            # local ids
            (2000000040, "Fluorouracil", "4492"),
            (2000000041, "Lisinopril", "29046"),
        ),
    ),
    Concept(2000000042, "ANTINEOPLASTIC AGENTS", "Drug", "ATC", "ATC 2nd", "C", "L01"),
)

# (vocabulary_id, vocabulary_name, vocabulary_reference, vocabulary_concept_id)
VOCABULARIES: tuple[tuple[str, str, str, int], ...] = (
    ("None", "OMOP Standardized Vocabularies", _GEN, 44819096),
    (
        "SNOMED",
        "Systematic Nomenclature of Medicine - Clinical Terms (IHTSDO)",
        "http://snomed.info/sct",
        44819097,
    ),
    (
        "ICD10CM",
        "International Classification of Diseases, Tenth Revision, Clinical Modification (NCHS)",
        "http://hl7.org/fhir/sid/icd-10-cm",
        44819098,
    ),
    (
        "LOINC",
        "Logical Observation Identifiers Names and Codes (Regenstrief Institute)",
        "http://loinc.org",
        44819102,
    ),
    ("RxNorm", "RxNorm (NLM)", "http://www.nlm.nih.gov/research/umls/rxnorm", 44819104),
    (
        "UCUM",
        "Unified Code for Units of Measure (Regenstrief Institute)",
        "http://unitsofmeasure.org",
        44819107,
    ),
    ("Gender", "OMOP Gender", _GEN, 44819108),
    ("Race", "Race and Ethnicity Code Set (USBC)", _GEN, 44819109),
    ("Ethnicity", "OMOP Ethnicity", _GEN, 44819134),
    (
        "ATC",
        "WHO Anatomic Therapeutic Chemical Classification",
        "http://www.whocc.no/atc",
        44819117,
    ),
    ("Visit", "OMOP Visit", _GEN, 44819119),
    ("Domain", "OMOP Domain", _GEN, 44819147),
    ("Vocabulary", "OMOP Vocabulary", _GEN, 44819232),
    ("Type Concept", "OMOP Type Concept", _GEN, 0),
    ("CDM", "OMOP Common Data Model", _GEN, 0),
)

# (domain_id, domain_name, domain_concept_id)
DOMAINS: tuple[tuple[str, str, int], ...] = (
    ("Gender", "Gender", 2),
    ("Race", "Race", 3),
    ("Ethnicity", "Ethnicity", 4),
    ("Metadata", "Metadata", 7),
    ("Visit", "Visit", 8),
    ("Procedure", "Procedure", 10),
    ("Drug", "Drug", 13),
    ("Unit", "Unit", 16),
    ("Device", "Device", 17),
    ("Condition", "Condition", 19),
    ("Measurement", "Measurement", 21),
    ("Observation", "Observation", 27),
    ("Type Concept", "Type Concept", 58),
)

# Hierarchy as (child, parent), both (vocabulary_id, concept_code).
_S, _A = "SNOMED", "ATC"
IS_A: tuple[tuple[tuple[str, str], tuple[str, str]], ...] = (
    ((_S, "363358000"), (_S, "363346000")),  # lung cancer < malignant neoplastic disease
    ((_S, "254637007"), (_S, "363358000")),  # NSCLC < lung cancer
    ((_S, "254837009"), (_S, "363346000")),  # breast
    ((_S, "363406005"), (_S, "363346000")),  # colon
    ((_S, "399068003"), (_S, "363346000")),  # prostate
    ((_S, "363484005"), (_S, "363346000")),  # pelvis
    ((_S, "44054006"), (_S, "73211009")),  # type 2 diabetes < diabetes mellitus
    ((_S, "59621000"), (_S, "38341003")),  # essential hypertension < hypertensive disorder
    ((_S, "169069000"), (_S, "77477000")),  # CT of chest < CT
    ((_S, "77477000"), (_S, "363679005")),  # CT < imaging
    ((_S, "113091000"), (_S, "363679005")),  # MRI < imaging
    ((_S, "82918005"), (_S, "363679005")),  # PET < imaging
    ((_S, "71651007"), (_S, "363679005")),  # mammography < imaging
    ((_S, "399208008"), (_S, "363679005")),  # plain chest X-ray < imaging
    (("RxNorm", "40048"), (_A, "L01")),  # carboplatin < antineoplastic agents
    (("RxNorm", "56946"), (_A, "L01")),  # paclitaxel
    (("RxNorm", "4492"), (_A, "L01")),  # fluorouracil
)

# Non-standard source codes and the standard concept they map to.
MAPS_TO: tuple[tuple[tuple[str, str], tuple[str, str]], ...] = (
    (("ICD10CM", "C34.90"), (_S, "363358000")),
    (("ICD10CM", "K92.2"), (_S, "74474003")),
    (("ICD10CM", "I10"), (_S, "59621000")),
    (("ICD10CM", "E11.9"), (_S, "44054006")),
)

_BY_CODE: dict[tuple[str, str], Concept] = {(c.vocabulary_id, c.concept_code): c for c in CONCEPTS}


def concept_id(vocabulary_id: str, code: str) -> int:
    """The concept id of a code; KeyError names the code when it is not in `CONCEPTS`."""
    try:
        return _BY_CODE[(vocabulary_id, code)].concept_id
    except KeyError:
        raise KeyError(f"no concept for {vocabulary_id} code {code!r}") from None


def standard_concept_id(vocabulary_id: str, code: str) -> int:
    """The standard concept a code stands for: itself, or its 'Maps to' target."""
    concept = _BY_CODE[(vocabulary_id, code)]
    if concept.standard_concept == "S":
        return concept.concept_id
    for source, target in MAPS_TO:
        if source == (vocabulary_id, code):
            return concept_id(*target)
    return 0


def ancestor_rows() -> list[tuple[int, int, int, int]]:
    """CONCEPT_ANCESTOR: the transitive closure of `IS_A` over standard and classification
    concepts, with a self row (levels 0) for each, as (ancestor, descendant, min, max)."""
    parents: dict[int, list[int]] = {}
    for child, parent in IS_A:
        parents.setdefault(concept_id(*child), []).append(concept_id(*parent))
    rows: list[tuple[int, int, int, int]] = []
    for concept in CONCEPTS:
        if concept.standard_concept not in ("S", "C"):
            continue
        levels: dict[int, tuple[int, int]] = {concept.concept_id: (0, 0)}
        queue = deque([(concept.concept_id, 0)])
        while queue:  # paths are short and the graph tiny: enumerate every path
            node, depth = queue.popleft()
            for up in parents.get(node, ()):
                low, high = levels.get(up, (depth + 1, depth + 1))
                levels[up] = (min(low, depth + 1), max(high, depth + 1))
                queue.append((up, depth + 1))
        rows += [(a, concept.concept_id, lo, hi) for a, (lo, hi) in levels.items()]
    return sorted(rows)


def relationship_rows() -> list[tuple[int, int, str]]:
    """CONCEPT_RELATIONSHIP: 'Maps to'/'Mapped from' (including the self mapping every
    standard concept has in OMOP) and 'Is a'/'Subsumes' for the direct hierarchy."""
    rows: list[tuple[int, int, str]] = []
    for concept in CONCEPTS:
        if concept.standard_concept == "S" and concept.concept_id != 0:
            rows.append((concept.concept_id, concept.concept_id, "Maps to"))
            rows.append((concept.concept_id, concept.concept_id, "Mapped from"))
    for source, target in MAPS_TO:
        rows.append((concept_id(*source), concept_id(*target), "Maps to"))
        rows.append((concept_id(*target), concept_id(*source), "Mapped from"))
    for child, parent in IS_A:
        if parent[0] != child[0]:
            continue  # cross-vocabulary classification (ATC): CONCEPT_ANCESTOR only
        rows.append((concept_id(*child), concept_id(*parent), "Is a"))
        rows.append((concept_id(*parent), concept_id(*child), "Subsumes"))
    return sorted(rows)
