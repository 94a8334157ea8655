"""Trainer benchmarks: `python -m benchmarks.training [--faces 5000 --personas 20 --labeled 1000]`.

1. In memory: fit + evaluate time for labeled sets of growing size (synthetic clustered embeddings).
2. Against the local Cassandra (a throw-away keyspace): retrain time through ``run_training``, and
   full-pass reclassify throughput (faces/s): the shards of ``reclassify_all``, run one after the other.

Retraining at 100k labels / 10k personas (time, peak RSS, row sizes): ``python -m benchmarks.training_scale``.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

import numpy as np

from benchmarks.isolated import isolated
from common.classifier.evaluation import evaluate
from common.classifier.model import OpenSetClassifier
from common.classifier.synthetic import clustered


def bench_fit(sizes: list[tuple[int, int]]) -> list[dict]:
    out = []
    for faces, personas in sizes:
        _, x, y = clustered(personas, faces // personas, seed=1)
        ids = [uuid.UUID(int=int(i) + 1) for i in y]
        t0 = time.perf_counter()
        model = OpenSetClassifier().fit(x, ids)
        t1 = time.perf_counter()
        metrics = evaluate(model)
        t2 = time.perf_counter()
        probe = x[: min(len(x), 5000)]
        model.predict(probe)
        t3 = time.perf_counter()
        out.append({"labeled_faces": len(x), "personas": personas, "fit_s": round(t1 - t0, 3),
                    "evaluate_s": round(t2 - t1, 3), "macro_f1": metrics["macro_f1"],
                    "predict_faces_per_s": round(len(probe) / (t3 - t2))})  # fmt: skip
    return out


def bench_db(total_faces: int, personas: int, labeled: int, redis_db: int = 14) -> dict:
    with isolated(redis_db, "train"):
        return _bench_db(total_faces, personas, labeled)


def _bench_db(total_faces: int, personas: int, labeled: int) -> dict:
    from common.classifier import clear_cache
    from common.db import get_database
    from common.repositories import faces, ids, labels
    from common.repositories import personas as personas_repo

    db = get_database()
    _, x, y = clustered(personas, total_faces // personas, seed=2)
    face_rows, by_image, face_ids = [], [], []
    for i, emb in enumerate(x):
        image_id = f"bench-image-{i:06d}"
        box = (0, 0, 40, 40)
        fid = ids.face_id(image_id, box)
        face_ids.append(fid)
        face_rows.append((fid, image_id, *box, "synthetic", 0.99, faces.encode_embedding(emb), "synthetic", ""))
        by_image.append((image_id, fid, *box, faces.encode_embedding(emb)))
    t0 = time.perf_counter()
    db.execute_many(
        "INSERT INTO faces (face_id, image_id, box_left, box_top, box_width, box_height, detector, "
        "det_score, embedding, embedder, crop_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        face_rows,
    )
    db.execute_many("INSERT INTO faces_by_image (image_id, face_id, box_left, box_top, box_width, box_height, "
                    "embedding, card_since) VALUES (?, ?, ?, ?, ?, ?, ?, toTimestamp(now()))", by_image)  # fmt: skip
    load_s = time.perf_counter() - t0
    pids = [personas_repo.create(db, f"Bench {i}", "bench").persona_id for i in range(personas)]
    per_persona = labeled // personas
    chosen = [i for p in range(personas) for i in np.flatnonzero(y == p)[:per_persona]]
    for i in chosen:
        labels.write(db, labels.Label(face_ids[i], pids[y[i]], labels.CONFIRM, "bench"))
    from common.labeling.retrain_trigger import redis_connection
    from trainer_worker.reclassify import reclassify_all, reclassify_shard
    from trainer_worker.training import run_training

    t0 = time.perf_counter()
    outcome = run_training(db, reason="bench")
    retrain_s = time.perf_counter() - t0
    clear_cache()
    t0 = time.perf_counter()
    shards: list = []  # what RECLASSIFY_ALL sends, then each shard in turn (one process)
    reclassify_all(db, redis_connection(), outcome.version, shards.append)
    predicted = sum(reclassify_shard(db, redis_connection(), shard).predicted for shard in shards)
    reclassify_s = time.perf_counter() - t0
    return {"faces": total_faces, "personas": personas, "labeled": len(chosen), "insert_faces_s": round(load_s, 2),
            "retrain_s": round(retrain_s, 3), "model": outcome.version, "status": outcome.status,
            "reclassified": predicted, "reclassify_s": round(reclassify_s, 2),
            "reclassify_faces_per_s": round(predicted / reclassify_s)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--faces", type=int, default=5000)
    parser.add_argument("--personas", type=int, default=20)
    parser.add_argument("--labeled", type=int, default=1000)
    parser.add_argument("--fit-sizes", default="1000:10,10000:100,100000:1000")
    parser.add_argument("--skip-db", action="store_true")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in s.split(":")) for s in args.fit_sizes.split(",") if s]
    result: dict = {"fit": bench_fit(sizes)}
    print(json.dumps({"fit": result["fit"]}, indent=1), flush=True)
    if not args.skip_db:
        result["db"] = bench_db(args.faces, args.personas, args.labeled)
        print(json.dumps({"db": result["db"]}, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh)


if __name__ == "__main__":
    main()
