"""Benchmark: an SDTM node at scale — load time per million rows (CSV and XPT) and the
adapter's query time against hand-written SQL over the same layout tables, in one run.

    python -m bench.sdtm_query [--persons 1000000] [--repeat 5] [--formats csv,xpt]
                               [--dir .hyperfed/bench/sdtm-query]

Generates the synthetic population as SDTM CSV and XPT (cached under --dir; CSV is streamed
by DuckDB, XPT written in parts of 500,000 rows), then for each format times
`SdtmAdapter.from_source` building its layout in a DuckDB cache file (on disk, so tens of
millions of findings rows need no more memory than DuckDB's buffer) and reports seconds per
million rows read. On the CSV node it then times, for each question, the adapter's compiled
SQL and a hand-written SQL of the same question over the same tables, alternately
(--repeat times each), checks both count the same subjects, and prints the medians and
their ratio. Target: ratio <= 1.10.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hyperfed.adapters.sdtm import SdtmAdapter
from hyperfed.hub.prepare import prepare
from hyperfed.ontology import Ontology
from hyperfed.synth import SynthSpec
from hyperfed.synth.sdtm import write_sdtm

AS_OF = dt.date(2025, 1, 1)
HTN = "('ESSENTIAL HYPERTENSION', 'HYPERTENSION')"
LUNG = "('LUNG NEOPLASM MALIGNANT', 'NON-SMALL CELL LUNG CANCER')"
T2D = "('DIABETES MELLITUS NON-INSULIN-DEPENDENT', 'TYPE 2 DIABETES MELLITUS')"
CONDITION = "domain IN ('AE', 'MH')"

# question -> (HQL criteria, stratify or None, hand-written SQL over the layout)
QUESTIONS: dict[str, tuple[dict[str, Any], dict[str, Any] | None, str]] = {
    "hypertension": (
        {"concept": "hf:Hypertension"},
        None,
        f"SELECT count(DISTINCT usubjid) FROM events WHERE decod IN {HTN} AND {CONDITION}",
    ),
    "lung-cancer-female-60+": (
        {"all": [{"concept": "hf:LungCancer"}, {"concept": "hf:Female"}, {"age": {"min": 60}}]},
        None,
        "SELECT count(DISTINCT s.usubjid) FROM events e JOIN subjects s USING (usubjid) "
        f"WHERE e.decod IN {LUNG} AND e.{CONDITION} AND s.sex = 'F' "
        "AND s.birth_hi <= DATE '1965-01-01'",
    ),
    "low-hemoglobin-men": (
        {
            "all": [
                {"concept": "hf:Hemoglobin", "value": {"max": 13, "unit": "g/dL"}},
                {"concept": "hf:Male"},
            ]
        },
        None,
        "SELECT count(DISTINCT s.usubjid) FROM findings f JOIN subjects s USING (usubjid) "
        "WHERE f.domain = 'LB' AND f.testcd = 'HGB' AND s.sex = 'M' "
        "AND ((f.ucum = 'g/dL' AND f.value <= 13) OR (f.ucum = 'g/L' AND f.value <= 130))",
    ),
    "t2d-without-metformin": (
        {"all": [{"concept": "hf:Type2Diabetes"}, {"not": {"concept": "hf:Metformin"}}]},
        None,
        f"SELECT count(*) FROM (SELECT usubjid FROM events WHERE decod IN {T2D} AND {CONDITION} "
        "EXCEPT SELECT usubjid FROM interventions WHERE (domain = 'CM' AND decod IN "
        "('METFORMIN', 'METFORMIN HYDROCHLORIDE')) OR (domain = 'EX' AND trt IN "
        "('METFORMIN', 'METFORMIN HYDROCHLORIDE')))",
    ),
    "t2d-diagnosed-at-39-or-younger": (
        {"concept": "hf:Type2Diabetes", "age": {"max": 39}},
        None,
        "SELECT count(DISTINCT e.usubjid) FROM events e JOIN subjects s USING (usubjid) "
        f"WHERE e.decod IN {T2D} AND e.{CONDITION} "
        "AND s.birth_lo > CAST(e.start_hi - INTERVAL 40 YEAR AS DATE)",
    ),
    "three-hemoglobin-results-in-2020": (
        {
            "concept": "hf:Hemoglobin",
            "occurrences": {"min": 3},
            "during": {"from": "2020-01-01", "to": "2020-12-31"},
        },
        None,
        "SELECT count(*) FROM (SELECT usubjid FROM findings WHERE domain = 'LB' "
        "AND testcd = 'HGB' AND date_lo >= DATE '2020-01-01' AND date_hi <= DATE '2020-12-31' "
        "GROUP BY usubjid HAVING count(*) >= 3)",
    ),
    "ct-within-30-days-before-lung-cancer": (
        {"concept": "hf:CTScan", "within": {"of": {"concept": "hf:LungCancer"}, "days_before": 30}},
        None,
        "SELECT count(DISTINCT p.usubjid) FROM interventions p JOIN events c USING (usubjid) "
        "WHERE p.domain = 'PR' AND (p.decod IN ('COMPUTED TOMOGRAPHY', 'CT OF CHEST') OR "
        "p.trt IN ('COMPUTED TOMOGRAPHY', 'CT OF CHEST')) "
        f"AND c.decod IN {LUNG} AND c.{CONDITION} "
        "AND p.start_lo >= c.start_hi - INTERVAL 30 DAY AND p.start_hi <= c.start_lo",
    ),
    "lung-cancer-by-sex": (
        {"concept": "hf:LungCancer"},
        {"by": ["sex"]},
        "SELECT CASE s.sex WHEN 'F' THEN 'female' WHEN 'M' THEN 'male' "
        "WHEN 'UNDIFFERENTIATED' THEN 'other' ELSE 'unknown' END AS sex, "
        "count(DISTINCT s.usubjid) FROM events e JOIN subjects s USING (usubjid) "
        f"WHERE e.decod IN {LUNG} AND e.{CONDITION} GROUP BY 1",
    ),
}


def _folder(root: Path, spec: SynthSpec, fmt: str) -> Path:
    folder = root / f"p{spec.persons}-s{spec.seed}-{fmt}"
    if not (folder / "done").exists():
        t = time.perf_counter()
        write_sdtm(spec, folder, "xpt" if fmt == "xpt" else "csv", replace=True)
        (folder / "done").write_text("")
        print(f"generated {folder} in {time.perf_counter() - t:.0f} s", flush=True)
    return folder


def _load(folder: Path, cache: Path) -> tuple[SdtmAdapter, dict[str, Any]]:
    shutil.rmtree(cache.parent, ignore_errors=True)
    t = time.perf_counter()
    adapter = SdtmAdapter.from_source(str(folder), cache=str(cache))
    seconds = time.perf_counter() - t
    rows = sum(ds.rows for ds in adapter.study.datasets)
    facts = {
        "rows_read": rows,
        "load_s": round(seconds, 2),
        "load_s_per_M_rows": round(seconds / rows * 1e6, 2) if rows else None,
        "subjects": adapter.schema.subjects,
        "findings_rows": adapter.study.count("findings"),
    }
    t = time.perf_counter()
    adapter.close()
    again = SdtmAdapter.from_source(str(folder), cache=str(cache))
    facts["reopen_from_cache_s"] = round(time.perf_counter() - t, 2)
    return again, facts


def _median_ms(fetch: Callable[[str], Any], a: str, b: str, repeat: int) -> tuple[float, float]:
    ta, tb = [], []
    for _ in range(repeat):  # alternate, so drift hits both alike
        t = time.perf_counter()
        fetch(a)
        ta.append(time.perf_counter() - t)
        t = time.perf_counter()
        fetch(b)
        tb.append(time.perf_counter() - t)
    return statistics.median(ta) * 1000, statistics.median(tb) * 1000


def _queries(adapter: SdtmAdapter, repeat: int) -> list[dict[str, Any]]:
    ontology = Ontology.load()
    fetch = adapter.runner.fetch
    rows = []
    for name, (criteria, stratify, hand) in QUESTIONS.items():
        doc: dict[str, Any] = {"hql": "1", "criteria": criteria, "as_of": AS_OF.isoformat()}
        if stratify is not None:
            doc["stratify"] = stratify
        prepared = prepare(doc, ontology, {"sdtm"}, AS_OF)
        t = time.perf_counter()
        compiled = adapter.compile(prepared.query, prepared.bindings["sdtm"])
        compile_ms = (time.perf_counter() - t) * 1000
        if compiled.unsupported:
            raise SystemExit(f"{name}: unsupported {compiled.unsupported}")
        generated = compiled.render("duckdb")
        got, expected = sorted(fetch(generated)), sorted(fetch(hand))
        if got != expected:
            raise SystemExit(f"{name}: adapter {got} != hand-written {expected}")
        g_ms, h_ms = _median_ms(fetch, generated, hand, repeat)
        rows.append(
            {
                "question": name,
                "count": sum(int(r[-1]) for r in got),
                "adapter_ms": round(g_ms, 1),
                "hand_written_ms": round(h_ms, 1),
                "ratio": round(g_ms / h_ms, 3),
                "compile_ms": round(compile_ms, 1),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--formats", default="csv,xpt", help="csv, xpt or both")
    parser.add_argument("--dir", type=Path, default=Path(".hyperfed/bench/sdtm-query"))
    args = parser.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    if not formats or set(formats) - {"csv", "xpt"}:
        parser.error("--formats: csv, xpt or both")
    spec = SynthSpec(persons=args.persons, seed=args.seed, hemoglobin_g_per_l_share=0.3)
    args.dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"persons": args.persons}
    queried: SdtmAdapter | None = None
    for fmt in formats:
        adapter, facts = _load(_folder(args.dir, spec, fmt), args.dir / f"cache-{fmt}" / "l.duckdb")
        result[f"load_{fmt}"] = facts
        print(json.dumps({fmt: facts}), flush=True)
        if queried is None:
            queried = adapter
        else:
            adapter.close()
    assert queried is not None
    rows = _queries(queried, args.repeat)
    queried.close()
    worst = max(rows, key=lambda r: r["ratio"])
    result["median_ratio"] = round(statistics.median(r["ratio"] for r in rows), 3)
    result["worst"] = {k: worst[k] for k in ("question", "ratio")}
    result["target"] = "ratio <= 1.10"
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
