"""Retraining at scale: `python -m benchmarks.training_scale --labels 100000 --personas 10000`.

Loads ``--labels`` labels (one face each; every 20th a rejection of another persona's face, the rest
confirmations) for ``--personas`` personas into a throw-away keyspace on the local Cassandra, then runs
``run_training`` in a child process (so its peak RSS is the training's alone) and prints, as JSON:

* ``retrain_s``: wall time of ``run_training`` (read labels and faces, fit, evaluate, store, gate, prune);
* ``peak_rss_mb``: the child's peak resident memory (``ru_maxrss``), interpreter and libraries included;
* ``model_versions_row_bytes``: the largest ``model_versions`` row (bytes of its JSON and text columns plus
  512 for the rest), and ``persona_metrics_row_bytes``: the largest ``model_persona_metrics`` row.

``--runs 2`` (the default) trains twice: the second run is forced and gated against the first (the usual
case of a retrain). Targets (issue 26): retrain <= 60 s and peak RSS <= 2 GB at 100k labels / 10k personas.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import numpy as np

from benchmarks.isolated import ROOT, isolated

REJECT_EVERY = 20


def load(labels: int, personas: int) -> dict:
    """Faces, personas and labels written straight into the tables (the bench measures training, not labeling)."""
    from common.classifier.synthetic import clustered
    from common.db import get_database
    from common.repositories import faces, ids
    from common.repositories import labels as labels_repo
    from common.repositories import personas as personas_repo

    db = get_database()
    per_persona = max(1, labels // personas)
    _, x, y = clustered(personas, per_persona, seed=7)
    now = datetime.now(UTC)
    pids = [uuid.UUID(int=i + 1) for i in range(personas)]
    t0 = time.perf_counter()
    db.execute_many("INSERT INTO personas (bucket, persona_id, name, created_at, created_by) VALUES (?, ?, ?, ?, ?)",
                    [(personas_repo.BUCKET, p, f"Bench {i}", now, "bench") for i, p in enumerate(pids)],
                    concurrency=128)  # fmt: skip
    face_rows, by_face, by_persona = [], [], []
    n_reject = 0
    for i, emb in enumerate(x):
        image_id = f"bench-image-{i:07d}"
        box = (0, 0, 40, 40)
        fid = ids.face_id(image_id, box)
        face_rows.append((fid, image_id, *box, "synthetic", 0.99, faces.encode_embedding(emb), "synthetic", ""))
        persona, verdict = pids[y[i]], labels_repo.CONFIRM
        if i % REJECT_EVERY == REJECT_EVERY - 1:  # someone else's face, rejected for this persona's neighbour
            persona, verdict = pids[(y[i] + 1) % personas], labels_repo.REJECT
            n_reject += 1
        by_face.append((fid, persona, verdict, "bench", now))
        by_persona.append((persona, ids.bucket_of(fid, labels_repo.BUCKETS), fid, verdict, "bench", now))
    db.execute_many(
        "INSERT INTO faces (face_id, image_id, box_left, box_top, box_width, box_height, detector, "
        "det_score, embedding, embedder, crop_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        face_rows, concurrency=128,
    )  # fmt: skip
    db.execute_many("INSERT INTO labels_by_face (face_id, persona_id, verdict, labeled_by, labeled_at) "
                    "VALUES (?, ?, ?, ?, ?)", by_face, concurrency=128)  # fmt: skip
    db.execute_many("INSERT INTO labels_by_persona (persona_id, bucket, face_id, verdict, labeled_by, labeled_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)", by_persona, concurrency=128)  # fmt: skip
    return {"labels": len(x), "confirmed": len(x) - n_reject, "rejected": n_reject, "personas": personas,
            "load_s": round(time.perf_counter() - t0, 1)}  # fmt: skip


def retrain_once(force: bool) -> dict:
    """In this (child) process: one ``run_training``; its time and this process's peak RSS."""
    from common.db import get_database
    from trainer_worker.training import run_training

    db = get_database()
    t0 = time.perf_counter()
    outcome = run_training(db, reason="bench (scale)", force=force)
    seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"retrain_s": round(seconds, 2), "peak_rss_mb": round(peak_kb / 1024, 1), "status": outcome.status,
            "version": outcome.version, "reason": outcome.reason}  # fmt: skip


def sizes() -> dict:
    from common.db import get_database
    from common.repositories import models as models_repo

    db = get_database()
    versions = models_repo.list_versions(db)
    rows = [models_repo.row_sizes(db, v.version) for v in versions]
    persona_rows = [n for v in versions for n in models_repo.persona_metrics_sizes(db, v.version)]
    largest = max(rows, key=lambda r: r["total"]) if rows else {}
    return {"model_versions_row_bytes": largest.get("total", 0), "model_versions_row_parts": largest,
            "persona_metrics_row_bytes": max(persona_rows, default=0), "persona_metrics_rows": len(persona_rows),
            "metrics_sample": versions[0].metrics.get("sample") if versions else None,
            "macro_f1": versions[0].metrics.get("macro_f1") if versions else None}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=int, default=100_000)
    parser.add_argument("--personas", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=2, help="trainings (the second and later are forced)")
    parser.add_argument("--redis-db", type=int, default=14)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--child", choices=["first", "forced"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # the environment (keyspace, blob folder) comes from the parent's isolated()
        logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
        logging.getLogger("trainer_worker.training").setLevel(logging.INFO)
        print(json.dumps(retrain_once(args.child == "forced")), flush=True)
        return
    with isolated(args.redis_db, "trainscale"):
        result: dict = {"data": load(args.labels, args.personas), "runs": []}
        print(json.dumps({"data": result["data"]}), flush=True)
        for run in range(args.runs):
            child = subprocess.run([sys.executable, "-m", "benchmarks.training_scale",
                                    "--child", "forced" if run else "first"], cwd=ROOT, env=os.environ.copy(),
                                   capture_output=True, text=True)  # fmt: skip
            if child.returncode:
                sys.exit(f"the training child failed:\n{child.stderr}")
            figures = json.loads(child.stdout.strip().splitlines()[-1])
            figures["stages"] = next((line for line in child.stderr.splitlines() if "trained v" in line), "")
            result["runs"].append(figures)
            print(json.dumps({"run": run + 1, **figures}), flush=True)
        result["rows"] = sizes()
    summary = {
        "labels": result["data"]["labels"], "personas": result["data"]["personas"],
        "retrain_s": max(r["retrain_s"] for r in result["runs"]),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in result["runs"]),
        "model_versions_row_bytes": result["rows"]["model_versions_row_bytes"],
        "persona_metrics_row_bytes": result["rows"]["persona_metrics_row_bytes"],
    }  # fmt: skip
    result["summary"] = summary
    print(json.dumps({"rows": result["rows"]}), flush=True)
    print(json.dumps({"summary": summary}, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
