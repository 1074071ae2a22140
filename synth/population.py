"""The synthetic population as DuckDB SQL: persons, observation periods, visits, deaths.

Every random draw is `hf_u(entity, stream, draw)`: a counter-based pseudo-random number in
[0, 1) made by chaining DuckDB's 64-bit `hash` over the seed, the person, a stream key and a
draw number. Nothing depends on thread scheduling or row order, no floating-point aggregate
feeds a draw, so one spec always yields the same rows (with the same DuckDB version).

The functions here only build SQL text from a validated `SynthSpec` (numbers only, no user
strings); the writers run it. The population is model-neutral: sexes are 'F'/'M'/'U', codes are
catalogue item numbers, and the OMOP writer maps both to concepts. Objects created (all
temporary, in the writer's connection):

- `pop_person` (table): one row per person with the person-level draws the views reuse;
- `pop_period`, `pop_visit`, `pop_death` (views) and the event views of `hyperfed.synth.events`.
"""

from __future__ import annotations

from datetime import date

from hyperfed.synth.catalogue import (
    AGE_KNOTS,
    CANCERS,
    CHRONIC,
    FEMALE_SHARE,
    ITEM_NO,
    LUNG_NSCLC_SHARE,
    UNKNOWN_SEX_SHARE,
    UTILISATION,
    calibrate,
)
from hyperfed.synth.spec import SynthSpec

__all__ = [
    "ACUTE_RATE",
    "STREAM",
    "dbl",
    "person_sql",
    "prob_sql",
    "seed_mix",
    "setup_sql",
    "visit_sql",
    "window",
]

ACUTE_RATE = 0.75  # acute diagnoses per regular visit
MAX_VISITS = 400  # regular visits of one person

# Stream keys: the second argument of hf_u. Person-level draws use stream 0 with draw numbers
# 1..99; per-event streams add the event's index to a multiple of 2**32.
_G = 2**32
STREAM = {
    "chronic": 1_000,  # + chronic index
    "cancer": 2_000,
    "visit": 1 * _G,  # + visit number
    "onc": 2 * _G,  # + oncology visit number
    "chronic_record": 3 * _G,  # + chronic index * 2**20 + record
    "acute": 4 * _G,  # + acute record
    "med": 5 * _G,
    "common_drug": 6 * _G,
    "lab": 7 * _G,
    "procedure": 8 * _G,
    "observation": 9 * _G,
}


def seed_mix(seed: int) -> int:
    """splitmix64 of the seed: neighbouring seeds give unrelated streams."""
    z = (seed + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


def dbl(x: float) -> str:
    """A DOUBLE literal (a plain `0.35` would be a DECIMAL in DuckDB)."""
    text = format(float(x), ".17g")
    return text if "e" in text else f"{text}e0"


def window(spec: SynthSpec) -> tuple[date, date]:
    return date(spec.start_year, 1, 1), date(spec.end_year, 12, 31)


def setup_sql(spec: SynthSpec) -> list[str]:
    """The macros every population query uses."""
    mix = seed_mix(spec.seed)
    visit = STREAM["visit"]
    return [
        f"""CREATE OR REPLACE TEMP MACRO hf_u(a, b, c) AS
  (hash(xor(hash(xor(hash(xor(CAST(a AS UBIGINT), CAST({mix} AS UBIGINT))),
    CAST(b AS UBIGINT))), CAST(c AS UBIGINT))) >> 11) * 1.1102230246251565e-16""",
        """CREATE OR REPLACE TEMP MACRO hf_n(a, b, c) AS
  sqrt(-2.0e0 * ln(1.0e0 - hf_u(a, b, c))) * cos(6.283185307179586e0 * hf_u(a, b, c + 500))""",
        # The day at fraction f_ of a person's observed time (one or two periods).
        """CREATE OR REPLACE TEMP MACRO hf_day(f_, s1_, n1_, s2_, n_) AS
  CASE WHEN floor(f_ * n_) < n1_ THEN s1_ + CAST(floor(f_ * n_) AS INTEGER)
       ELSE s2_ + CAST(floor(f_ * n_) - n1_ AS INTEGER) END""",
        # Regular visit j of nv, spread evenly (and in order) over the observed time.
        f"""CREATE OR REPLACE TEMP MACRO hf_vdate(p_, j_, nv_, s1_, n1_, s2_, n_) AS
  hf_day((j_ + hf_u(p_, {visit} + j_, 1)) / nv_, s1_, n1_, s2_, n_)""",
    ]


def curve_sql(curve: tuple[float, ...], age: str) -> str:
    """Piecewise-linear interpolation of `curve` (values at AGE_KNOTS) at the age column."""
    parts = []
    for i in range(len(AGE_KNOTS) - 1):
        lo, v0, v1 = AGE_KNOTS[i], curve[i], curve[i + 1]
        expr = dbl(v0) if v0 == v1 else f"({dbl(v0)} + {dbl((v1 - v0) / 10)} * ({age} - {lo}))"
        parts.append(f"WHEN {age} < {AGE_KNOTS[i + 1]} THEN {expr}")
    return f"(CASE {' '.join(parts)} ELSE {dbl(curve[-1])} END)"


def prob_sql(
    target: float, curve: tuple[float, ...], female: float, male: float, age: str, sex: str
) -> str:
    """The probability (capped at 0.95) that a person of this age and sex has the condition,
    calibrated so the population mean is `target`."""
    scale = calibrate(target, curve, female, male)
    sexf = f"(CASE {sex} WHEN 'F' THEN {dbl(female)} WHEN 'M' THEN {dbl(male)} "
    sexf += f"ELSE {dbl(min(female, male))} END)"
    return f"least(0.95e0, {dbl(scale)} * {sexf} * {curve_sql(curve, age)})"


def person_sql(spec: SynthSpec) -> str:
    """CREATE TEMP TABLE pop_person: demographics, periods, counts and person-level draws."""
    w0, w1 = window(spec)
    d0, d1 = f"DATE '{w0.isoformat()}'", f"DATE '{w1.isoformat()}'"
    female_cut = UNKNOWN_SEX_SHARE + (1 - UNKNOWN_SEX_SHARE) * FEMALE_SHARE
    u = "hf_u(person_id, 0, {})".format
    cancer_probs = ",\n    ".join(
        prob_sql(c.target * spec.cancer_scale, c.curve, c.female, c.male, "age_ref", "sex")
        + f" AS p_cancer{c.site}"
        for c in CANCERS
    )
    cancer_pick, cum = [], "0.0e0"
    for c in CANCERS:
        cum = f"{cum} + p_cancer{c.site}"
        cancer_pick.append(f"WHEN {u(40)} < {cum} THEN {c.site}")
    death_boost = " ".join(f"WHEN {c.site} THEN {dbl(c.death_risk)}" for c in CANCERS)
    chemo_share = " ".join(f"WHEN {c.site} THEN {dbl(c.chemo_share)}" for c in CANCERS)
    chronic_cols, chronic_structs = [], []
    for ci, ch in enumerate(CHRONIC):
        key, stream = ch.key, STREAM["chronic"] + ci
        has = f"hf_u(person_id, {stream}, 0) < " + prob_sql(
            ch.target, ch.curve, ch.female, ch.male, "age_ref", "sex"
        )
        j_on = f"CAST(floor(pow(hf_u(person_id, {stream}, 1), 2) * n_vis) AS INTEGER)"
        chronic_cols.append(f"CASE WHEN {has} THEN {j_on} END AS on_{key}")
        icd = f"hf_u(person_id, {stream}, 3) < {dbl(spec.icd10cm_source_share)}"
        chronic_cols.append(f"{icd if ch.icd else 'false'} AS icd_{key}")
        n_rec = (
            f"CASE WHEN on_{key} IS NULL THEN 0 ELSE 1 + CAST(floor({dbl(ch.record_rate)} * "
            f"(n_vis - on_{key} - 1) + hf_u(person_id, {stream}, 2)) AS INTEGER) END"
        )
        chronic_structs.append(
            f"{{'ci': {ci}, 'j_on': on_{key}, 'n_rec': {n_rec}, 'icd': icd_{key}}}"
        )
    chronic_block = ",\n    ".join(chronic_cols)
    util = curve_sql(UTILISATION, "age_ref")
    lung_icd = dbl(spec.icd10cm_source_share)
    lung_nsclc = dbl(spec.icd10cm_source_share + (1 - spec.icd10cm_source_share) * LUNG_NSCLC_SHARE)
    allergies = ", ".join(
        f"CASE WHEN {u(60 + i)} < {dbl(p)} THEN {ITEM_NO[k]} END"
        for i, (k, p) in enumerate(
            (("allergy_peanut", 0.02), ("allergy_grass_pollen", 0.08), ("allergy_dust_mite", 0.05))
        )
    )
    return f"""CREATE OR REPLACE TEMP TABLE pop_person AS
WITH r AS (
  SELECT CAST(i + 1 AS INTEGER) AS person_id FROM range({spec.persons}) t(i)
), a AS (
  SELECT person_id,
    CASE WHEN {u(1)} * 80 < 60 THEN {u(1)} * 80
         ELSE 100 - sqrt(greatest(0, 1600 - 80 * ({u(1)} * 80 - 60))) END AS age_ref,
    CASE WHEN {u(2)} < {dbl(UNKNOWN_SEX_SHARE)} THEN 'U'
         WHEN {u(2)} < {dbl(female_cut)} THEN 'F' ELSE 'M' END AS sex,
    CASE WHEN {u(3)} < 0.70e0 THEN 'white' WHEN {u(3)} < 0.82e0 THEN 'black'
         WHEN {u(3)} < 0.88e0 THEN 'asian' END AS race,
    CASE WHEN {u(4)} < 0.12e0 THEN 'hispanic' ELSE 'not_hispanic' END AS ethnicity
  FROM r
), b AS (
  SELECT *, {d1} - CAST(round(age_ref * 365.25e0) AS INTEGER) AS birth_date,
    {cancer_probs}
  FROM a
), c AS (
  SELECT * EXCLUDE ({", ".join(f"p_cancer{c.site}" for c in CANCERS)}),
    CASE {" ".join(cancer_pick)} ELSE 0 END AS cancer
  FROM b
), d AS (
  SELECT *,
    CASE WHEN {u(5)} < least(0.9e0, 0.01e0 + 0.35e0 * pow(greatest(age_ref - 50, 0) / 50, 2)
                             + CASE cancer {death_boost} ELSE 0.0e0 END)
         THEN greatest({d0}, birth_date) + CAST(floor(
              ({d1} - greatest({d0}, birth_date)) * (0.25e0 + 0.75e0 * {u(6)})) AS INTEGER)
    END AS death_date,
    greatest({d0}, birth_date) AS avail_start
  FROM c
), e AS (
  SELECT *, coalesce(death_date, {d1}) AS avail_end,
    CAST(coalesce(death_date, {d1}) - avail_start AS INTEGER) AS span
  FROM d
), f AS (
  SELECT *,
    CASE WHEN span < 60 OR {u(7)} < 0.35e0 THEN avail_start
         ELSE avail_start + CAST(floor(({u(7)} - 0.35e0) / 0.65e0 * 0.5e0 * span) AS INTEGER)
    END AS s_
  FROM e
), g AS (
  SELECT *,
    CASE WHEN span < 60 OR {u(8)} < 0.6e0 THEN avail_end
         ELSE avail_end - CAST(floor(({u(8)} - 0.6e0) / 0.4e0 * 0.3e0 * (avail_end - s_))
                               AS INTEGER)
    END AS e_
  FROM f
), h AS (
  SELECT *, span >= 730 AND {u(9)} < 0.2e0 AND e_ - s_ >= 400 AS two_,
    s_ + CAST(floor((e_ - s_) * (0.25e0 + 0.5e0 * {u(10)})) AS INTEGER) AS cut_
  FROM g
), i AS (
  SELECT * EXCLUDE (s_, e_, two_, cut_, span),
    s_ AS op1_start,
    CASE WHEN two_ THEN cut_ ELSE e_ END AS op1_end,
    CASE WHEN two_ THEN cut_ + 30 + CAST(floor({u(11)} * least(335, e_ - cut_ - 60)) AS INTEGER)
    END AS op2_start,
    CASE WHEN two_ THEN e_ END AS op2_end
  FROM h
), j AS (
  SELECT *, CAST(op1_end - op1_start + 1 AS INTEGER) AS len1,
    CAST(op1_end - op1_start + 1 + coalesce(op2_end - op2_start + 1, 0) AS INTEGER) AS n_days
  FROM i
), k AS (
  SELECT *, n_days / 365.25e0 * {util} * exp(0.5e0 * hf_n(person_id, 0, 20) - 0.125e0) AS lam
  FROM j
), l AS (
  SELECT * EXCLUDE (lam),
    least({MAX_VISITS}, greatest(1, CAST(floor(
      lam / (avg(CAST(lam * 1e6 AS BIGINT)) OVER () / 1e6) * {dbl(spec.visits_per_person)}
      + {u(21)}) AS INTEGER))) AS n_vis
  FROM k
), m AS (
  SELECT *,
    {chronic_block},
    CAST(floor({ACUTE_RATE}e0 * n_vis + {u(30)}) AS INTEGER) AS n_acute,
    CASE WHEN cancer = 1 THEN CASE WHEN {u(41)} < {lung_icd} THEN 2
                                   WHEN {u(41)} < {lung_nsclc} THEN 1 ELSE 0 END
         ELSE 0 END AS cancer_variant,
    CASE WHEN cancer > 0 THEN 2 + CAST(floor({u(42)} * 4) AS INTEGER) ELSE 0 END AS n_img,
    CASE WHEN cancer > 0 AND {u(43)} < CASE cancer {chemo_share} ELSE 0.0e0 END
         THEN 4 + CAST(floor({u(44)} * 5) AS INTEGER) ELSE 0 END AS n_chemo,
    hf_day(0.15e0 + 0.8e0 * {u(45)}, op1_start, len1, op2_start, n_days) AS dx0_
  FROM l
), n AS (
  SELECT * EXCLUDE (dx0_),
    CASE WHEN dx0_ <= op1_end THEN op1_start ELSE op2_start END AS dx_ps,
    CASE WHEN dx0_ <= op1_end THEN op1_end ELSE op2_end END AS dx_pe,
    dx0_
  FROM m
), o AS (
  SELECT * EXCLUDE (dx0_),
    CASE WHEN cancer = 0 THEN NULL
         WHEN dx_pe - dx_ps >= 400 THEN greatest(dx_ps + 60, least(dx0_, dx_pe - 200))
         ELSE dx0_ END AS dx_date,
    CASE WHEN cancer > 0 THEN 1 + n_img + n_chemo ELSE 0 END AS n_onc,
    list_filter([{", ".join(chronic_structs)}], lambda x: x.n_rec > 0) AS chronic,
    CASE WHEN op1_start - birth_date < 15 * 365 THEN NULL
         WHEN {u(50)} < CASE WHEN cancer = 1 THEN 0.55e0 WHEN on_copd IS NOT NULL THEN 0.45e0
                             ELSE 0.18e0 END THEN 2
         WHEN {u(50)} < CASE WHEN cancer = 1 THEN 0.9e0 WHEN on_copd IS NOT NULL THEN 0.85e0
                             ELSE 0.4e0 END THEN 1
         ELSE 0 END AS smoking,
    list_filter([{allergies}], lambda x: x IS NOT NULL) AS allergies
  FROM n
)
SELECT *,
  CASE WHEN smoking IS NULL THEN 0 ELSE 1 + CAST(floor({u(51)} * 3) AS INTEGER) END AS n_smoking,
  CAST(sum(n_vis + n_onc) OVER (ORDER BY person_id ROWS UNBOUNDED PRECEDING)
       - (n_vis + n_onc) AS BIGINT) AS visit_base
FROM o"""


def visit_sql() -> list[str]:
    """hf_visit (table): every visit with the person columns events need, computed once;
    pop_visit: the neutral view.

    Visits 0 .. n_vis-1 are regular, in date order. Cancer patients then get n_onc oncology
    visits: the diagnosis (kind 1), imaging around it (kind 2), chemotherapy cycles (kind 3).
    """
    onc = STREAM["onc"]
    vis = STREAM["visit"]
    hf_visit = f"""CREATE OR REPLACE TEMP TABLE hf_visit AS
WITH v AS (
  SELECT *, CAST(unnest(range(n_vis + n_onc)) AS INTEGER) AS j FROM pop_person
), k AS (
  SELECT *,
    CASE WHEN j < n_vis THEN 0 WHEN j = n_vis THEN 1 WHEN j <= n_vis + n_img THEN 2 ELSE 3 END
      AS kind,
    j - n_vis AS m
  FROM v
), d AS (
  SELECT *,
    CASE WHEN kind = 0 THEN hf_vdate(person_id, j, n_vis, op1_start, len1, op2_start, n_days)
         WHEN kind = 1 THEN dx_date
         ELSE least(dx_pe, greatest(dx_ps, dx_date + CAST(
           CASE WHEN kind = 3 THEN 21 * (m - n_img) + floor(hf_u(person_id, {onc} + m, 2) * 4)
                WHEN m = 1 AND hf_u(person_id, {onc} + m, 1) < 0.85e0
                  THEN -1 - floor(hf_u(person_id, {onc} + m, 2) * 29)
                WHEN m = 1 THEN 1 + floor(hf_u(person_id, {onc} + m, 2) * 29)
                WHEN m = 2 THEN 1 + floor(hf_u(person_id, {onc} + m, 2) * 40)
                ELSE -60 + floor(hf_u(person_id, {onc} + m, 2) * 121) END AS INTEGER)))
    END AS visit_date
  FROM k
)
SELECT person_id, j, m, kind, visit_date, sex, cancer, cancer_variant, dx_date, on_anemia,
  on_t2d, on_hypertension, avail_end, op1_end, op2_end,
  CAST(visit_base + j + 1 AS INTEGER) AS visit_id,
  (visit_date - birth_date) / 365.25e0 AS age,
  CASE WHEN kind > 0 THEN 'OP'
       WHEN hf_u(person_id, {vis} + j, 2) < 0.07e0 THEN 'IP'
       WHEN hf_u(person_id, {vis} + j, 2) < 0.15e0 THEN 'ER' ELSE 'OP' END AS visit_class
FROM d"""
    pop_visit = f"""CREATE OR REPLACE TEMP VIEW pop_visit AS
SELECT person_id, j AS visit_no, visit_id, kind, visit_class, visit_date AS start_date,
  CASE WHEN visit_class = 'IP' THEN least(
         CASE WHEN visit_date <= op1_end THEN op1_end ELSE op2_end END,
         visit_date + 1 + least(29, CAST(floor(-ln(1.0e0 - hf_u(person_id, {vis} + j, 3)) * 3)
                                     AS INTEGER)))
       ELSE visit_date END AS end_date,
  CASE WHEN kind = 0 AND j > 0 THEN visit_id - 1 END AS preceding_visit_id
FROM hf_visit"""
    pop_period = """CREATE OR REPLACE TEMP VIEW pop_period AS
SELECT person_id, 1 AS period_no, op1_start AS start_date, op1_end AS end_date FROM pop_person
UNION ALL
SELECT person_id, 2, op2_start, op2_end FROM pop_person WHERE op2_start IS NOT NULL"""
    causes = " ".join(f"WHEN {c.site} THEN {ITEM_NO[c.key]}" for c in CANCERS)
    pop_death = f"""CREATE OR REPLACE TEMP VIEW pop_death AS
SELECT person_id, death_date,
  CASE WHEN cancer > 0 AND hf_u(person_id, 0, 70) < 0.7e0 THEN
    CASE cancer {causes} END
  END AS cause_item
FROM pop_person WHERE death_date IS NOT NULL"""
    return [hf_visit, pop_visit, pop_period, pop_death]
