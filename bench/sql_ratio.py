"""Generated SQL vs hand-written optimal SQL, same question, same engine, same run.

Generates (once, cached under --workdir) a synthetic OMOP CDM with --persons persons in
DuckDB (and, with --postgres, in a throwaway PostgreSQL started by this script), then for
each question times the OMOP adapter's SQL and a hand-written optimal SQL alternately,
--repeat times each, and prints median times and the ratio generated/optimal.
Target: ratio <= 1.10.

    python -m bench.sql_ratio [--persons 1000000] [--repeat 7] [--postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hyperfed.adapters.hql.canonical import canonicalize
from hyperfed.adapters.hql.model import Query
from hyperfed.adapters.omop import OmopAdapter
from hyperfed.hub.prepare import prepare
from hyperfed.ontology import Ontology

AS_OF = dt.date(2025, 1, 1)
KEY = 20250101
BIRTH = (
    "(p.year_of_birth * 10000 + coalesce(p.month_of_birth, 1) * 100 + coalesce(p.day_of_birth, 1))"
)

# question -> (HQL criteria, optimal SQL template; {NAME} are filled with concept id lists
# from a hand-written vocabulary query)
QUESTIONS: dict[str, tuple[dict[str, Any], str]] = {
    "gi-bleed": (
        {"concept": "hf:GastrointestinalHemorrhage"},
        "SELECT COUNT(DISTINCT person_id) FROM condition_occurrence "
        "WHERE condition_concept_id IN ({GI})",
    ),
    "lung-cancer-female-60+": (
        {"all": [{"concept": "hf:LungCancer"}, {"concept": "hf:Female"}, {"age": {"min": 60}}]},
        "SELECT COUNT(DISTINCT c.person_id) FROM condition_occurrence c "
        "JOIN person p ON p.person_id = c.person_id "
        "WHERE c.condition_concept_id IN ({LUNG}) AND p.gender_concept_id = 8532 "
        f"AND {BIRTH} <= {KEY - 600000}",
    ),
    "low-hemoglobin-men": (
        {
            "all": [
                {
                    "code": {"system": "http://loinc.org", "code": "718-7"},
                    "value": {"max": 13, "unit": "g/dL"},
                },
                {"concept": "hf:Male"},
            ]
        },
        "SELECT COUNT(DISTINCT m.person_id) FROM measurement m "
        "JOIN person p ON p.person_id = m.person_id "
        "WHERE m.measurement_concept_id IN ({HB}) AND p.gender_concept_id = 8507 "
        "AND ((m.unit_concept_id = 8713 AND m.value_as_number <= 13) "
        "OR (m.unit_concept_id = 8636 AND m.value_as_number <= 130))",
    ),
    "t2d-without-metformin": (
        {"all": [{"concept": "hf:Type2Diabetes"}, {"not": {"concept": "hf:Metformin"}}]},
        "SELECT COUNT(*) FROM (SELECT person_id FROM condition_occurrence "
        "WHERE condition_concept_id IN ({T2D}) EXCEPT SELECT person_id FROM drug_exposure "
        "WHERE drug_concept_id IN ({METFORMIN})) x",
    ),
    "ct-within-30-days-before-lung-cancer": (
        {"concept": "hf:CTScan", "within": {"of": {"concept": "hf:LungCancer"}, "days_before": 30}},
        "SELECT COUNT(DISTINCT pr.person_id) FROM procedure_occurrence pr "
        "JOIN condition_occurrence c ON c.person_id = pr.person_id "
        "WHERE pr.procedure_concept_id IN ({CT}) AND c.condition_concept_id IN ({LUNG}) "
        "AND pr.procedure_date BETWEEN c.condition_start_date - INTERVAL '30 days' "
        "AND c.condition_start_date",
    ),
}

# hand-written vocabulary look-ups: standard code -> the concept ids to match
CODESETS = {
    "GI": ("SNOMED", "74474003"),
    "LUNG": ("SNOMED", "363358000"),
    "HB": ("LOINC", "718-7"),
    "T2D": ("SNOMED", "44054006"),
    "METFORMIN": ("RxNorm", "6809"),
    "CT": ("SNOMED", "77477000"),
}


def codeset_sql(vocabulary: str, code: str) -> str:
    return (
        "SELECT ca.descendant_concept_id FROM concept c JOIN concept_ancestor ca "
        "ON ca.ancestor_concept_id = c.concept_id "
        f"WHERE c.vocabulary_id = '{vocabulary}' AND c.concept_code = '{code}'"
    )


def _median_ms(
    fetch: Callable[[str], Any], first: str, second: str, repeat: int
) -> tuple[float, float]:
    a, b = [], []
    for _ in range(repeat):  # alternate, so drift hits both alike
        t = time.perf_counter()
        fetch(first)
        a.append(time.perf_counter() - t)
        t = time.perf_counter()
        fetch(second)
        b.append(time.perf_counter() - t)
    return statistics.median(a) * 1000, statistics.median(b) * 1000


def run(
    adapter: OmopAdapter, fetch: Callable[[str], list[tuple[Any, ...]]], engine: str, repeat: int
) -> list[dict[str, Any]]:
    ontology = Ontology.load()
    ids = {
        name: ", ".join(str(r[0]) for r in fetch(codeset_sql(*vc))) for name, vc in CODESETS.items()
    }
    rows = []
    for name, (criteria, optimal_template) in QUESTIONS.items():
        prepared = prepare(
            {"hql": "1", "criteria": criteria, "as_of": AS_OF.isoformat()},
            ontology,
            {"omop"},
            AS_OF,
        )
        query = canonicalize(Query.model_validate(prepared.query.model_dump(by_alias=True)))
        t = time.perf_counter()
        compiled = adapter.compile(query, prepared.bindings["omop"])
        compile_ms = (time.perf_counter() - t) * 1000
        generated = compiled.render(adapter.runner.dialect)
        optimal = optimal_template.format(**ids)
        g_count = fetch(generated)[0][0]
        o_count = fetch(optimal)[0][0]
        if g_count != o_count:
            raise SystemExit(f"{engine} {name}: generated {g_count} != optimal {o_count}")
        g_ms, o_ms = _median_ms(fetch, generated, optimal, repeat)
        rows.append(
            {
                "engine": engine,
                "question": name,
                "count": g_count,
                "generated_ms": round(g_ms, 1),
                "optimal_ms": round(o_ms, 1),
                "ratio": round(g_ms / o_ms, 3),
                "compile_and_vocabulary_ms": round(compile_ms, 1),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path(".hyperfed/bench"))
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    args = parser.parse_args()

    from hyperfed.synth import SynthSpec, write_omop_duckdb, write_omop_postgres

    spec = SynthSpec(persons=args.persons, seed=args.seed, hemoglobin_g_per_l_share=0.3)
    args.workdir.mkdir(parents=True, exist_ok=True)
    path = args.workdir / f"omop-{args.persons}-{args.seed}.duckdb"
    if not path.exists():
        t = time.perf_counter()
        write_omop_duckdb(spec, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").rename(path)
        print(f"generated {path} in {time.perf_counter() - t:.0f} s", flush=True)
    rows = []
    adapter = OmopAdapter.from_source(f"duckdb://{path}")
    runner = adapter.runner
    rows += run(adapter, runner.fetch, "duckdb", args.repeat)
    adapter.close()
    if args.postgres:
        from tests.pgserver import PgServer, find_pg_bindir

        with PgServer(find_pg_bindir()) as pg:
            dsn = pg.create_database("bench")
            t = time.perf_counter()
            write_omop_postgres(spec, dsn)
            print(f"loaded PostgreSQL in {time.perf_counter() - t:.0f} s", flush=True)
            adapter = OmopAdapter.from_source(dsn)
            rows += run(adapter, adapter.runner.fetch, "postgres", args.repeat)
            adapter.close()
    summary = {
        engine: round(statistics.median(r["ratio"] for r in rows if r["engine"] == engine), 3)
        for engine in {r["engine"] for r in rows}
    }
    worst = max(rows, key=lambda r: r["ratio"])
    print(
        json.dumps(
            {
                "median_ratio_by_engine": summary,
                "worst": {k: worst[k] for k in ("engine", "question", "ratio")},
                "target": "ratio <= 1.10",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
