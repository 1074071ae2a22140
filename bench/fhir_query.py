"""Benchmark: FHIR queries at scale — load, generated vs hand-written SQL, end to end.

    python -m bench.fhir_query --persons 50000                  # a try
    python -m bench.fhir_query --persons 1000000 --workdir /big/disk/hf-fhir   # the real run

Prints, in one run:

1. the load: N patients as FHIR Bulk NDJSON loaded into a DuckDB file with all view tables
   and the code index (seconds per million resources; with --workdir, files and store are
   kept and a later run reuses them — its load figures are then those of the earlier load);
2. for the OMOP benchmark's questions (`bench.sql_ratio`), the FHIR adapter's time
   (compile + run) against hand-written SQL over the same view tables, alternately,
   --repeat times each: medians and the ratio (target <= 1.10), also for the generated SQL
   alone (without compiling). The hand-written SQL matches
   the codes a person reads off the vocabulary export (here in plain Python: each code, what
   is below it, the source codes mapping to them) and must count the same patients;
3. the end-to-end time of a 3-criterion count with a value — type 2 diabetes, HbA1c >= 7 %,
   age >= 50 — from the query document to the count (the hub's preparation, compile, run):
   the first run and the median of --repeat (target <= 1 s at 1M patients on 2 cores).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hyperfed.adapters.fhir import FhirAdapter
from hyperfed.adapters.omop.tables import system_for_vocabulary
from hyperfed.adapters.sql import SqlQuery
from hyperfed.hub.prepare import prepare
from hyperfed.ontology import Ontology
from hyperfed.synth import SynthSpec
from hyperfed.synth.athena import write_athena_vocabulary
from hyperfed.synth.fhir import write_fhir

AS_OF = dt.date(2025, 1, 1)
SCT, LOINC = "http://snomed.info/sct", "http://loinc.org"
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
DAY = "TRY_CAST(substr({c}, 1, 10) AS DATE)"  # synthetic dates are full dates

QUESTIONS: dict[str, tuple[dict[str, Any], str]] = {
    "gi-bleed": (
        {"concept": "hf:GastrointestinalHemorrhage"},
        "SELECT count(DISTINCT patient_id) FROM v_condition WHERE {GI}",
    ),
    "lung-cancer-female-60+": (
        {"all": [{"concept": "hf:LungCancer"}, {"concept": "hf:Female"}, {"age": {"min": 60}}]},
        "SELECT count(DISTINCT c.patient_id) FROM v_condition c JOIN v_patient p "
        "ON p.id = c.patient_id WHERE {C_LUNG} AND p.gender = 'female' "
        "AND p.birth_date_start <= '1965-01-01'",
    ),
    "low-hemoglobin-men": (
        {
            "all": [
                {"code": {"system": LOINC, "code": "718-7"}, "value": {"max": 13, "unit": "g/dL"}},
                {"concept": "hf:Male"},
            ]
        },
        "SELECT count(DISTINCT o.patient_id) FROM v_observation o JOIN v_patient p "
        "ON p.id = o.patient_id WHERE o.system = '{LOINC}' AND o.code = '718-7' "
        "AND p.gender = 'male' AND o.unit_system = '{UCUM}' AND ((o.unit_code = 'g/dL' "
        "AND o.value <= 13) OR (o.unit_code = 'g/L' AND o.value <= 130))",
    ),
    "t2d-without-metformin": (
        {"all": [{"concept": "hf:Type2Diabetes"}, {"not": {"concept": "hf:Metformin"}}]},
        "SELECT count(*) FROM (SELECT patient_id FROM v_condition WHERE {T2D} "
        "EXCEPT SELECT patient_id FROM v_medication_request WHERE {METFORMIN}) x",
    ),
    "ct-within-30-days-before-lung-cancer": (
        {"concept": "hf:CTScan", "within": {"of": {"concept": "hf:LungCancer"}, "days_before": 30}},
        "SELECT count(DISTINCT e.patient_id) FROM (SELECT patient_id, {PR_DAY} AS day "
        "FROM v_procedure WHERE {CT} UNION ALL "
        "SELECT patient_id, {IS_DAY} FROM v_imaging_study WHERE {CT}) e "
        "JOIN v_condition c ON c.patient_id = e.patient_id WHERE {C_LUNG} "
        "AND e.day BETWEEN {C_DAY} - INTERVAL 30 DAY AND {C_DAY}",
    ),
}
THREE = {
    "all": [
        {"concept": "hf:Type2Diabetes"},
        {"code": {"system": LOINC, "code": "4548-4"}, "value": {"min": 7, "unit": "%"}},
        {"age": {"min": 50}},
    ]
}


def _rows(athena: Path, name: str) -> list[dict[str, str]]:
    with (athena / name).open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def below(athena: Path, system: str, code: str) -> dict[str, list[str]]:
    """System -> codes: `code` and its descendants in the export, and the source codes that
    map to them — what a FHIR node must match (plain Python over the CSVs)."""
    concepts = {r["concept_id"]: r for r in _rows(athena, "CONCEPT.csv")}
    ids = {
        i
        for i, c in concepts.items()
        if c["concept_code"] == code and system_for_vocabulary(c["vocabulary_id"]) == system
    }
    found = ids | {
        r["descendant_concept_id"]
        for r in _rows(athena, "CONCEPT_ANCESTOR.csv")
        if r["ancestor_concept_id"] in ids
    }
    found |= {
        r["concept_id_1"]
        for r in _rows(athena, "CONCEPT_RELATIONSHIP.csv")
        if r["relationship_id"] == "Maps to" and r["concept_id_2"] in found
    }
    out: dict[str, list[str]] = {}
    for i in sorted(found):
        uri = system_for_vocabulary(concepts[i]["vocabulary_id"])
        if uri is not None:
            out.setdefault(uri, []).append(concepts[i]["concept_code"])
    return out


def _match(athena: Path, system: str, code: str, alias: str = "") -> str:
    """``(system = S AND code IN (...)) OR ...`` for the codes `below` finds."""
    a = f"{alias}." if alias else ""
    parts = [
        f"({a}system = '{s}' AND {a}code IN ({', '.join(repr(c) for c in sorted(cs))}))"
        for s, cs in sorted(below(athena, system, code).items())
    ]
    return "(" + " OR ".join(parts) + ")"


def hand_written(athena: Path) -> dict[str, str]:
    lists = {
        "GI": _match(athena, SCT, "74474003"),
        "C_LUNG": _match(athena, SCT, "363358000", "c"),
        "T2D": _match(athena, SCT, "44054006"),
        "METFORMIN": _match(athena, RX, "6809"),
        "CT": _match(athena, SCT, "77477000"),
        "LOINC": LOINC,
        "UCUM": UCUM,
        "PR_DAY": DAY.format(c="performed_date"),
        "IS_DAY": DAY.format(c="started"),
        "C_DAY": DAY.format(c="c.onset_date"),
    }
    return {k: sql.format(**lists) for k, (_, sql) in QUESTIONS.items()}


def _median(f: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, value = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--workdir", type=Path, default=None, help="keep files and store here")
    parser.add_argument("--reload", action="store_true", help="load again though kept")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hf-bench-fhirq-") as scratch:
        work = args.workdir or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        folder = work / f"ndjson-{args.persons}-{args.seed}"
        athena = work / "athena"
        store = work / f"fhir-{args.persons}-{args.seed}.duckdb"
        if not folder.exists():
            t0 = time.perf_counter()
            write_fhir(
                SynthSpec(persons=args.persons, seed=args.seed), folder, threads=args.threads
            )
            print(f"generated {args.persons:,} patients in {time.perf_counter() - t0:.1f} s")
        write_athena_vocabulary(athena)
        if args.reload:
            store.unlink(missing_ok=True)
        adapter = FhirAdapter.from_source(
            str(folder), cache=str(store), vocabulary=str(athena), threads=args.threads
        )
        report = adapter.store.report
        secs, per_m = report.seconds, 1e6 / max(report.resources, 1)
        print(
            f"load{' (from an earlier run)' if report.from_cache else ''}: "
            f"{report.resources:,} resources, {secs['total']:.1f} s "
            f"({secs['total'] * per_m:.2f} s per million resources; NDJSON "
            f"{secs['ndjson'] * per_m:.2f}, views {secs['views'] * per_m:.2f}, "
            f"index {secs.get('index', 0.0) * per_m:.2f} s per million)"
        )
        onto = Ontology.load()
        sqls = hand_written(athena)
        ratios: list[float] = []
        sql_ratios: list[float] = []
        for name, (criteria, _) in QUESTIONS.items():
            doc = {"hql": "1", "criteria": criteria, "as_of": AS_OF.isoformat()}
            prepared = prepare(doc, onto, {"fhir"}, AS_OF)
            query, bindings = prepared.query, prepared.bindings["fhir"]
            adapter.count(query, bindings)  # warm: the code look-up is cached per node
            native = adapter.compile(query, bindings)
            assert isinstance(native, SqlQuery)
            generated = native.render("duckdb")
            ours, sql_only, theirs = [], [], []
            n_ours = n_theirs = None
            for _ in range(args.repeat):  # alternately, so load on the machine hits all three
                t, n_ours = _median(lambda q=query, b=bindings: adapter.count(q, b).total, 1)
                ours.append(t)
                t, _ = _median(lambda g=generated: adapter.runner.fetch(g), 1)
                sql_only.append(t)
                t, rows = _median(lambda h=sqls[name]: adapter.runner.fetch(h), 1)
                theirs.append(t)
                n_theirs = rows[0][0]
            m_ours, m_sql, m_theirs = map(statistics.median, (ours, sql_only, theirs))
            ratios.append(m_ours / m_theirs)
            sql_ratios.append(m_sql / m_theirs)
            print(
                f"{name:<38} adapter {m_ours * 1000:7.1f} ms (its SQL {m_sql * 1000:7.1f} ms)  "
                f"hand-written {m_theirs * 1000:7.1f} ms  ratio {m_ours / m_theirs:4.2f} "
                f"(SQL {m_sql / m_theirs:4.2f})  count {n_ours:,}"
                + ("" if n_ours == n_theirs else f"  COUNTS DIFFER (hand-written {n_theirs:,})")
            )
        print(
            f"geometric mean ratio {statistics.geometric_mean(ratios):.2f}, of the SQL alone "
            f"{statistics.geometric_mean(sql_ratios):.2f} (target <= 1.10; compiling costs "
            "a few ms per query, which weighs less as the data grow)"
        )

        def end_to_end() -> int | None:
            doc = {"hql": "1", "criteria": THREE, "as_of": AS_OF.isoformat()}
            prepared = prepare(doc, onto, {"fhir"}, AS_OF)
            return adapter.count(prepared.query, prepared.bindings["fhir"]).total

        first, n = _median(end_to_end, 1)
        median, _ = _median(end_to_end, args.repeat)
        print(
            f"3-criterion count with a value (T2D, HbA1c >= 7 %, age >= 50) at "
            f"{args.persons:,} patients: {n:,} patients, first {first:.3f} s, "
            f"median {median:.3f} s (target <= 1 s at 1M)"
        )
        adapter.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
