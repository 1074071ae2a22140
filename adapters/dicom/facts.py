"""Dataset facts of a DICOM series index for the catalogue (`DicomAdapter.facts`): exact,
internal to the node, read from `dicom_series` with the adapter's own person rules.

- persons: distinct `person_key` (series without a patient never count); a dataset of the
  node config restricts to the index's `dataset` value of that name when the index has one
  (an XNAT project, an IDC collection), else the whole index is the dataset;
- records: **studies** (distinct StudyInstanceUID), `record_kind` "studies";
- sex: the PatientSex all of a person's series agree on (F female, M male, O other), else
  unknown; age in whole years on `as_of` from the person's birth year (`birth_year`, else
  the earliest study year minus `age_years`), the birthday taken as 1 January — as queries;
- persons per calendar year with a study (StudyDate);
- coding system DICOM DCM with the modality codes present, persons each;
- EUCAIM's imaging facets, persons per value: modality, body part (BodyPartExamined),
  manufacturer, sex;
- health category MIDI (medical imaging).

Over DICOMweb (a PACS) there are no facts: they would need the whole archive searched.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlglot import exp

from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.facts import ExactFacts
from hyperfed.adapters.sql import Runner, fetch_query

__all__ = ["dicom_facts"]

DCM = "http://dicom.nema.org/resources/ontology/DCM"
_SEX = {"F": "female", "M": "male", "O": "other"}
_FACETS = (("modality", "Modality"), ("body_part", "BodyPartExamined"),
           ("manufacturer", "Manufacturer"))  # fmt: skip


def _col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def dicom_facts(
    runner: Runner,
    available: frozenset[str] | set[str],
    dataset: str,
    as_of: dt.date,
    deadline: Deadline | None = None,
) -> ExactFacts:
    has = available.__contains__
    pk = _col("person_key")
    where: list[exp.Expr] = [pk.copy().is_(exp.null()).not_()]
    if has("dataset"):
        named = fetch_query(
            runner,
            exp.select(exp.func("COUNT", exp.Star()))
            .from_("dicom_series")
            .where(_col("dataset").eq(exp.Literal.string(dataset))),
            deadline,
        )
        if named[0][0]:
            where.append(_col("dataset").eq(exp.Literal.string(dataset)))

    def series() -> exp.Select:
        return exp.select().from_("dicom_series").where(*[w.copy() for w in where])

    distinct_persons = exp.func("COUNT", exp.Distinct(expressions=[pk.copy()]))
    studies = (
        exp.func("COUNT", exp.Distinct(expressions=[_col("StudyInstanceUID")]))
        if has("StudyInstanceUID")
        else exp.Literal.number(0)
    )
    ((persons, records),) = fetch_query(
        runner, series().select(distinct_persons, studies), deadline
    )

    study_year = exp.Extract(this=exp.var("YEAR"), expression=_col("StudyDate"))
    sex = (
        exp.Case().when(
            exp.func("COUNT", exp.Distinct(expressions=[_col("PatientSex")])).eq(1),
            exp.func("MAX", _col("PatientSex")),
        )
        if has("PatientSex")
        else exp.null()
    )
    births: list[exp.Expr] = []
    if has("birth_year"):
        births.append(exp.func("MIN", _col("birth_year")))
    if has("age_years") and has("StudyDate"):
        births.append(exp.func("MIN", study_year.copy() - _col("age_years")))
    birth = exp.func("COALESCE", *births) if births else exp.null()
    per_person = (
        series().select(pk.copy().as_("p"), sex.as_("sex"), birth.as_("birth")).group_by(pk.copy())
    )
    by_sex: dict[str, int] = defaultdict(int)
    by_age: dict[int, int] = defaultdict(int)
    groups = (
        exp.select(exp.column("sex"), exp.column("birth"), exp.func("COUNT", exp.Star()))
        .from_(exp.paren(per_person).as_("pp"))
        .group_by(exp.Literal.number(1), exp.Literal.number(2))
    )
    for s, b, n in fetch_query(runner, groups, deadline):
        by_sex[_SEX.get(str(s or "").upper(), "unknown")] += int(n)
        if b is not None and int(b) <= as_of.year:
            by_age[as_of.year - int(b)] += int(n)  # born on 1 January of that year

    by_year: dict[int, int] = {}
    if has("StudyDate"):
        years = (
            series()
            .select(study_year.as_("y"), distinct_persons.copy())
            .group_by(exp.Literal.number(1))
        )
        by_year = {int(y): int(n) for y, n in fetch_query(runner, years, deadline) if y is not None}

    facets: dict[str, dict[str, int]] = {}
    for facet, column in _FACETS:
        if not has(column):
            continue
        q = (
            series()
            .select(_col(column), distinct_persons.copy())
            .where(_col(column).is_(exp.null()).not_())
            .group_by(exp.Literal.number(1))
        )
        facets[facet] = {
            str(v): int(n) for v, n in fetch_query(runner, q, deadline) if str(v).strip()
        }
    facets["sex"] = {k: v for k, v in by_sex.items() if v}
    modalities = facets.get("modality", {})
    systems = {}
    if modalities:
        q = series().select(distinct_persons.copy()).where(_col("Modality").is_(exp.null()).not_())
        systems = {DCM: int(fetch_query(runner, q, deadline)[0][0])}
    return ExactFacts(
        persons=int(persons),
        records=int(records),
        record_kind="studies",
        as_of=as_of,
        persons_by_age=dict(by_age),
        persons_by_sex=dict(by_sex),
        persons_by_year=by_year,
        coding_systems=systems,
        code_values={(DCM, m): n for m, n in modalities.items()},
        facets=facets,
        health_categories=("MIDI",),
    )
