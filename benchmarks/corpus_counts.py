"""Corpus counts benchmark: reading the counters kept on write vs counting the tables, and the reconcile.

    python -m benchmarks.corpus_counts [--faces N] [--reads R] [--json out.json]

Makes a throw-away keyspace, seeds the web benchmark's corpus (``benchmarks.web.seed_corpus``: 300 personas,
4 faces per image, 40 confirmed per persona, predictions for the rest; written by CQL, so the counters start
as after an upgrade to migration 0013) and measures: the reconcile (exact paged counts and corrections, with
the peak of Python memory it allocated), the view's read of the counters (median and p95 of ``--reads``), and
the former full count (``COUNT(*)`` of images and faces, a scan of ``predictions_by_face``, every persona's
labels). Drops the keyspace at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import tracemalloc
from pathlib import Path

from benchmarks.isolated import isolated
from benchmarks.web import seed_corpus
from common.db import Database, get_database
from common.repositories import corpus_counters, faces, images, labels, personas, predictions
from trainer_worker import corpus_reconcile

REDIS_DB = 14


def former_count(db: Database) -> dict[str, int]:
    """What ``visualization_web.corpus_counts`` counted on every refresh before the counters."""
    people = personas.list_all(db)
    confirmed = sum(sum(1 for r in rows if r.verdict == labels.CONFIRM)
                    for rows in labels.of_personas(db, [p.persona_id for p in people]))  # fmt: skip
    predicted, unknown = predictions.count_predicted_and_unknown(db, page_size=5000)
    return {"images": images.count(db), "faces": faces.count(db), "personas": len(people), "confirmed": confirmed,
            "predicted": predicted, "unknown": unknown}  # fmt: skip


def run(db: Database, faces_n: int, reads: int) -> dict:
    seeded = seed_corpus(db, faces_n)
    before = corpus_counters.read(db)
    tracemalloc.start()
    started = time.perf_counter()
    result = corpus_reconcile.reconcile(db)
    reconcile_s = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    timings = []
    for _ in range(reads):
        started = time.perf_counter()
        corpus_counters.read_with_reconciled(db)
        timings.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    former = former_count(db)
    former_s = time.perf_counter() - started
    return {
        "faces": faces_n,
        "seed_seconds": seeded["seed_seconds"],
        "counters_before_reconcile": before,
        "reconcile": {
            "seconds": round(reconcile_s, 2),
            "python_peak_mib": round(peak / 2**20, 2),
            "scan_seconds": result.scan_seconds,
            "counts": result.counts,
            "corrections": result.corrections,
        },
        "counters_after": corpus_counters.read(db),
        "read_ms": {
            "median": round(statistics.median(timings), 2),
            "p95": round(sorted(timings)[int(0.95 * (len(timings) - 1))], 2),
        },
        "former_count": {"seconds": round(former_s, 2), "counts": former},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    with isolated(REDIS_DB, name="counts"):
        result = run(get_database(), args.faces, args.reads)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
