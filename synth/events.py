"""The population's clinical events as DuckDB views (model-neutral, item numbers for codes).

Every view has `person_id`, an ordering key `(s, k1, k2)` unique within the person (the writers
number rows in that order), the item, the date and the `visit_id` of the visit it belongs to.
Events are placed on visits (see `hyperfed.synth.population`), so all of them fall inside an
observation period, after birth and not after death.

- `pop_condition`: chronic conditions (onset, then re-coded at later visits), acute episodes,
  cancer diagnoses (at the diagnosis visit and each chemotherapy cycle); `source_item` is the
  ICD-10-CM code when the site recorded that instead of SNOMED.
- `pop_drug`: chronic therapy, acute treatment, everyday drugs, chemotherapy.
- `pop_measurement`: per-visit vital signs and labs, `value` in the recorded unit.
- `pop_procedure`: per-visit procedures, cancer imaging around diagnosis, chemotherapy.
- `pop_observation`: smoking status (with a value item), allergies, history of MI.
"""

from __future__ import annotations

from hyperfed.synth.catalogue import ACUTE, CANCERS, CHRONIC, COMMON_DRUGS, ITEM_NO
from hyperfed.synth.population import STREAM, dbl
from hyperfed.synth.spec import SynthSpec

__all__ = ["event_sql"]

_I = ITEM_NO
_PERSON_COLS = "person_id, n_vis, op1_start, len1, op2_start, n_days, visit_base, avail_end"
_VDATE = "hf_vdate(person_id, j, n_vis, op1_start, len1, op2_start, n_days)"


def _case(column: str, pairs: list[tuple[int, str]], default: str = "NULL") -> str:
    whens = " ".join(f"WHEN {k} THEN {v}" for k, v in pairs)
    return f"CASE {column} {whens} ELSE {default} END"


def _pick(u: str, options: list[tuple[str, float]]) -> str:
    """A categorical draw: the item whose cumulative weight first exceeds u * total."""
    total = sum(w for _, w in options)
    whens, cum = [], 0.0
    for key, w in options[:-1]:
        cum += w / total
        whens.append(f"WHEN {u} < {dbl(cum)} THEN {_I[key]}")
    return f"CASE {' '.join(whens)} ELSE {_I[options[-1][0]]} END"


def _chronic_rec_sql() -> str:
    stream = STREAM["chronic_record"]
    items = _case("ci", [(i, str(_I[c.key])) for i, c in enumerate(CHRONIC)])
    icd = _case("ci", [(i, str(_I[c.icd])) for i, c in enumerate(CHRONIC) if c.icd])
    return f"""CREATE OR REPLACE TEMP VIEW hf_chronic_rec AS
WITH c AS (
  SELECT {_PERSON_COLS}, unnest(chronic, recursive := true)
  FROM pop_person WHERE len(chronic) > 0
), r AS (
  SELECT *, CAST(unnest(range(n_rec)) AS INTEGER) AS r FROM c
), j AS (
  SELECT *, CASE WHEN r = 0 THEN j_on ELSE j_on + 1 + CAST(floor(
      (r - 1 + hf_u(person_id, {stream} + ci * 1048576 + r, 0)) * (n_vis - j_on - 1)
      / (n_rec - 1)) AS INTEGER) END AS j
  FROM r
)
SELECT person_id, ci, r, j, CAST(visit_base + j + 1 AS INTEGER) AS visit_id, {_VDATE} AS d,
  avail_end, {items} AS item, CASE WHEN icd THEN {icd} END AS icd_item
FROM j"""


def _acute_rec_sql(spec: SynthSpec) -> str:
    stream = STREAM["acute"]
    groups = [_pick("u_item", [(a.key, a.weights[g]) for a in ACUTE]) for g in range(3)]
    remap = " ".join(
        f"WHEN item0 = {_I[a.key]} AND sex <> 'F' THEN {_I['acute_bronchitis']}"
        for a in ACUTE
        if a.female_only
    )
    icd = " ".join(
        f"WHEN item0 = {_I[a.key]} AND hf_u(person_id, {stream} + k, 3) < "
        f"{dbl(spec.icd10cm_source_share)} THEN {_I[a.icd]}"
        for a in ACUTE
        if a.icd
    )
    return f"""CREATE OR REPLACE TEMP VIEW hf_acute_rec AS
WITH a AS (
  SELECT {_PERSON_COLS}, sex, birth_date, CAST(unnest(range(n_acute)) AS INTEGER) AS k
  FROM pop_person WHERE n_acute > 0
), b AS (
  SELECT *, CAST(floor(hf_u(person_id, {stream} + k, 0) * n_vis) AS INTEGER) AS j,
    hf_u(person_id, {stream} + k, 1) AS u_item
  FROM a
), c AS (
  SELECT *, {_VDATE} AS d FROM b
), e AS (
  SELECT *, CASE WHEN (d - birth_date) / 365.25e0 < 18 THEN {groups[0]}
                 WHEN (d - birth_date) / 365.25e0 < 65 THEN {groups[1]}
                 ELSE {groups[2]} END AS item0
  FROM c
)
SELECT person_id, k, j, CAST(visit_base + j + 1 AS INTEGER) AS visit_id, d, avail_end,
  least(avail_end, d + 5 + CAST(floor(hf_u(person_id, {stream} + k, 2) * 16) AS INTEGER))
    AS end_date,
  CASE {remap} ELSE item0 END AS item,
  CASE {icd} END AS source_item
FROM e"""


def _cancer_item(col: str = "cancer") -> str:
    lung = f"CASE cancer_variant WHEN 1 THEN {_I['nsclc']} ELSE {_I['lung_cancer']} END"
    return _case(col, [(c.site, lung if c.site == 1 else str(_I[c.key])) for c in CANCERS])


def _condition_sql() -> str:
    followups = [str(i) for i, c in enumerate(CHRONIC) if c.followup]
    not_followup = f"r = 0 OR ci NOT IN ({', '.join(followups)})" if followups else "true"
    return f"""CREATE OR REPLACE TEMP VIEW pop_condition AS
SELECT person_id, 1 AS s, ci AS k1, r AS k2, item, icd_item AS source_item, d AS start_date,
  CAST(NULL AS DATE) AS end_date, visit_id
FROM hf_chronic_rec WHERE {not_followup}
UNION ALL
SELECT person_id, 2, k, 0, item, source_item, d, end_date, visit_id FROM hf_acute_rec
UNION ALL
SELECT person_id, 3, j, 0, {_cancer_item()},
  CASE WHEN cancer = 1 AND cancer_variant = 2 THEN {_I["icd_lung_cancer"]} END,
  visit_date, NULL, visit_id
FROM hf_visit WHERE kind IN (1, 3)"""


def _values(rows: list[tuple[int | float, ...]]) -> str:
    return ", ".join(
        "(" + ", ".join(dbl(v) if isinstance(v, float) else str(v) for v in r) + ")" for r in rows
    )


def _drug_sql() -> str:
    med, acute, common = STREAM["med"], STREAM["acute"], STREAM["common_drug"]
    chronic_meds = _values(
        [
            (ci, mi, _I[d], share)
            for ci, c in enumerate(CHRONIC)
            for mi, (d, share) in enumerate(c.meds)
        ]
    )
    acute_meds = _values([(_I[a.key], _I[a.med[0]], a.med[1]) for a in ACUTE if a.med])
    chemo = _values(
        [
            (c.site, di, _I[d])
            for c in CANCERS
            for di, d in enumerate((*c.chemo_drugs, "ondansetron"))
        ]
    )
    common_pick = _pick(f"hf_u(person_id, {common} + j * 2 + t, 1)", list(COMMON_DRUGS))
    child_safe = (
        f"CASE WHEN item0 = {_I['aspirin']} AND age < 16 THEN {_I['acetaminophen']} ELSE item0 END"
    )
    return f"""CREATE OR REPLACE TEMP VIEW pop_drug AS
WITH chronic AS (
  SELECT r.*, m.mi, m.drug,
    CASE WHEN hf_u(r.person_id, {med} + 1048576 * (r.ci * 16 + m.mi + 1) + r.r, 2) < 0.5e0
         THEN 30 ELSE 90 END AS days
  FROM hf_chronic_rec r JOIN (VALUES {chronic_meds}) m(ci, mi, drug, share) ON r.ci = m.ci
  WHERE hf_u(r.person_id, {med} + r.ci * 16 + m.mi, 0) < m.share
    AND hf_u(r.person_id, {med} + 1048576 * (r.ci * 16 + m.mi + 1) + r.r, 1) < 0.85e0
), acute AS (
  SELECT a.*, m.drug, 7 + CAST(floor(hf_u(a.person_id, {acute} + a.k, 6) * 4) AS INTEGER) AS days
  FROM hf_acute_rec a JOIN (VALUES {acute_meds}) m(item, drug, share) ON a.item = m.item
  WHERE hf_u(a.person_id, {acute} + a.k, 5) < m.share
), common AS (
  SELECT person_id, j, t, visit_id, visit_date, avail_end, age, {common_pick} AS item0,
    1 + CAST(floor(hf_u(person_id, {common} + j * 2 + t, 2) * 14) AS INTEGER) AS days
  FROM hf_visit CROSS JOIN range(2) x(t)
  WHERE kind = 0 AND hf_u(person_id, {common} + j * 2 + t, 0) < 0.5e0
)
SELECT person_id, 1 AS s, ci * 16 + mi AS k1, r AS k2, drug AS item, d AS start_date,
  least(avail_end, d + days - 1) AS end_date, days AS days_supply, days AS quantity,
  CAST(floor(hf_u(person_id, {med} + 1048576 * (ci * 16 + mi + 1) + r, 3) * 4) AS INTEGER)
    AS refills, visit_id
FROM chronic
UNION ALL
SELECT person_id, 2, k, 0, drug, d, least(avail_end, d + days - 1), days, days * 3, 0, visit_id
FROM acute
UNION ALL
SELECT person_id, 3, j, CAST(t AS INTEGER), {child_safe}, visit_date,
  least(avail_end, visit_date + days - 1), days, days, 0, visit_id
FROM common
UNION ALL
SELECT v.person_id, 4, v.j, c.di, c.drug, v.visit_date, v.visit_date, 1, 1, 0, v.visit_id
FROM hf_visit v JOIN (VALUES {chemo}) c(site, di, drug) ON v.cancer = c.site
WHERE v.kind = 3"""


def _measurement_sql(spec: SynthSpec) -> str:
    lab = STREAM["lab"]
    adult = "age >= 18"
    t2d_now = "(on_t2d IS NOT NULL AND j >= on_t2d)"
    htn_now = "(on_hypertension IS NOT NULL AND j >= on_hypertension)"
    hb_gl, missing = spec.hemoglobin_g_per_l_share, spec.missing_unit_share
    cr_umol = spec.creatinine_umol_per_l_share
    u = _I
    # (index, item, probability, raw value, value and unit expressions over raw and uu)
    labs: list[tuple[int, str, str, str, str, str]] = [
        (
            0,
            "hemoglobin",
            "CASE kind WHEN 0 THEN 0.35e0 WHEN 1 THEN 0.8e0 WHEN 3 THEN 0.95e0 ELSE 0.0e0 END",
            "greatest(4.0e0, CASE sex WHEN 'F' THEN 12.5e0 WHEN 'M' THEN 13.5e0 ELSE 13.0e0 END"
            " - CASE WHEN on_anemia IS NOT NULL THEN 1.8e0 ELSE 0.0e0 END"
            " - CASE WHEN kind = 3 THEN 1.0e0 ELSE 0.0e0 END + 1.5e0 * n1)",
            f"CASE WHEN uu < {dbl(hb_gl)} THEN round(raw * 10, 0) ELSE round(raw, 1) END",
            f"CASE WHEN uu < {dbl(hb_gl)} THEN {u['g/L']} WHEN uu < {dbl(hb_gl + missing)} "
            f"THEN NULL ELSE {u['g/dL']} END",
        ),
        (
            1,
            "creatinine",
            f"CASE kind WHEN 0 THEN CASE WHEN {adult} THEN 0.3e0 ELSE 0.05e0 END "
            "WHEN 1 THEN 0.6e0 WHEN 3 THEN 0.9e0 ELSE 0.0e0 END",
            "exp(ln(CASE sex WHEN 'M' THEN 0.95e0 WHEN 'F' THEN 0.75e0 ELSE 0.85e0 END)"
            " + 0.004e0 * greatest(age - 40, 0) + 0.2e0 * n1)",
            f"CASE WHEN uu < {dbl(cr_umol)} THEN round(raw * 88.4e0, 0) ELSE round(raw, 2) END",
            f"CASE WHEN uu < {dbl(cr_umol)} THEN {u['umol/L']} WHEN uu < {dbl(cr_umol + missing)} "
            f"THEN NULL ELSE {u['mg/dL']} END",
        ),
        (
            2,
            "glucose",
            f"CASE WHEN kind = 0 AND {adult} THEN 0.25e0 WHEN kind = 1 THEN 0.3e0 ELSE 0.0e0 END",
            f"greatest(40.0e0, CASE WHEN {t2d_now} THEN 150 + 40 * n1 ELSE 95 + 12 * n1 END)",
            "round(raw, 0)",
            str(u["mg/dL"]),
        ),
        (
            3,
            "hba1c",
            f"CASE WHEN kind <> 0 THEN 0.0e0 WHEN {t2d_now} THEN 0.6e0 WHEN {adult} THEN 0.03e0 "
            "ELSE 0.0e0 END",
            f"greatest(3.5e0, CASE WHEN {t2d_now} THEN 7.6e0 + 1.2e0 * n1 "
            "ELSE 5.4e0 + 0.35e0 * n1 END)",
            "round(raw, 1)",
            str(u["%"]),
        ),
        (
            4,
            "psa",
            "CASE WHEN cancer = 4 AND kind IN (1, 3) THEN 1.0e0 "
            "WHEN kind = 0 AND sex = 'M' AND age >= 45 THEN 0.08e0 ELSE 0.0e0 END",
            "CASE WHEN cancer = 4 AND visit_date >= dx_date - 365 THEN exp(ln(12.0e0) + 0.7e0 * n1)"
            " ELSE exp(ln(0.8e0 + 0.03e0 * greatest(age - 45, 0)) + 0.6e0 * n1) END",
            "round(raw, 2)",
            str(u["ng/mL"]),
        ),
        (
            5,
            "bmi",
            f"CASE WHEN kind <> 0 THEN 0.0e0 WHEN {adult} THEN 0.45e0 ELSE 0.25e0 END",
            f"least(70.0e0, greatest(12.0e0, CASE WHEN {adult} "
            "THEN 27 + 5 * hf_n(person_id, 0, 80) + 0.7e0 * n1 "
            "ELSE 15.5e0 + 0.25e0 * age + 2.5e0 * hf_n(person_id, 0, 80) + 0.5e0 * n1 END))",
            "round(raw, 1)",
            str(u["kg/m2"]),
        ),
        (
            6,
            "systolic_bp",
            f"CASE WHEN kind <> 0 THEN 0.0e0 WHEN {adult} THEN 0.6e0 WHEN age >= 3 THEN 0.15e0 "
            "ELSE 0.0e0 END",
            "least(230.0e0, greatest(70.0e0, 110 + 0.45e0 * greatest(age - 20, 0)"
            f" + CASE WHEN {htn_now} THEN 14 ELSE 0 END + 12 * n1))",
            "round(raw, 0)",
            str(u["mm[Hg]"]),
        ),
        (
            7,
            "diastolic_bp",
            "",  # shares the systolic draw: both or neither
            "least(140.0e0, greatest(40.0e0, 70 + 0.15e0 * greatest(age - 20, 0)"
            f" + CASE WHEN {htn_now} THEN 8 ELSE 0 END + 8 * n1))",
            "round(raw, 0)",
            str(u["mm[Hg]"]),
        ),
    ]
    branches = []
    for idx, item, prob, raw, value, unit in labs:
        draw_idx = 6 if item == "diastolic_bp" else idx
        prob = prob or labs[6][2]
        key = f"{lab} + j * 64 + {idx}"
        branches.append(
            f"""SELECT person_id, 1 AS s, j AS k1, {idx} AS k2, {u[item]} AS item,
  visit_date AS measurement_date, {value} AS value, {unit} AS unit_item, visit_id
FROM (SELECT *, {raw} AS raw FROM (
  SELECT person_id, j, kind, sex, age, cancer, dx_date, visit_date, visit_id, on_anemia,
    on_t2d, on_hypertension,
    hf_n(person_id, {key}, 1) AS n1, hf_u(person_id, {key}, 2) AS uu
  FROM hf_visit WHERE hf_u(person_id, {lab} + j * 64 + {draw_idx}, 0) < {prob}))"""
        )
    return "CREATE OR REPLACE TEMP VIEW pop_measurement AS\n" + "\nUNION ALL\n".join(branches)


def _procedure_sql() -> str:
    proc = STREAM["procedure"]
    panel = [
        ("general_exam", "CASE visit_class WHEN 'OP' THEN 0.18e0 ELSE 0.1e0 END"),
        ("blood_draw", "0.15e0"),
        (
            "ecg",
            "CASE WHEN visit_class = 'IP' THEN 0.4e0 WHEN age >= 40 THEN 0.06e0 ELSE 0.01e0 END",
        ),
        (
            "chest_xray",
            "CASE visit_class WHEN 'ER' THEN 0.12e0 WHEN 'IP' THEN 0.2e0 ELSE 0.015e0 END",
        ),
        ("med_reconciliation", "0.1e0"),
        ("im_injection", "0.03e0"),
        ("bone_density_scan", "CASE WHEN sex = 'F' AND age >= 60 THEN 0.03e0 ELSE 0.0e0 END"),
        ("mammography", "CASE WHEN sex = 'F' AND age BETWEEN 40 AND 75 THEN 0.07e0 ELSE 0.0e0 END"),
        ("colonoscopy", "CASE WHEN age >= 50 THEN 0.012e0 ELSE 0.0e0 END"),
        ("ct", "CASE visit_class WHEN 'ER' THEN 0.08e0 WHEN 'IP' THEN 0.1e0 ELSE 0.01e0 END"),
        ("ct_chest", "CASE visit_class WHEN 'ER' THEN 0.03e0 ELSE 0.006e0 END"),
        ("mri", "0.008e0"),
    ]
    branches = [
        f"""SELECT person_id, 1 AS s, j AS k1, {i} AS k2, {_I[key]} AS item,
  visit_date AS procedure_date, visit_id
FROM hf_visit WHERE kind = 0 AND hf_u(person_id, {proc} + j * 64 + {i}, 0) < {prob}"""
        for i, (key, prob) in enumerate(panel)
    ]
    later = f"hf_u(person_id, {proc} + j * 64, 1)"
    imaging = []
    for c in CANCERS:
        pick = _pick(later, [(k, 1.0) for k in c.later_imaging])
        imaging.append(
            (
                c.site,
                f"CASE m WHEN 1 THEN {_I[c.first_imaging]} WHEN 2 THEN "
                f"{_I[c.second_imaging]} ELSE {pick} END",
            )
        )
    branches.append(
        f"""SELECT person_id, 2, j, 0,
  CASE kind WHEN 2 THEN {_case("cancer", imaging)} ELSE {_I["chemotherapy"]} END,
  visit_date, visit_id
FROM hf_visit WHERE kind IN (2, 3)"""
    )
    return "CREATE OR REPLACE TEMP VIEW pop_procedure AS\n" + "\nUNION ALL\n".join(branches)


def _observation_sql() -> str:
    obs = STREAM["observation"]
    value = _case(
        "smoking", [(0, str(_I["never_smoker"])), (1, str(_I["ex_smoker"])), (2, str(_I["smoker"]))]
    )
    followups = _case("ci", [(i, str(_I[c.followup])) for i, c in enumerate(CHRONIC) if c.followup])
    return f"""CREATE OR REPLACE TEMP VIEW pop_observation AS
WITH smoke AS (
  SELECT {_PERSON_COLS}, smoking, CAST(unnest(range(n_smoking)) AS INTEGER) AS k
  FROM pop_person WHERE n_smoking > 0
), smoke_j AS (
  SELECT *, CAST(floor(hf_u(person_id, {obs} + k, 0) * n_vis) AS INTEGER) AS j FROM smoke
), allergy AS (
  SELECT {_PERSON_COLS}, unnest(allergies) AS item,
    CAST(unnest(range(len(allergies))) AS INTEGER) AS k
  FROM pop_person WHERE len(allergies) > 0
), allergy_j AS (
  SELECT *, CAST(floor(hf_u(person_id, {obs} + 1024 + k, 0) * n_vis) AS INTEGER) AS j
  FROM allergy
)
SELECT person_id, 1 AS s, k AS k1, 0 AS k2, {_I["smoking_status"]} AS item,
  {_VDATE} AS observation_date, {value} AS value_item,
  CAST(visit_base + j + 1 AS INTEGER) AS visit_id
FROM smoke_j
UNION ALL
SELECT person_id, 2, k, 0, item, {_VDATE}, NULL, CAST(visit_base + j + 1 AS INTEGER)
FROM allergy_j
UNION ALL
SELECT person_id, 3, ci, r, {followups}, d, NULL, visit_id
FROM hf_chronic_rec WHERE r > 0 AND {followups} IS NOT NULL"""


def event_sql(spec: SynthSpec) -> list[str]:
    """CREATE statements of the event views, in dependency order."""
    return [
        _chronic_rec_sql(),
        _acute_rec_sql(spec),
        _condition_sql(),
        _drug_sql(),
        _measurement_sql(spec),
        _procedure_sql(),
        _observation_sql(),
    ]
