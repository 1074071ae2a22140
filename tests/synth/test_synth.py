"""The synthetic population and its OMOP writers: determinism, integrity, realism, variants."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import psycopg
import pytest
from typer.testing import CliRunner

from hyperfed.synth import (
    ALL_TABLES,
    Summary,
    SynthSpec,
    SynthSpecError,
    SynthWriteError,
    write_omop_duckdb,
    write_omop_postgres,
)
from hyperfed.synth.cli import app as cli_app
from hyperfed.synth.omop import clinical_select_sql
from hyperfed.synth.omop_schema import CLINICAL_TABLES, columns

SPEC = SynthSpec(persons=2_000, seed=7, hemoglobin_g_per_l_share=0.3)

# (table, date column) of every event table
EVENTS = (
    ("visit_occurrence", "visit_start_date"),
    ("condition_occurrence", "condition_start_date"),
    ("drug_exposure", "drug_exposure_start_date"),
    ("procedure_occurrence", "procedure_date"),
    ("measurement", "measurement_date"),
    ("observation", "observation_date"),
)
CONCEPT_COLUMNS = (
    ("person", "gender_concept_id"),
    ("person", "race_concept_id"),
    ("person", "ethnicity_concept_id"),
    ("visit_occurrence", "visit_concept_id"),
    ("visit_occurrence", "visit_type_concept_id"),
    ("condition_occurrence", "condition_concept_id"),
    ("condition_occurrence", "condition_source_concept_id"),
    ("drug_exposure", "drug_concept_id"),
    ("drug_exposure", "drug_source_concept_id"),
    ("procedure_occurrence", "procedure_concept_id"),
    ("measurement", "measurement_concept_id"),
    ("measurement", "unit_concept_id"),
    ("measurement", "measurement_type_concept_id"),
    ("observation", "observation_concept_id"),
    ("observation", "value_as_concept_id"),
    ("observation_period", "period_type_concept_id"),
    ("death", "cause_concept_id"),
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Summary]:
    path = tmp_path_factory.mktemp("synth") / "site.duckdb"
    return path, write_omop_duckdb(SPEC, path)


@pytest.fixture(scope="module")
def db(site: tuple[Path, Summary]) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(site[0]), read_only=True)
    yield con
    con.close()


def one(con: duckdb.DuckDBPyConnection, query: str) -> object:
    row = con.execute(query).fetchone()
    assert row is not None
    return row[0]


def checksums(path: Path) -> dict[str, str]:
    """Row count and a hash of every row in physical order, per table."""
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            table: str(
                one(
                    con,
                    f"SELECT count(*) || ':' || coalesce(md5(string_agg("
                    f"rowid || chr(9) || CAST(t AS VARCHAR), chr(10) ORDER BY rowid)), '') "
                    f"FROM {table} t",
                )
            )
            for table in ALL_TABLES
        }


def concept(con: duckdb.DuckDBPyConnection, vocabulary: str, code: str) -> int:
    value = one(
        con,
        f"SELECT concept_id FROM concept WHERE vocabulary_id = '{vocabulary}' "
        f"AND concept_code = '{code}'",
    )
    assert isinstance(value, int)
    return value


# -- determinism ---------------------------------------------------------------------------


def test_same_spec_gives_identical_tables(site: tuple[Path, Summary], tmp_path: Path) -> None:
    again = tmp_path / "again.duckdb"
    write_omop_duckdb(SPEC, again, threads=1)  # other thread count, same rows and order
    assert checksums(again) == checksums(site[0])


def test_other_seed_gives_other_tables(site: tuple[Path, Summary], tmp_path: Path) -> None:
    other = tmp_path / "other.duckdb"
    write_omop_duckdb(SynthSpec(persons=SPEC.persons, seed=8, hemoglobin_g_per_l_share=0.3), other)
    a, b = checksums(site[0]), checksums(other)
    for table in ("person", "condition_occurrence", "drug_exposure", "measurement"):
        assert a[table] != b[table], table
    assert a["concept"] == b["concept"]  # the vocabulary does not depend on the seed


# -- integrity -----------------------------------------------------------------------------


def test_summary_matches_tables_and_volumes_are_realistic(
    site: tuple[Path, Summary], db: duckdb.DuckDBPyConnection
) -> None:
    summary = site[1]
    assert set(summary.row_counts) == set(ALL_TABLES)
    for table, count in summary.row_counts.items():
        assert one(db, f"SELECT count(*) FROM {table}") == count, table
    per_person = {t: summary.row_counts[t] / SPEC.persons for t in CLINICAL_TABLES}
    assert per_person["person"] == 1
    assert 1.0 <= per_person["observation_period"] <= 1.5
    assert 6 <= per_person["visit_occurrence"] <= 11
    assert 7 <= per_person["condition_occurrence"] <= 13
    assert 10 <= per_person["drug_exposure"] <= 20
    assert 14 <= per_person["measurement"] <= 26
    assert 3 <= per_person["procedure_occurrence"] <= 8
    assert per_person["device_exposure"] == 0
    assert summary.row_counts["cdm_source"] == 1


@pytest.mark.parametrize(("table", "day"), EVENTS)
def test_events_belong_to_persons_visits_and_observation_periods(
    db: duckdb.DuckDBPyConnection, table: str, day: str
) -> None:
    bad = one(
        db,
        f"""SELECT count(*) FROM {table} e
        LEFT JOIN person p USING (person_id)
        LEFT JOIN death d USING (person_id)
        LEFT JOIN visit_occurrence v ON v.visit_occurrence_id = e.visit_occurrence_id
        WHERE p.person_id IS NULL
           OR v.person_id IS DISTINCT FROM e.person_id
           OR e.{day} < CAST(p.birth_datetime AS DATE)
           OR e.{day} > d.death_date
           OR e.{day} NOT BETWEEN DATE '2000-01-01' AND DATE '2025-12-31'
           OR NOT EXISTS (SELECT 1 FROM observation_period o WHERE o.person_id = e.person_id
                          AND e.{day} BETWEEN o.observation_period_start_date
                                          AND o.observation_period_end_date)""",
    )
    assert bad == 0
    ids = columns(table, "5.4")[0].name
    assert one(db, f"SELECT count(*) - count(DISTINCT {ids}) FROM {table}") == 0


def test_persons_and_periods_are_plausible(db: duckdb.DuckDBPyConnection) -> None:
    ages = db.execute(
        "SELECT min(2025 - year_of_birth), max(2025 - year_of_birth), "
        "avg((gender_concept_id = 8532)::INT), avg((gender_concept_id = 8551)::INT) FROM person"
    ).fetchall()[0]
    youngest, oldest, female, unknown = ages
    assert youngest == 0 and 90 <= oldest <= 100
    assert 0.45 < female < 0.56 and 0 < unknown < 0.02
    overlaps = one(
        db,
        """SELECT count(*) FROM observation_period a JOIN observation_period b
        ON a.person_id = b.person_id AND a.observation_period_id < b.observation_period_id
        AND a.observation_period_end_date >= b.observation_period_start_date""",
    )
    assert overlaps == 0
    periods = one(
        db, "SELECT max(n) FROM (SELECT count(*) AS n FROM observation_period GROUP BY person_id)"
    )
    assert periods == 2
    assert one(db, "SELECT count(DISTINCT person_id) FROM observation_period") == SPEC.persons


@pytest.mark.parametrize(("table", "column"), CONCEPT_COLUMNS)
def test_event_concepts_exist_in_concept(
    db: duckdb.DuckDBPyConnection, table: str, column: str
) -> None:
    missing = one(
        db,
        f"SELECT count(*) FROM {table} t LEFT JOIN concept c ON c.concept_id = t.{column} "
        f"WHERE t.{column} IS NOT NULL AND c.concept_id IS NULL",
    )
    assert missing == 0
    if (
        column.endswith(("_concept_id",))
        and "source" not in column
        and column != "cause_concept_id"
    ):
        non_standard = one(
            db,
            f"SELECT count(*) FROM {table} t JOIN concept c ON c.concept_id = t.{column} "
            f"WHERE t.{column} <> 0 AND c.standard_concept IS DISTINCT FROM 'S'",
        )
        assert non_standard == 0


def test_concept_ancestor_is_a_closure_with_self_rows(db: duckdb.DuckDBPyConnection) -> None:
    missing_self = one(
        db,
        """SELECT count(*) FROM concept c WHERE c.standard_concept IN ('S', 'C')
        AND NOT EXISTS (SELECT 1 FROM concept_ancestor a WHERE a.ancestor_concept_id = c.concept_id
          AND a.descendant_concept_id = c.concept_id AND a.min_levels_of_separation = 0
          AND a.max_levels_of_separation = 0)""",
    )
    assert missing_self == 0
    not_transitive = one(
        db,
        """SELECT count(*) FROM concept_ancestor x JOIN concept_ancestor y
        ON x.descendant_concept_id = y.ancestor_concept_id
        WHERE NOT EXISTS (SELECT 1 FROM concept_ancestor z
          WHERE z.ancestor_concept_id = x.ancestor_concept_id
            AND z.descendant_concept_id = y.descendant_concept_id)""",
    )
    assert not_transitive == 0
    malignant = concept(db, "SNOMED", "363346000")
    lung = concept(db, "SNOMED", "363358000")
    nsclc = concept(db, "SNOMED", "254637007")
    rows = db.execute(
        f"SELECT descendant_concept_id, min_levels_of_separation FROM concept_ancestor "
        f"WHERE ancestor_concept_id = {malignant} ORDER BY 2, 1"
    ).fetchall()
    assert (lung, 1) in rows and (nsclc, 2) in rows and (malignant, 0) in rows
    ct, ct_chest = concept(db, "SNOMED", "77477000"), concept(db, "SNOMED", "169069000")
    assert one(
        db,
        f"SELECT count(*) FROM concept_ancestor WHERE ancestor_concept_id = {ct} "
        f"AND descendant_concept_id = {ct_chest}",
    )


def test_icd10cm_codes_map_to_standard_snomed(db: duckdb.DuckDBPyConnection) -> None:
    maps = dict(
        db.execute(
            """SELECT s.concept_code, t.concept_code FROM concept_relationship r
            JOIN concept s ON s.concept_id = r.concept_id_1
            JOIN concept t ON t.concept_id = r.concept_id_2
            WHERE r.relationship_id = 'Maps to' AND s.vocabulary_id = 'ICD10CM'
              AND t.standard_concept = 'S'"""
        ).fetchall()
    )
    assert maps["C34.90"] == "363358000"
    assert maps["K92.2"] == "74474003"
    icd_only = db.execute(
        f"""SELECT count(DISTINCT person_id), min(condition_concept_id), max(condition_concept_id)
        FROM condition_occurrence WHERE condition_source_value = 'C34.90'
          AND condition_source_concept_id = {concept(db, "ICD10CM", "C34.90")}"""
    ).fetchall()[0]
    assert icd_only[0] > 0
    assert icd_only[1] == icd_only[2] == concept(db, "SNOMED", "363358000")


# -- realism -------------------------------------------------------------------------------


def prevalence(db: duckdb.DuckDBPyConnection, code: str, sex: int | None = None) -> float:
    """Share of persons (of one sex) with a condition of the code or its descendants."""
    sex_filter = f"AND p.gender_concept_id = {sex}" if sex else ""
    value = one(
        db,
        f"""SELECT count(DISTINCT co.person_id) / (SELECT count(*) FROM person p
                                                    WHERE true {sex_filter})
        FROM condition_occurrence co JOIN person p USING (person_id)
        JOIN concept_ancestor a ON a.descendant_concept_id = co.condition_concept_id
        JOIN concept c ON c.concept_id = a.ancestor_concept_id
        WHERE c.vocabulary_id = 'SNOMED' AND c.concept_code = '{code}' {sex_filter}""",
    )
    assert isinstance(value, float)
    return value


def test_condition_prevalences(db: duckdb.DuckDBPyConnection) -> None:
    assert 0.20 < prevalence(db, "38341003") < 0.30  # hypertensive disorder
    assert 0.06 < prevalence(db, "44054006") < 0.12  # type 2 diabetes
    assert 0.05 < prevalence(db, "195967001") < 0.11  # asthma
    assert 0.04 < prevalence(db, "363346000") < 0.09  # any cancer
    assert 0.005 < prevalence(db, "363358000") < 0.03  # lung cancer
    assert prevalence(db, "399068003", sex=8532) == 0  # no prostate cancer in women
    assert prevalence(db, "399068003", sex=8507) > 0.01
    assert prevalence(db, "254837009", sex=8532) > 5 * prevalence(db, "254837009", sex=8507)


def test_lung_cancer_has_imaging_before_and_chemotherapy_after_diagnosis(
    db: duckdb.DuckDBPyConnection,
) -> None:
    ct = concept(db, "SNOMED", "77477000")
    lung = concept(db, "SNOMED", "363358000")
    chemo = ",".join(str(concept(db, "RxNorm", c)) for c in ("40048", "56946"))
    counts = db.execute(
        f"""WITH dx AS (
          SELECT person_id, min(condition_start_date) AS d FROM condition_occurrence
          WHERE condition_concept_id IN (SELECT descendant_concept_id FROM concept_ancestor
                                         WHERE ancestor_concept_id = {lung})
          GROUP BY person_id)
        SELECT count(*),
          count(*) FILTER (WHERE EXISTS (SELECT 1 FROM procedure_occurrence po
            WHERE po.person_id = dx.person_id AND po.procedure_date BETWEEN d - 30 AND d
              AND po.procedure_concept_id IN (SELECT descendant_concept_id FROM concept_ancestor
                                              WHERE ancestor_concept_id = {ct}))),
          count(*) FILTER (WHERE EXISTS (SELECT 1 FROM drug_exposure de
            WHERE de.person_id = dx.person_id AND de.drug_concept_id IN ({chemo}))),
          count(*) FILTER (WHERE EXISTS (SELECT 1 FROM drug_exposure de
            WHERE de.person_id = dx.person_id AND de.drug_concept_id IN ({chemo})
              AND de.drug_exposure_start_date < d))
        FROM dx"""
    ).fetchall()[0]
    patients, ct_before, treated, treated_before = counts
    assert patients > 10
    assert 0.6 < ct_before / patients < 1.0
    assert 0.3 < treated / patients < 0.9
    assert treated_before == 0


def test_hemoglobin_values_and_units(db: duckdb.DuckDBPyConnection) -> None:
    hb = concept(db, "LOINC", "718-7")
    rows = dict(
        db.execute(
            f"SELECT coalesce(unit_concept_id, -1), count(*) FROM measurement "
            f"WHERE measurement_concept_id = {hb} GROUP BY 1"
        ).fetchall()
    )
    total = sum(rows.values())
    assert set(rows) == {8713, 8636, 0, -1}
    assert 0.25 < rows[8636] / total < 0.35  # hemoglobin_g_per_l_share=0.3
    assert 0.005 < (rows[0] + rows[-1]) / total < 0.04  # missing_unit_share=0.02
    means = dict(
        db.execute(
            f"""SELECT p.gender_concept_id,
              avg(CASE m.unit_concept_id WHEN 8636 THEN m.value_as_number / 10
                  ELSE m.value_as_number END)
            FROM measurement m JOIN person p USING (person_id)
            WHERE m.measurement_concept_id = {hb} GROUP BY 1"""
        ).fetchall()
    )
    assert 12.8 < means[8507] < 14.0 and 11.8 < means[8532] < 13.0
    psa = concept(db, "LOINC", "2857-1")
    sexes = db.execute(
        f"SELECT DISTINCT gender_concept_id FROM measurement JOIN person USING (person_id) "
        f"WHERE measurement_concept_id = {psa}"
    ).fetchall()
    assert sexes == [(8507,)]


def test_every_person_has_common_drugs_over_time(db: duckdb.DuckDBPyConnection) -> None:
    aspirin_or_paracetamol = f"{concept(db, 'RxNorm', '1191')}, {concept(db, 'RxNorm', '161')}"
    share = one(
        db,
        f"SELECT count(DISTINCT person_id) / {SPEC.persons} FROM drug_exposure "
        f"WHERE drug_concept_id IN ({aspirin_or_paracetamol})",
    )
    assert isinstance(share, float) and share > 0.5
    repeated = one(
        db,
        "SELECT avg(n) FROM (SELECT count(DISTINCT condition_start_date) n "
        "FROM condition_occurrence GROUP BY person_id)",
    )
    assert isinstance(repeated, float) and repeated > 3


# -- variants ------------------------------------------------------------------------------


def test_upper_case_names_and_cdm_53(site: tuple[Path, Summary], tmp_path: Path) -> None:
    spec = SynthSpec(
        persons=SPEC.persons,
        seed=SPEC.seed,
        hemoglobin_g_per_l_share=0.3,
        cdm_version="5.3",
        upper_case_names=True,
    )
    path = tmp_path / "upper53.duckdb"
    summary = write_omop_duckdb(spec, path)
    for table in CLINICAL_TABLES:  # the same population, another layout
        assert summary.row_counts[table] == site[1].row_counts[table], table
    with duckdb.connect(str(path), read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert tables == {t.upper() for t in ALL_TABLES}
        visit_cols = {
            r[0]
            for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = 'VISIT_OCCURRENCE'"
            ).fetchall()
        }
        assert "ADMITTING_SOURCE_CONCEPT_ID" in visit_cols
        assert "ADMITTED_FROM_CONCEPT_ID" not in visit_cols
        proc_cols = {
            r[0]
            for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = 'PROCEDURE_OCCURRENCE'"
            ).fetchall()
        }
        assert "PROCEDURE_END_DATE" not in proc_cols
        assert one(con, 'SELECT "CDM_VERSION" FROM "CDM_SOURCE"') == "5.3"


def test_existing_tables_need_replace(tmp_path: Path) -> None:
    path = tmp_path / "twice.duckdb"
    spec = SynthSpec(persons=50, seed=3)
    write_omop_duckdb(spec, path)
    with pytest.raises(SynthWriteError, match="'person' already exists"):
        write_omop_duckdb(spec, path)
    assert write_omop_duckdb(spec, path, replace=True).row_counts["person"] == 50
    other_schema = write_omop_duckdb(spec, path, schema="cdm")
    assert other_schema.row_counts["person"] == 50


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("persons", 0),
        ("persons", 1.5),
        ("seed", -1),
        ("end_year", 1999),
        ("hemoglobin_g_per_l_share", 1.2),
        ("cdm_version", "6.0"),
        ("site_abbreviation", "x" * 26),
        ("visits_per_person", float("nan")),
    ],
)
def test_spec_rejects_bad_values(field: str, value: object) -> None:
    with pytest.raises(SynthSpecError, match=f"SynthSpec.{field}="):
        SynthSpec(**{field: value})  # type: ignore[arg-type]


def test_select_sql_follows_the_version_columns() -> None:
    for version in ("5.4", "5.3"):
        spec = SynthSpec(cdm_version=version)
        for table in CLINICAL_TABLES:
            select = clinical_select_sql(spec, table)
            assert select.count(",\n  ") == len(columns(table, version)) - 1, (version, table)


def test_cli_writes_a_site(tmp_path: Path) -> None:
    path = tmp_path / "cli.duckdb"
    runner = CliRunner()
    first = runner.invoke(cli_app, ["omop", "--persons", "30", "--seed", "2", "--out", str(path)])
    assert first.exit_code == 0, first.output
    assert "person" in first.stdout
    again = runner.invoke(cli_app, ["omop", "--persons", "30", "--out", str(path)])
    assert again.exit_code == 2  # exists, no --replace
    assert "already exists" in again.stderr


# -- PostgreSQL ----------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_writer_matches_duckdb(pg_dsn: str, site: tuple[Path, Summary]) -> None:
    summary = write_omop_postgres(SPEC, pg_dsn, schema="synth_test", replace=True)
    assert dict(summary.row_counts) == dict(site[1].row_counts)
    assert "password" not in summary.target
    upper = SynthSpec(persons=200, seed=1, upper_case_names=True, cdm_version="5.3")
    write_omop_postgres(upper, pg_dsn, schema="synth_upper", replace=True)
    with psycopg.connect(pg_dsn) as pg, duckdb.connect(str(site[0]), read_only=True) as dk:
        query = (
            "SELECT count(*), sum(measurement_id), sum(measurement_concept_id), "
            "sum(coalesce(unit_concept_id, -7)), sum(value_as_number), "
            "min(measurement_date), max(measurement_date) FROM {}measurement"
        )
        pg_row = pg.execute(query.format("synth_test.")).fetchone()
        dk_row = dk.execute(query.format("")).fetchone()
        assert pg_row is not None and dk_row is not None
        assert [float(v) if not hasattr(v, "year") else v for v in pg_row] == [
            float(v) if not hasattr(v, "year") else v for v in dk_row
        ]
        indexes = {
            r[0]
            for r in pg.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = 'synth_test'"
            ).fetchall()
        }
        assert {"idx_condition_occurrence_person_id", "xpk_measurement"} <= indexes
        assert {"idx_condition_occurrence_condition_concept_id"} <= indexes
        count = pg.execute('SELECT count(*) FROM synth_upper."PERSON"').fetchone()
        assert count == (200,)
        with pytest.raises(SynthWriteError, match="already exists"):
            write_omop_postgres(upper, pg_dsn, schema="synth_upper")


def test_event_order_keys_are_unique() -> None:
    """Row ids are numbered by (person_id, s, k1, k2): ties would make ids nondeterministic."""
    from hyperfed.synth.writers import generate_population

    with duckdb.connect() as con:
        generate_population(con, SynthSpec(persons=500, seed=11, cancer_scale=5.0))
        for view in (
            "pop_condition",
            "pop_drug",
            "pop_measurement",
            "pop_procedure",
            "pop_observation",
        ):
            dupes = one(
                con,
                f"SELECT count(*) - count(DISTINCT (person_id, s, k1, k2)) FROM {view}",
            )
            assert dupes == 0, view
