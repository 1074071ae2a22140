"""Compile tests: query in, SQL out, for DuckDB and PostgreSQL, without a database."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import sqlglot

from hyperfed.adapters.hql.bindings import CodesBinding, EveryoneBinding, SexBinding, Unexpressible
from hyperfed.adapters.hql.canonical import canonicalize
from hyperfed.adapters.hql.model import Code, Query, dated
from hyperfed.adapters.omop.plans import compile_count
from hyperfed.adapters.omop.schema import CdmSchema, Table
from hyperfed.adapters.omop.tables import EVENT_TABLES, PERSON_COLUMNS
from hyperfed.adapters.omop.vocab import CodeRef, ResolvedCode, VocabLookup

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
AS_OF = dt.date(2024, 6, 30)


def _schema(upper: bool = False) -> CdmSchema:
    def name(x: str) -> str:
        return x.upper() if upper else x

    tables = {"person": Table(name("person"), {c: name(c) for c in PERSON_COLUMNS})}
    for t in EVENT_TABLES:
        cols = ["person_id", t.concept, t.start]
        cols += [c for c in (t.source_value, t.value, t.unit) if c]
        tables[t.table] = Table(
            name(t.table), {c: name(c) for c in cols}, {c: "DOUBLE" for c in cols if c == t.value}
        )
    return CdmSchema("cdm", tables, "5.4", linked=frozenset(t.table for t in EVENT_TABLES))


def _vocab() -> VocabLookup:
    return VocabLookup(
        codes={
            CodeRef(SNOMED, "74474003", True): ResolvedCode(by_domain={"Condition": (192671, 9)}),
            CodeRef(SNOMED, "363358000", True): ResolvedCode(
                by_domain={"Condition": (4115276, 4311499)}
            ),
            CodeRef(SNOMED, "77477000", True): ResolvedCode(by_domain={"Procedure": (4019823,)}),
            CodeRef(LOINC, "718-7", True): ResolvedCode(by_domain={"Measurement": (3000963,)}),
            CodeRef(SNOMED, "x'); DROP TABLE person; --", True): ResolvedCode(
                source_values=("x'); DROP TABLE person; --",)
            ),
        },
        units={"g/dL": (8713,), "g/L": (8636,)},
    )


def _compile(doc: dict, bindings: dict | None = None, upper: bool = False):  # type: ignore[no-untyped-def]
    q = dated(canonicalize(Query.model_validate({"hql": "1", **doc})), AS_OF)
    return compile_count(q, bindings or {}, _schema(upper), _vocab())


GI = {"code": {"system": SNOMED, "code": "74474003"}}


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "trino", "spark", "bigquery"])
def test_one_compiled_tree_renders_for_many_dialects(dialect: str) -> None:
    c = _compile(
        {"criteria": {"all": [GI, {"concept": "hf:Female"}, {"age": {"min": 60}}]}},
        {"hf:Female": SexBinding(sex="female")},
    )
    sql = c.render(dialect)
    assert "192671" in sql and "8532" in sql
    sqlglot.parse_one(sql, read=dialect)  # the output is valid in that dialect's grammar


def test_a_positive_event_drives_the_plan_as_hand_written_sql_would() -> None:
    sql = _compile({"criteria": GI}).render("duckdb")
    assert sql == (
        'SELECT COUNT(DISTINCT "e1"."person_id") AS n FROM "cdm"."condition_occurrence" AS e1 '
        'WHERE "e1"."condition_concept_id" IN (9, 192671)'
    )
    # events of a table not verified to reference only known persons: PERSON is joined
    unverified = compile_count(
        dated(canonicalize(Query.model_validate({"hql": "1", "criteria": GI})), AS_OF),
        {},
        dataclasses.replace(_schema(), linked=frozenset()),
        _vocab(),
    ).render("duckdb")
    assert 'JOIN "cdm"."person" AS p' in unverified
    # with a person attribute in the question, the person is joined
    sql = _compile({"criteria": {"all": [GI, {"age": {"min": 60}}]}}).render("duckdb")
    assert 'JOIN "cdm"."person" AS p ON "p"."person_id" = "e1"."person_id"' in sql
    assert sql.startswith('SELECT COUNT(DISTINCT "p"."person_id")')


def test_pure_event_logic_is_set_algebra_over_person_ids() -> None:
    sql = _compile(
        {"criteria": {"all": [GI, {"not": {"code": {"system": SNOMED, "code": "363358000"}}}]}}
    ).render("postgres")
    assert " EXCEPT " in sql and "EXISTS" not in sql
    sql = _compile({"criteria": {"not": GI}}).render("duckdb")
    assert '"cdm"."person" AS p' in sql and " EXCEPT " in sql


def test_person_attributes_outside_a_conjunction_use_exists_per_person() -> None:
    sql = _compile({"criteria": {"any": [GI, {"age": {"min": 60}}]}}).render("duckdb")
    assert sql.startswith('SELECT COUNT(*) AS n FROM "cdm"."person" AS p WHERE (')
    assert " OR EXISTS(SELECT 1 FROM " in sql
    assert '"e1"."person_id" = "p"."person_id"' in sql


def test_postgres_rendering_uses_the_stored_case_of_names() -> None:
    sql = _compile({"criteria": {"any": [GI, {"age": {"min": 60}}]}}, upper=True).render("postgres")
    assert '"cdm"."PERSON" AS p' in sql
    assert '"e1"."CONDITION_CONCEPT_ID" IN (9, 192671)' in sql


def test_injected_code_stays_a_string_literal() -> None:
    evil = "x'); DROP TABLE person; --"
    sql = _compile({"criteria": {"code": {"system": SNOMED, "code": evil}}}).render("postgres")
    assert "'x''); DROP TABLE person; --'" in sql
    statements = sqlglot.parse(sql, read="postgres")
    assert len(statements) == 1 and isinstance(statements[0], sqlglot.exp.Select)


def test_not_and_any_nest() -> None:
    c = _compile(
        {
            "criteria": {
                "all": [
                    GI,
                    {
                        "not": {
                            "any": [
                                {"code": {"system": SNOMED, "code": "363358000"}},
                                {"age": {"max": 17}},
                            ]
                        }
                    },
                ]
            }
        }
    )
    sql = c.render("duckdb")
    assert "NOT COALESCE(" in sql and " OR " in sql and "4115276" in sql


def test_age_is_compared_on_birth_date_keys() -> None:
    sql = _compile({"criteria": {"age": {"min": 60, "max": 69}}}).render("duckdb")
    # born on or before 1964-06-30 (60 on 2024-06-30) and after 1954-06-30 (not yet 70)
    birth = (
        '(("p"."year_of_birth" * 10000) + (COALESCE("p"."month_of_birth", 1) * 100)'
        ' + COALESCE("p"."day_of_birth", 1))'
    )
    assert sql == (
        'SELECT COUNT(*) AS n FROM "cdm"."person" AS p '
        f"WHERE ({birth} <= 19640630 AND {birth} > 19540630)"
    )


def test_value_ranges_are_converted_per_recorded_unit() -> None:
    c = _compile(
        {
            "criteria": {
                "code": {"system": LOINC, "code": "718-7"},
                "value": {"max": 13, "unit": "g/dL"},
            }
        }
    )
    sql = c.render("duckdb")
    assert sql == (
        'SELECT COUNT(DISTINCT "e1"."person_id") AS n FROM "cdm"."measurement" AS e1 '
        'WHERE "e1"."measurement_concept_id" = 3000963 AND '
        '("e1"."unit_concept_id" IN (8636, 8713) AND "e1"."value_as_number" <= '
        'CASE "e1"."unit_concept_id" WHEN 8636 THEN 130 WHEN 8713 THEN 13 END)'
    )
    assert any("recognised unit" in n for n in c.notes)


def test_during_window_is_inclusive_on_the_start_date() -> None:
    sql = _compile(
        {"criteria": {**GI, "during": {"from": "2015-01-01", "to": "2019-12-31"}}}
    ).render("postgres")
    assert sql == (
        'SELECT COUNT(DISTINCT "e1"."person_id") AS n FROM "cdm"."condition_occurrence" AS e1 '
        'WHERE "e1"."condition_concept_id" IN (9, 192671) '
        'AND "e1"."condition_start_date" >= CAST(\'2015-01-01\' AS DATE) '
        'AND "e1"."condition_start_date" <= CAST(\'2019-12-31\' AS DATE)'
    )


def test_relative_window_and_occurrences_group_per_person() -> None:
    c = _compile(
        {
            "criteria": {
                "code": {"system": SNOMED, "code": "77477000"},
                "occurrences": {"min": 2},
                "within": {
                    "of": {"code": {"system": SNOMED, "code": "363358000"}},
                    "days_before": 30,
                },
            }
        }
    )
    duck = c.render("duckdb")
    pg = c.render("postgres")
    assert "HAVING COUNT(*) >= 2" in duck and "INTERVAL '30' DAY" in duck.replace(
        "INTERVAL 30 DAY", "INTERVAL '30' DAY"
    )
    assert "INTERVAL '30 DAY'" in pg and "procedure_occurrence" in pg
    assert "condition_occurrence" in pg


def test_stratified_query_groups_by_sex_and_age_band_labels() -> None:
    c = _compile({"criteria": GI, "stratify": {"by": ["sex", "age"], "age_bands": [0, 50]}})
    sql = c.render("duckdb")
    assert c.strata == ("sex", "age")
    assert "'female'" in sql and "'0-49'" in sql and "'50+'" in sql and "GROUP BY 1, 2" in sql


def test_unexpressible_and_unbound_concepts_are_reported_not_dropped() -> None:
    c = _compile(
        {"criteria": {"all": [GI, {"concept": "hf:Lung"}, {"concept": "hf:Nowhere"}]}},
        {"hf:Lung": Unexpressible(reason="body part has no OMOP binding")},
    )
    assert c.sql is None
    paths = {u.path: u.reason for u in c.unsupported}
    assert paths["criteria.all[1]"] == "body part has no OMOP binding"
    assert "criteria.all[2]" in paths


def test_everyone_and_codes_bindings() -> None:
    c = _compile(
        {"criteria": {"all": [{"concept": "hf:Person"}, {"concept": "hf:GIBleed"}]}},
        {
            "hf:Person": EveryoneBinding(),
            "hf:GIBleed": CodesBinding(codes=[Code(system=SNOMED, code="74474003")]),
        },
    )
    assert "192671" in c.render("duckdb")


def test_an_anchor_that_names_no_events_is_unsupported_not_false() -> None:
    # under "not", a silently false anchor would broaden the count to everyone
    for binding in (
        Unexpressible(reason="body part has no OMOP binding"),
        SexBinding(sex="female"),
    ):
        c = _compile(
            {"criteria": {"not": {**GI, "within": {"of": {"concept": "hf:X"}, "days_before": 30}}}},
            {"hf:X": binding},
        )
        assert c.sql is None
        assert [u.path for u in c.unsupported] == ["criteria.not.within.of"]
