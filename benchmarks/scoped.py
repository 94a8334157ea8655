"""The scoped-refresh benchmark (issue 27): in a corpus of N faces and P personas, confirms and rejects one at
a time, each timed from the labeling call the API makes until the refresh of the version that learnt it
has finished (every face whose decision the label can change carries that version); then an audit pass
(a full pass that rewrites only what changed) counts the decisions the scoped refreshes missed.

    python -m benchmarks.scoped --faces 1000000 --personas 10000 [--confirms 20 --rejects 20] [--json F]

Real retrain and reclassify workers (``--reclassify-processes``, 2 by default), the local Cassandra, a
throw-away keyspace; dlib-like synthetic clusters (``benchmarks.scale.seed`` with ``--spread``). The retrain
quiet period is ``--quiet`` seconds (PP_RETRAIN_QUIET_SECONDS; reported): a user's wait includes it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from benchmarks.isolated import isolated
from benchmarks.scale import seed
from tests.support.polling import wait_for

REDIS_DB = 10


def _progress(message: str) -> None:
    print(f"  [scoped] {message}", file=sys.stderr, flush=True)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 2) if ordered else 0.0


def measure(faces: int, personas: int, labeled: int, confirms: int, rejects: int, processes: int,
            spread: float, work: Path) -> dict:  # fmt: skip
    from common.db import get_database
    from common.infra import messages
    from common.infra.celery_app import celery_app
    from common.infra.settings import get_settings
    from common.labeling import actions
    from common.labeling.retrain_trigger import request_retrain
    from common.repositories import corpus_counters, predictions, refreshes
    from common.repositories import models as models_repo
    from common.repositories import personas as personas_repo
    from tests.support.workers import WorkerProcess

    db = get_database()
    result: dict = {"faces": faces, "personas": personas, "labeled": labeled, "reclassify_processes": processes,
                    "quiet_period_s": get_settings().retrain_quiet_seconds}  # fmt: skip
    _progress(f"seeding {faces} faces, {personas} personas, {labeled} labels")
    result.update(seed(faces, personas, labeled, spread=spread))
    result["corpus_faces"] = corpus_counters.read(db, [corpus_counters.FACES])[corpus_counters.FACES]
    workers = [
        WorkerProcess("trainer_worker.app", "retrain", "scoped-retrain", log_dir=work).start(),
        WorkerProcess("trainer_worker.app", "reclassify", "scoped-reclassify", concurrency=processes,
                      log_dir=work).start(),
    ]  # fmt: skip
    try:
        started = time.perf_counter()
        request_retrain("scoped benchmark: first model")
        v1 = wait_for(lambda: models_repo.active_version(db), 1800, what="the first model")
        wait_for(lambda: (r := refreshes.get(db, v1)) is not None and r.finished, 7200, 1.0, "the first full pass")
        first = refreshes.get(db, v1)
        result["first_full_pass"] = {"kind": first.kind, "seconds": round(time.perf_counter() - started, 1),
                                     "faces_written": first.faces}  # fmt: skip
        _progress(f"v{v1} active, its full pass done in {result['first_full_pass']['seconds']} s")

        people = [p.persona_id for p in personas_repo.list_all(db)]
        plan = [v for i in range(max(confirms, rejects)) for v, k in (("confirm", confirms), ("reject", rejects))
                if i < k]  # fmt: skip
        step = max(1, len(people) // max(len(plan), 1))
        labels = []
        for n, verdict in enumerate(plan):
            persona = people[(n * step) % len(people)]
            queue = predictions.queue(db, persona, models_repo.queue_version(db), limit=3)
            if not queue:
                _progress(f"persona {persona} has no predicted face: skipped")
                continue
            face = queue[0].face_id
            before = models_repo.active_version(db)
            t0 = time.perf_counter()
            (actions.confirm if verdict == "confirm" else actions.reject)(db, face, persona, "bench")
            version = wait_for(
                lambda b=before: (v := models_repo.active_version(db)) != b and v, 600, 0.1, "the promotion"
            )
            promoted_s = time.perf_counter() - t0
            refresh = wait_for(lambda v=version: (r := refreshes.get(db, v)) is not None and r.finished and r,
                               600, 0.1, "the refresh")  # fmt: skip
            seconds = time.perf_counter() - t0
            mv = models_repo.get_version(db, version)
            labels.append({"verdict": verdict, "version": version, "seconds": round(seconds, 2),
                           "promoted_s": round(promoted_s, 2), "training_s": mv.duration_s if mv else None,
                           "refresh_kind": refresh.kind, "faces_read": refresh.faces,
                           "refresh_s": (refresh.finished_at - refresh.started_at).total_seconds()})  # fmt: skip
            _progress(f"{verdict} #{n}: {seconds:.2f} s ({refresh.kind}, {refresh.faces} faces re-predicted)")
        times = [entry["seconds"] for entry in labels]
        shares = [entry["faces_read"] / max(result["corpus_faces"], 1) for entry in labels]
        result["labels"] = labels
        result["label_to_refreshed_s"] = {"p50": _percentile(times, 0.5), "p95": _percentile(times, 0.95),
                                          "max": max(times, default=0.0)}  # fmt: skip
        result["training_s_p50"] = _percentile([e["training_s"] or 0.0 for e in labels], 0.5)
        result["refresh_s_p50"] = _percentile([e["refresh_s"] for e in labels], 0.5)
        result["share_rescored_per_label"] = {"mean": round(statistics.fmean(shares), 5) if shares else 0.0,
                                              "max": round(max(shares, default=0.0), 5)}  # fmt: skip
        result["scoped_refreshes"] = sum(1 for e in labels if e["refresh_kind"] == "scoped")

        active = models_repo.active_version(db)
        _progress(f"audit pass of v{active}")
        t0 = time.perf_counter()
        messages.send(messages.ReclassifyAll(version=active, kind="audit"), celery_app.send_task)
        wait_for(lambda: (r := refreshes.get(db, active)) is not None and r.kind == "audit" and r.finished, 7200,
                 1.0, "the audit pass")  # fmt: skip
        audit = refreshes.get(db, active)
        result["audit_pass"] = {"seconds": round(time.perf_counter() - t0, 1), "faces_written": audit.faces,
                                "decisions_changed": audit.decisions_changed,
                                "decisions_changed_share": round((audit.decisions_changed or 0)
                                                                 / max(result["corpus_faces"], 1), 6)}  # fmt: skip
    finally:
        for worker in workers:
            worker.stop()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faces", type=int, default=20000)
    parser.add_argument("--personas", type=int, default=200)
    parser.add_argument("--labeled", type=int, default=0, help="confirmed faces (default: 2 per persona)")
    parser.add_argument("--confirms", type=int, default=20)
    parser.add_argument("--rejects", type=int, default=20)
    parser.add_argument("--reclassify-processes", type=int, default=2)
    parser.add_argument("--spread", type=float, default=0.22, help="a face's distance from its person's centre")
    parser.add_argument("--quiet", type=float, default=1.0, help="PP_RETRAIN_QUIET_SECONDS for the run")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    os.environ["PP_RETRAIN_QUIET_SECONDS"] = str(args.quiet)
    with isolated(REDIS_DB, "scoped") as work:
        result = measure(args.faces, args.personas, args.labeled or 2 * args.personas, args.confirms, args.rejects,
                         args.reclassify_processes, args.spread, work)  # fmt: skip
    print(json.dumps(result, indent=1, default=str))
    if args.json:
        args.json.write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
