"""The scale benchmark (issue 26): a synthetic corpus of N faces, P personas and L confirmed labels in the
local Cassandra, then, in one run, each cost that must stay bounded as the corpus grows.

    python -m benchmarks.scale --faces 1000000 --personas 10000 --labeled 100000 \
        --predict-prototypes 1000000 --predict-personas 100000 [--json F]

No images are decoded: faces are synthetic clustered 128-d embeddings (one centre per persona), written with
the same repository functions extraction and labeling use (faces with their cards, labels with theirs).
Every measured step runs in a process of its own, which reports its own peak RSS:

- retrain: time and peak RSS of one training on the L labels; the largest ``model_versions`` row and the
  largest per-persona metrics row, in bytes;
- the full reclassification pass with 1 and then 2 real Celery worker processes (``trainer_worker.app`` on the
  ``reclassify`` queue, one pool process each, ``--worker-threads`` BLAS/FAISS threads each), each of a version
  trained just before it (so every unlabeled face's prediction is rewritten), after a first unmeasured pass that
  builds the index of all faces: faces/s and their ratio, peak RSS of the fan-out and of each
  worker process, Redis memory before, at the highest sample during, and after; the CPU seconds of the
  worker processes and of the local Cassandra during the pass and how busy the whole machine was (with the
  database on the same cores, a second process can only add what the first left idle), the faces predicted
  per worker CPU second, and how much more CPU a face costs with 2 processes than with 1
  (``worker_cpu_cost_ratio_2_vs_1``: 1.0 means the work divides with nothing lost to contention);
- predict against many prototypes: ``benchmarks.predict_scale`` (its own synthetic model of
  ``--predict-prototypes`` prototypes in ``--predict-personas`` personas; the issue's size is 1M / 100k);
- the largest partitions Cassandra has flushed to disk (``system_views.max_partition_size``, in whole MiB:
  tables whose largest partition is under 1 MiB are left out).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from benchmarks.isolated import ROOT, isolated
from benchmarks.process_meters import CpuMeter, RedisSampler, process_tree_hwm

FACES_PER_IMAGE = 2
REDIS_DB = 9
SEED_THREADS = 16
SEED_CHUNK = 2000


def _progress(message: str) -> None:
    print(f"  [scale] {message}", file=sys.stderr, flush=True)


# --- the corpus ---------------------------------------------------------------------------------------------


def seed(faces: int, personas: int, labeled: int, spread: float | None = None) -> dict:
    """Personas, faces in images of FACES_PER_IMAGE, and ``labeled`` confirmed faces spread evenly over the
    personas; returns the seeding time. ``spread`` (unit-sphere distance of a face from its person's centre,
    e.g. 0.22): dlib-like clusters (``common.classifier.synthetic``: one person's faces about 0.3 apart,
    different people about 0.9); None: the scale benchmark's wider clusters."""
    from common.classifier.synthetic import person_centers
    from common.db import get_database
    from common.repositories import corpus_counters
    from common.repositories import faces as faces_repo
    from common.repositories import labels as labels_repo
    from common.repositories import personas as personas_repo
    from common.repositories.ids import face_id as derive_face_id

    db = get_database()
    started = time.perf_counter()
    with ThreadPoolExecutor(SEED_THREADS) as pool:
        persona_ids = list(pool.map(lambda i: personas_repo.create(db, f"Scale Person {i:06d}", "bench").persona_id,
                                    range(personas)))  # fmt: skip
    _progress(f"{personas} personas ({time.perf_counter() - started:.0f} s)")
    rng = np.random.default_rng(26)
    if spread is None:
        centres = rng.normal(size=(personas, 128)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        centres *= 0.75  # dlib-like norms, so the classifier's 0.6 distance scale is in play
        noise = 0.05
    else:
        centres = person_centers(personas, rng).astype(np.float32)
        noise = spread / np.sqrt(128)  # a face about ``spread`` from its centre (synthetic.faces_of)
    now = datetime.now(UTC)
    labeled_per_persona = max(1, labeled // max(personas, 1))
    confirmed = [0] * personas
    labels_left = labeled

    def write_chunk(rows: list, labels: list) -> None:
        faces_repo.upsert_many(db, rows)
        corpus_counters.add(db, corpus_counters.FACES, len(rows))  # extraction counts the faces it stores
        for face_id, persona_id, image_id in labels:
            labels_repo.write(db, labels_repo.Label(face_id, persona_id, labels_repo.CONFIRM, "bench", now), image_id)

    with ThreadPoolExecutor(SEED_THREADS) as pool:
        pending = []
        for lo in range(0, faces, SEED_CHUNK):
            rows, labels = [], []
            for index in range(lo, min(faces, lo + SEED_CHUNK)):
                image_id = f"scale-image-{index // FACES_PER_IMAGE:09d}"
                box = (10 + (index % FACES_PER_IMAGE) * 160, 100, 150, 150)
                face_id = derive_face_id(image_id, box)
                who = index % personas if index < personas * labeled_per_persona else int(rng.integers(personas))
                vector = centres[who] + rng.normal(0, noise, 128).astype(np.float32)
                rows.append(faces_repo.Face(face_id, image_id, box, "bench", 0.99, vector, "bench-128", "", now))
                if labels_left and confirmed[who] < labeled_per_persona:
                    confirmed[who] += 1
                    labels_left -= 1
                    labels.append((face_id, persona_ids[who], image_id))
            pending.append(pool.submit(write_chunk, rows, labels))
            if len(pending) >= SEED_THREADS * 2:
                pending.pop(0).result()
            if (lo // SEED_CHUNK) % 50 == 0:
                _progress(f"{lo + len(rows)}/{faces} faces ({time.perf_counter() - started:.0f} s)")
        for future in pending:
            future.result()
    return {"seed_seconds": round(time.perf_counter() - started, 1), "labeled": labeled - labels_left}


# --- steps in processes of their own ------------------------------------------------------------------------


def run_step(step: str, *args: str, timeout: float = 7200) -> dict:
    """Run ``python -m benchmarks.scale --step STEP ARGS`` with this process's environment; its last stdout
    line is its JSON result, which includes its peak RSS."""
    command = [sys.executable, "-m", "benchmarks.scale", "--step", step, *args]
    proc = subprocess.run(command, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"step {step} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def step_retrain() -> dict:
    from common.db import get_database
    from trainer_worker.training import run_training

    started = time.perf_counter()
    outcome = run_training(get_database(), reason="scale benchmark", force=True)
    return {"seconds": round(time.perf_counter() - started, 1), "status": outcome.status,
            "version": outcome.version, "peak_rss_mb": peak_rss_mb()}  # fmt: skip


def largest_rows() -> dict:
    """Bytes of the largest ``model_versions`` row and per-persona metrics row (``model_persona_metrics``)."""
    from common.db import get_database
    from common.repositories import models as models_repo

    db = get_database()
    versions = models_repo.list_versions(db, limit=1000)
    return {
        "model_versions": max((models_repo.row_sizes(db, v.version).get("total", 0) for v in versions), default=0),
        "model_persona_metrics": max((max(models_repo.persona_metrics_sizes(db, v.version), default=0)
                                      for v in versions), default=0),
    }  # fmt: skip


# --- the full pass ------------------------------------------------------------------------------------------


def full_pass(workers: int, faces: int, timeout: float) -> dict:
    """Start ``workers`` reclassify workers, fan out a full pass of the active version from a process of its own,
    and wait until every shard is done."""
    import redis

    from common.db import get_database
    from common.infra.celery_app import queue_lists
    from common.infra.settings import get_settings
    from common.repositories import models as models_repo
    from tests.support.workers import WorkerProcess
    from trainer_worker import reclassify

    db = get_database()
    client = redis.Redis.from_url(get_settings().redis_url)
    retrain = run_step("retrain")  # a new version, so the pass rewrites every unlabeled face's prediction
    client.delete(*queue_lists("reclassify"))  # the promotion's own ReclassifyAll: this benchmark sends its own
    version = models_repo.active_version(db)
    if version is None or version != retrain["version"]:
        raise RuntimeError(f"the retrain did not promote a new version: {retrain}")
    procs = [WorkerProcess("trainer_worker.app", "reclassify", f"scale-{workers}-{i}", concurrency=1).launch()
             for i in range(workers)]  # fmt: skip
    try:
        for proc in procs:
            proc.wait_ready(120)
        redis_before = int(client.info("memory")["used_memory"])
        sampler = RedisSampler(client)
        sampler.start()
        cpu = CpuMeter([p.pid for p in procs])
        started = time.perf_counter()
        fan_out = run_step("fan-out", str(version))
        deadline = time.monotonic() + timeout
        while True:
            progress = reclassify.pass_progress(client, version)
            if progress is not None and progress.finished_at is not None:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the pass did not finish in {timeout:.0f} s: {progress}")
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        cpu_used = cpu.result(progress.faces_predicted)
        redis_peak = sampler.stop()
        worker_rss = {f"worker {i}": process_tree_hwm(p.pid) for i, p in enumerate(procs)}
        return {
            "workers": workers,
            "version": version,
            "seconds": round(seconds, 1),
            "faces_per_s": round(faces / seconds, 1),
            "progress": progress.as_dict(),
            "cpu": cpu_used,
            "fan_out": fan_out,
            "worker_peak_rss_mb": worker_rss,
            "redis_mb": {"before": round(redis_before / 2**20, 1), "peak": round(redis_peak / 2**20, 1),
                         "after": round(int(client.info("memory")["used_memory"]) / 2**20, 1)},
        }  # fmt: skip
    finally:
        for proc in procs:
            proc.stop()


def step_fan_out(version: int) -> dict:
    import redis

    from common.db import get_database
    from common.infra import messages
    from common.infra.celery_app import celery_app
    from common.infra.settings import get_settings
    from trainer_worker import reclassify

    client = redis.Redis.from_url(get_settings().redis_url)
    started = time.perf_counter()
    shards = reclassify.reclassify_all(get_database(), client, version,
                                       lambda message: messages.send(message, celery_app.send_task))  # fmt: skip
    return {"shards": shards, "seconds": round(time.perf_counter() - started, 2), "peak_rss_mb": peak_rss_mb()}


# --- Cassandra's view ---------------------------------------------------------------------------------------


def largest_partitions(keyspace: str) -> list[dict]:
    from common.db import get_database

    rows = list(get_database().execute("SELECT * FROM system_views.max_partition_size"))
    found = [r for r in rows if getattr(r, "keyspace_name", None) == keyspace]
    return [{"table": r.table_name, "max_partition_mib": r.mebibytes} for r in found if r.mebibytes]


# --- main ---------------------------------------------------------------------------------------------------


def run(faces: int, personas: int, labeled: int, pass_timeout: float, predict_prototypes: int,
        predict_personas: int) -> dict:  # fmt: skip
    from common.infra.settings import get_settings

    result: dict = {"faces": faces, "personas": personas, "labeled_requested": labeled}
    _progress(f"seeding {faces} faces, {personas} personas, {labeled} labels")
    result.update(seed(faces, personas, labeled))
    _progress(f"seeded in {result['seed_seconds']} s; retraining")
    result["retrain"] = run_step("retrain")
    result["largest_row_bytes"] = largest_rows()
    _progress(f"retrain: {result['retrain']}")
    _progress("a first full pass, not measured: it builds the index of all faces (face_cells), which later passes keep")
    result["indexing_pass"] = full_pass(2, faces, pass_timeout)
    result["worker_threads"] = get_settings().worker_threads
    for workers in (1, 2):
        _progress(f"full pass with {workers} worker process(es)")
        result[f"pass_{workers}"] = full_pass(workers, faces, pass_timeout)
        _progress(f"pass with {workers}: {result[f'pass_{workers}']['faces_per_s']} faces/s")
    result["pass_ratio_2_vs_1"] = round(result["pass_2"]["faces_per_s"] / result["pass_1"]["faces_per_s"], 2)
    per_cpu = [result[f"pass_{w}"]["cpu"]["faces_per_worker_cpu_s"] or 0.0 for w in (1, 2)]
    result["worker_cpu_cost_ratio_2_vs_1"] = round(per_cpu[0] / per_cpu[1], 2) if per_cpu[1] else None
    if predict_prototypes:
        result["predict"] = run_step("predict", str(predict_prototypes), str(predict_personas))
    result["largest_partitions"] = largest_partitions(get_settings().cassandra_keyspace)
    return result


def step_predict(prototypes: int, personas: int) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.predict_scale", "--prototypes", str(prototypes),
                          "--personas", str(personas), "--json", "/dev/stdout"], cwd=ROOT, capture_output=True,
                         text=True, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--personas", type=int, default=1_000)
    parser.add_argument("--labeled", type=int, default=10_000)
    parser.add_argument("--pass-timeout", type=float, default=7200)
    parser.add_argument(
        "--predict-prototypes",
        type=int,
        default=100_000,
        help="benchmarks.predict_scale's model size (0: leave it out)",
    )
    parser.add_argument("--predict-personas", type=int, default=10_000)
    parser.add_argument(
        "--worker-threads",
        type=int,
        default=1,
        help="PP_WORKER_THREADS of the reclassify workers (1: one core per process, as on AKS)",
    )
    parser.add_argument("--json", type=Path, help="write the result here too")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    if args.step:  # a step in a process of its own, in the keyspace its parent set up
        steps = {"retrain": step_retrain, "fan-out": lambda: step_fan_out(int(rest[0])),
                 "predict": lambda: step_predict(int(rest[0]), int(rest[1]))}  # fmt: skip
        print(json.dumps(steps[args.step]()))
        return 0
    os.environ["PP_WORKER_THREADS"] = str(args.worker_threads)
    with isolated(REDIS_DB, name="scale"):
        result = run(
            args.faces, args.personas, args.labeled, args.pass_timeout, args.predict_prototypes, args.predict_personas
        )
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
