"""The clinical content of the synthetic population, independent of any data model.

Items are codes (system + code); the population refers to them by number (`ITEM_NO`) and each
writer (OMOP now; FHIR, SDTM, DICOM later) turns an item into its own representation. The
disease parameters (prevalence by age and sex, how often a condition is coded again, which
drugs treat it) are rough but plausible, and calibrated (`calibrate`) so that the overall
prevalence in a generated population matches `target`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "ACUTE",
    "AGE_KNOTS",
    "CANCERS",
    "CHRONIC",
    "COMMON_DRUGS",
    "FEMALE_SHARE",
    "ITEMS",
    "ITEM_NO",
    "LUNG_NSCLC_SHARE",
    "UNKNOWN_SEX_SHARE",
    "UTILISATION",
    "Acute",
    "Cancer",
    "Chronic",
    "Item",
    "age_from_u",
    "calibrate",
    "interpolate",
]


@dataclass(frozen=True)
class Item:
    key: str
    system: str  # spelled as the OMOP vocabulary_id: SNOMED, LOINC, RxNorm, ICD10CM, UCUM
    code: str


ITEMS: tuple[Item, ...] = (
    # chronic conditions
    Item("hypertension", "SNOMED", "59621000"),
    Item("t2d", "SNOMED", "44054006"),
    Item("asthma", "SNOMED", "195967001"),
    Item("copd", "SNOMED", "13645005"),
    Item("hypothyroidism", "SNOMED", "40930008"),
    Item("osteoarthritis", "SNOMED", "396275006"),
    Item("atrial_fibrillation", "SNOMED", "49436004"),
    Item("coronary_arteriosclerosis", "SNOMED", "53741008"),
    Item("osteoporosis", "SNOMED", "64859006"),
    Item("allergic_rhinitis", "SNOMED", "367498001"),
    Item("anemia", "SNOMED", "271737000"),
    Item("mi", "SNOMED", "22298006"),
    # acute conditions
    Item("viral_sinusitis", "SNOMED", "444814009"),
    Item("acute_bronchitis", "SNOMED", "10509002"),
    Item("otitis_media", "SNOMED", "65363002"),
    Item("viral_pharyngitis", "SNOMED", "195662009"),
    Item("strep_throat", "SNOMED", "43878008"),
    Item("pneumonia", "SNOMED", "233604007"),
    Item("cystitis", "SNOMED", "38822007"),
    Item("ankle_sprain", "SNOMED", "44465007"),
    Item("gi_bleeding", "SNOMED", "74474003"),
    Item("colon_polyp", "SNOMED", "68496003"),
    # cancers
    Item("lung_cancer", "SNOMED", "363358000"),
    Item("nsclc", "SNOMED", "254637007"),
    Item("breast_cancer", "SNOMED", "254837009"),
    Item("colon_cancer", "SNOMED", "363406005"),
    Item("prostate_cancer", "SNOMED", "399068003"),
    Item("pelvis_cancer", "SNOMED", "363484005"),
    # ICD-10-CM source codes
    Item("icd_lung_cancer", "ICD10CM", "C34.90"),
    Item("icd_gi_bleeding", "ICD10CM", "K92.2"),
    Item("icd_hypertension", "ICD10CM", "I10"),
    Item("icd_t2d", "ICD10CM", "E11.9"),
    # drugs (ingredients)
    Item("aspirin", "RxNorm", "1191"),
    Item("acetaminophen", "RxNorm", "161"),
    Item("ibuprofen", "RxNorm", "5640"),
    Item("amoxicillin", "RxNorm", "723"),
    Item("metformin", "RxNorm", "6809"),
    Item("amlodipine", "RxNorm", "17767"),
    Item("lisinopril", "RxNorm", "29046"),
    Item("atorvastatin", "RxNorm", "83367"),
    Item("albuterol", "RxNorm", "435"),
    Item("fluticasone", "RxNorm", "41126"),
    Item("levothyroxine", "RxNorm", "10582"),
    Item("warfarin", "RxNorm", "11289"),
    Item("clopidogrel", "RxNorm", "32968"),
    Item("alendronate", "RxNorm", "46041"),
    Item("ferrous_sulfate", "RxNorm", "24947"),
    Item("loratadine", "RxNorm", "28889"),
    Item("carboplatin", "RxNorm", "40048"),
    Item("paclitaxel", "RxNorm", "56946"),
    Item("fluorouracil", "RxNorm", "4492"),
    Item("ondansetron", "RxNorm", "26225"),
    # measurements
    Item("hemoglobin", "LOINC", "718-7"),
    Item("creatinine", "LOINC", "2160-0"),
    Item("glucose", "LOINC", "2345-7"),
    Item("hba1c", "LOINC", "4548-4"),
    Item("psa", "LOINC", "2857-1"),
    Item("bmi", "LOINC", "39156-5"),
    Item("systolic_bp", "LOINC", "8480-6"),
    Item("diastolic_bp", "LOINC", "8462-4"),
    # units
    Item("g/dL", "UCUM", "g/dL"),
    Item("g/L", "UCUM", "g/L"),
    Item("mg/dL", "UCUM", "mg/dL"),
    Item("umol/L", "UCUM", "umol/L"),
    Item("kg/m2", "UCUM", "kg/m2"),
    Item("mm[Hg]", "UCUM", "mm[Hg]"),
    Item("%", "UCUM", "%"),
    Item("ng/mL", "UCUM", "ng/mL"),
    # procedures
    Item("general_exam", "SNOMED", "162676008"),
    Item("blood_draw", "SNOMED", "82078001"),
    Item("ecg", "SNOMED", "29303009"),
    Item("chest_xray", "SNOMED", "399208008"),
    Item("med_reconciliation", "SNOMED", "430193006"),
    Item("im_injection", "SNOMED", "76601001"),
    Item("bone_density_scan", "SNOMED", "312681000"),
    Item("ct", "SNOMED", "77477000"),
    Item("ct_chest", "SNOMED", "169069000"),
    Item("mri", "SNOMED", "113091000"),
    Item("pet", "SNOMED", "82918005"),
    Item("mammography", "SNOMED", "71651007"),
    Item("colonoscopy", "SNOMED", "73761001"),
    Item("chemotherapy", "SNOMED", "367336001"),
    # observations
    Item("smoking_status", "LOINC", "72166-2"),
    Item("never_smoker", "SNOMED", "266919005"),
    Item("ex_smoker", "SNOMED", "8517006"),
    Item("smoker", "SNOMED", "77176002"),
    Item("allergy_peanut", "SNOMED", "91935009"),
    Item("allergy_grass_pollen", "SNOMED", "418689008"),
    Item("allergy_dust_mite", "SNOMED", "232350006"),
    Item("history_of_mi", "SNOMED", "399211009"),
)

ITEM_NO: dict[str, int] = {item.key: number for number, item in enumerate(ITEMS, start=1)}

UNKNOWN_SEX_SHARE = 0.004
FEMALE_SHARE = 0.505  # among persons of known sex
AGE_KNOTS = tuple(range(0, 101, 10))  # curves below give relative risk at these ages

# Healthcare use by age (relative visit rate), at AGE_KNOTS.
UTILISATION = (1.6, 0.7, 0.6, 0.7, 0.8, 1.0, 1.3, 1.7, 2.1, 2.3, 2.3)


@dataclass(frozen=True)
class Chronic:
    key: str
    target: float  # prevalence in the whole population
    curve: tuple[float, ...]  # relative risk at AGE_KNOTS
    record_rate: float  # share of the later visits at which it is coded again
    female: float = 1.0  # relative risk of women (men: `male`; unknown sex: the lower)
    male: float = 1.0
    icd: str | None = None  # ICD-10-CM source item some sites record instead
    meds: tuple[tuple[str, float], ...] = ()  # (drug item, share of patients treated)
    followup: str | None = None  # later records are this observation, not the condition


CHRONIC: tuple[Chronic, ...] = (
    Chronic(
        "hypertension",
        0.25,
        (0, 0.01, 0.03, 0.08, 0.18, 0.35, 0.55, 0.7, 0.75, 0.78, 0.78),
        record_rate=0.6,
        icd="icd_hypertension",
        meds=(("amlodipine", 0.55), ("lisinopril", 0.5)),
    ),
    Chronic(
        "t2d",
        0.09,
        (0, 0.002, 0.01, 0.03, 0.07, 0.13, 0.2, 0.24, 0.24, 0.2, 0.18),
        record_rate=0.65,
        male=1.15,
        icd="icd_t2d",
        meds=(("metformin", 0.85),),
    ),
    Chronic(
        "asthma",
        0.08,
        (0.08, 0.12, 0.1, 0.08, 0.08, 0.08, 0.08, 0.08, 0.08, 0.08, 0.08),
        record_rate=0.4,
        meds=(("albuterol", 0.9), ("fluticasone", 0.6)),
    ),
    Chronic(
        "copd",
        0.04,
        (0, 0, 0, 0.005, 0.02, 0.05, 0.09, 0.12, 0.13, 0.13, 0.12),
        record_rate=0.5,
        male=1.2,
        meds=(("albuterol", 0.9),),
    ),
    Chronic(
        "hypothyroidism",
        0.05,
        (0.002, 0.01, 0.02, 0.04, 0.05, 0.07, 0.09, 0.1, 0.1, 0.1, 0.1),
        record_rate=0.4,
        female=4.0,
        meds=(("levothyroxine", 0.95),),
    ),
    Chronic(
        "osteoarthritis",
        0.10,
        (0, 0, 0.01, 0.03, 0.08, 0.15, 0.25, 0.35, 0.4, 0.4, 0.4),
        record_rate=0.4,
        female=1.3,
        meds=(("acetaminophen", 0.6),),
    ),
    Chronic(
        "atrial_fibrillation",
        0.03,
        (0, 0, 0, 0.002, 0.005, 0.015, 0.04, 0.08, 0.12, 0.14, 0.14),
        record_rate=0.5,
        male=1.2,
        meds=(("warfarin", 0.8),),
    ),
    Chronic(
        "coronary_arteriosclerosis",
        0.04,
        (0, 0, 0, 0.005, 0.02, 0.05, 0.09, 0.13, 0.15, 0.15, 0.15),
        record_rate=0.45,
        male=1.5,
        meds=(("aspirin", 0.8), ("atorvastatin", 0.8)),
    ),
    Chronic(
        "osteoporosis",
        0.03,
        (0, 0, 0, 0, 0.01, 0.03, 0.07, 0.12, 0.18, 0.2, 0.2),
        record_rate=0.3,
        female=4.0,
        meds=(("alendronate", 0.7),),
    ),
    Chronic(
        "allergic_rhinitis",
        0.10,
        (0.05, 0.12, 0.14, 0.12, 0.1, 0.09, 0.08, 0.07, 0.06, 0.05, 0.05),
        record_rate=0.25,
        meds=(("loratadine", 0.5),),
    ),
    Chronic(
        "anemia",
        0.04,
        (0.05, 0.04, 0.04, 0.04, 0.04, 0.04, 0.05, 0.07, 0.09, 0.1, 0.1),
        record_rate=0.3,
        female=1.5,
        meds=(("ferrous_sulfate", 0.6),),
    ),
    Chronic(
        "mi",
        0.025,
        (0, 0, 0, 0.002, 0.008, 0.02, 0.04, 0.06, 0.08, 0.09, 0.09),
        record_rate=0.25,
        male=1.8,
        meds=(("clopidogrel", 0.7), ("aspirin", 0.8)),
        followup="history_of_mi",
    ),
)


@dataclass(frozen=True)
class Cancer:
    site: int  # 1..n, the population's `cancer` column
    key: str
    target: float
    curve: tuple[float, ...]
    female: float
    male: float
    death_risk: float  # added to the age-related risk of dying within the period
    chemo_share: float
    chemo_drugs: tuple[str, ...]
    first_imaging: str  # usually within 30 days before diagnosis
    second_imaging: str  # within 40 days after
    later_imaging: tuple[str, str, str]  # within 60 days either side


_ONCO = (0, 0, 0.001, 0.004, 0.012, 0.03, 0.06, 0.08, 0.08, 0.07, 0.06)
CANCERS: tuple[Cancer, ...] = (
    Cancer(
        site=1,
        key="lung_cancer",
        target=0.015,
        curve=_ONCO,
        female=1.0,
        male=1.2,
        death_risk=0.45,
        chemo_share=0.6,
        chemo_drugs=("carboplatin", "paclitaxel"),
        first_imaging="ct_chest",
        second_imaging="pet",
        later_imaging=("ct_chest", "ct", "mri"),
    ),
    Cancer(
        site=2,
        key="breast_cancer",
        target=0.015,
        curve=(0, 0, 0.002, 0.01, 0.03, 0.05, 0.06, 0.07, 0.07, 0.06, 0.06),
        female=1.0,
        male=0.01,
        death_risk=0.12,
        chemo_share=0.5,
        chemo_drugs=("paclitaxel",),
        first_imaging="mammography",
        second_imaging="mri",
        later_imaging=("ct", "pet", "mammography"),
    ),
    Cancer(
        site=3,
        key="colon_cancer",
        target=0.01,
        curve=_ONCO,
        female=1.0,
        male=1.1,
        death_risk=0.25,
        chemo_share=0.55,
        chemo_drugs=("fluorouracil",),
        first_imaging="colonoscopy",
        second_imaging="ct",
        later_imaging=("ct", "pet", "mri"),
    ),
    Cancer(
        site=4,
        key="prostate_cancer",
        target=0.015,
        curve=(0, 0, 0, 0, 0.005, 0.03, 0.08, 0.12, 0.14, 0.14, 0.14),
        female=0.0,
        male=1.0,
        death_risk=0.1,
        chemo_share=0.15,
        chemo_drugs=("paclitaxel",),
        first_imaging="mri",
        second_imaging="ct",
        later_imaging=("mri", "ct", "pet"),
    ),
    Cancer(
        site=5,
        key="pelvis_cancer",
        target=0.002,
        curve=(0, 0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.05, 0.05, 0.05, 0.05),
        female=1.2,
        male=1.0,
        death_risk=0.3,
        chemo_share=0.5,
        chemo_drugs=("carboplatin",),
        first_imaging="ct",
        second_imaging="mri",
        later_imaging=("ct", "pet", "mri"),
    ),
)
LUNG_NSCLC_SHARE = 0.5


@dataclass(frozen=True)
class Acute:
    key: str
    weights: tuple[float, float, float]  # relative frequency at ages <18, 18-64, >=65
    female_only: bool = False
    med: tuple[str, float] | None = None  # (drug item, share of episodes treated)
    icd: str | None = None  # ICD-10-CM source item some sites record instead


ACUTE: tuple[Acute, ...] = (
    Acute("viral_sinusitis", (0.22, 0.25, 0.15), med=("acetaminophen", 0.5)),
    Acute("acute_bronchitis", (0.12, 0.15, 0.15), med=("amoxicillin", 0.4)),
    Acute("otitis_media", (0.25, 0.03, 0.01), med=("amoxicillin", 0.8)),
    Acute("viral_pharyngitis", (0.18, 0.13, 0.05), med=("ibuprofen", 0.4)),
    Acute("strep_throat", (0.08, 0.03, 0.01), med=("amoxicillin", 0.9)),
    Acute("pneumonia", (0.03, 0.02, 0.06), med=("amoxicillin", 0.9)),
    Acute("cystitis", (0.02, 0.12, 0.12), female_only=True, med=("amoxicillin", 0.6)),
    Acute("ankle_sprain", (0.08, 0.1, 0.05), med=("ibuprofen", 0.8)),
    Acute("gi_bleeding", (0.001, 0.004, 0.012), icd="icd_gi_bleeding"),
    Acute("colon_polyp", (0.0, 0.008, 0.02)),
)

# Everyday drugs handed out at visits: (drug item, weight).
COMMON_DRUGS: tuple[tuple[str, float], ...] = (
    ("acetaminophen", 0.35),
    ("ibuprofen", 0.3),
    ("aspirin", 0.2),
    ("amoxicillin", 0.15),
)


def age_from_u(u: float) -> float:
    """Age (years at the end of the period) of a person drawn with uniform `u` in [0, 1):
    flat density up to 60, then linearly falling to zero at 100. Mirrored in SQL."""
    x = 80.0 * u
    return x if x < 60.0 else 100.0 - math.sqrt(max(0.0, 1600.0 - 80.0 * (x - 60.0)))


def interpolate(curve: tuple[float, ...], age: float) -> float:
    i = min(int(age // 10), len(AGE_KNOTS) - 2)
    frac = (age - AGE_KNOTS[i]) / 10.0
    return curve[i] + (curve[i + 1] - curve[i]) * frac


def calibrate(target: float, curve: tuple[float, ...], female: float, male: float) -> float:
    """The factor that turns `curve` (relative risk by age) into probabilities whose mean over
    the population's age and sex mix is `target`."""
    steps = 20_000
    mean_curve = sum(interpolate(curve, age_from_u((k + 0.5) / steps)) for k in range(steps))
    mean_curve /= steps
    known = 1.0 - UNKNOWN_SEX_SHARE
    mean_sex = known * (FEMALE_SHARE * female + (1.0 - FEMALE_SHARE) * male)
    mean_sex += UNKNOWN_SEX_SHARE * min(female, male)
    denominator = mean_curve * mean_sex
    return 0.0 if denominator == 0.0 else target / denominator
