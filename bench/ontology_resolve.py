"""Benchmark: concept resolution at the hub (it runs for every concept of every query).

Prints JSON: microseconds per resolution (four reference forms, DICOM bindings) against a
baseline measured in the same run — a plain dict look-up per reference — and their ratio.
(Moved here from the test suite: timing belongs in bench/, not in tests.)

    ./hf bench ontology_resolve [--rounds 2500]
"""

from __future__ import annotations

import argparse
import json
import time

from hyperfed.ontology import Ontology

REFS = ["hf:LungCancer", "eucaim:IMG1000042", "SNOMEDCT248152002", "hf:Lung"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2500)
    args = parser.parse_args()
    onto = Ontology.load()
    table = {ref: onto.resolve(ref, "dicom") for ref in REFS}
    start = time.perf_counter()
    for _ in range(args.rounds):
        for ref in REFS:
            onto.resolve(ref, "dicom")
    resolve_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(args.rounds):
        for ref in REFS:
            _ = table[ref.strip()]  # the baseline: one dict look-up
    baseline_s = time.perf_counter() - start
    n = args.rounds * len(REFS)
    print(
        json.dumps(
            {
                "resolutions": n,
                "resolve_us": round(resolve_s / n * 1e6, 2),
                "dict_lookup_us": round(baseline_s / n * 1e6, 3),
                "ratio": round(resolve_s / baseline_s, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
