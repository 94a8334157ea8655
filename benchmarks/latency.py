"""Label -> refreshed latency: one confirm in the UI's labeling domain until the retrained model's refresh
has finished (every face whose decision the label can change carries a prediction from it: a scoped
refresh, ``trainer_worker.scoped_refresh``), through real retrain and reclassify workers.

    python -m benchmarks.latency [--faces 2000] [--personas 10] [--json out.json]

Uses the configured retrain quiet period (PP_RETRAIN_QUIET_SECONDS, default 5 s): the figure is what a
user waits for, and most of it is that deliberate coalescing delay.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.isolated import isolated
from tests.support.polling import wait_for


def measure(total_faces: int, personas: int, labeled_per_persona: int, work: Path) -> dict:
    import numpy as np

    from common.classifier.synthetic import clustered
    from common.db import get_database
    from common.infra.settings import get_settings
    from common.labeling import actions as labeling
    from common.repositories import faces, ids, predictions, refreshes
    from common.repositories import models as models_repo
    from tests.support.workers import WorkerProcess

    db = get_database()
    _, x, y = clustered(personas, total_faces // personas, seed=3)
    rows = []
    for i, emb in enumerate(x):
        image_id = f"latency-{i:06d}"
        box = (0, 0, 40, 40)
        rows.append((ids.face_id(image_id, box), image_id, box, emb))
    db.execute_many(
        "INSERT INTO faces (face_id, image_id, box_left, box_top, box_width, box_height, detector, det_score, "
        "embedding, embedder, crop_key) VALUES (?, ?, ?, ?, ?, ?, 'synthetic', 0.99, ?, 'synthetic', '')",
        [(f, i, *b, faces.encode_embedding(e)) for f, i, b, e in rows],
    )
    db.execute_many(
        "INSERT INTO faces_by_image (image_id, face_id, box_left, box_top, box_width, box_height) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(i, f, *b) for f, i, b, _ in rows],
    )
    workers = [
        WorkerProcess("trainer_worker.app", "retrain", "bench-retrain", log_dir=work).start(),
        WorkerProcess("trainer_worker.app", "reclassify", "bench-reclassify", concurrency=2, log_dir=work).start(),
    ]
    try:
        people = [labeling.create_persona(db, f"Latency {p}", "bench").persona_id for p in range(personas)]
        labeled: set[str] = set()
        for p, persona_id in enumerate(people):
            for i in np.flatnonzero(y == p)[:labeled_per_persona]:
                labeling.confirm(db, rows[i][0], persona_id, "bench")
                labeled.add(rows[i][0])
        unlabeled = [r[0] for r in rows if r[0] not in labeled]

        def stamped(version: int) -> bool:
            return all((p := predictions.for_face(db, f)) is not None and p.model_version == version for f in unlabeled)

        first = wait_for(lambda: models_repo.active_version(db), 600, 0.2)
        wait_for(lambda: stamped(first), 600, 0.2)
        # the measured action: one more confirmation
        extra = next(r for r in rows if r[0] not in labeled and y[rows.index(r)] == 0)
        started = time.perf_counter()
        labeling.confirm(db, extra[0], people[0], "bench")
        unlabeled.remove(extra[0])
        second = wait_for(lambda: (v := models_repo.active_version(db)) != first and v, 600, 0.2)
        promoted_s = time.perf_counter() - started
        refresh = wait_for(lambda: (r := refreshes.get(db, second)) is not None and r.finished and r, 600, 0.2)
        refreshed_s = time.perf_counter() - started
    finally:
        for worker in workers:
            worker.stop()
    return {
        "faces": len(rows),
        "personas": personas,
        "unlabeled": len(unlabeled),
        "refresh": refresh.kind,
        "faces_refreshed": refresh.faces,
        "quiet_period_s": get_settings().retrain_quiet_seconds,
        "label_to_promoted_s": round(promoted_s, 2),
        "label_to_refreshed_s": round(refreshed_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faces", type=int, default=2000)
    parser.add_argument("--personas", type=int, default=10)
    parser.add_argument("--labeled", type=int, default=3, help="confirmed faces per persona before the measure")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with isolated(13, "latency") as work:
        result = measure(args.faces, args.personas, args.labeled, work)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
