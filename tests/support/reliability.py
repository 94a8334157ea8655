"""Fault-injection support: the whole pipeline through real workers, Redis and Cassandra, and a snapshot of it.

One run (``Pipeline``): empty tables and Redis DB; ingest a 4-image seed folder, create the personas
``astronaut`` and ``grace_hopper`` and confirm the seed faces; the retrain worker trains, gates and
promotes model v1; then a 210-image job is ingested and every new face gets a v1 prediction from the
reclassify worker. ``Pipeline.finish`` waits until the job is done, every unlabeled face has a prediction
from the active model and no task is queued or unacknowledged, then returns a ``Snapshot``. Fault tests
interleave their fault with these steps and compare snapshots with a clean run's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cassandra import OperationTimedOut
from cassandra.cluster import NoHostAvailable
from redis.exceptions import ConnectionError as RedisConnectionError

from common.db import Database
from common.infra import task_names
from common.ingest.requests import start_ingest
from common.labeling import actions as labeling
from common.repositories import faces, jobs, labels, refreshes
from common.repositories import models as models_repo
from tests.support.face_images import write_folder
from tests.support.workers import WorkerProcess

# Worker settings for fault runs. A SIGKILLed worker's unacknowledged tasks are redelivered VISIBILITY
# seconds later (a worker sweeps for them every VISIBILITY / 6 s); the hard time limit stays below it
# (its soft limit is 30 s shorter). The training lock of a dead trainer lapses after LOCK seconds, and
# retries of tasks hit by an outage wait at most BACKOFF_MAX seconds.
VISIBILITY = 45
TIME_LIMIT = 40
LOCK = 30
BACKOFF_MAX = 10
WORKER_ENV = {
    "PP_CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY),
    "PP_CELERY_TASK_TIME_LIMIT": str(TIME_LIMIT),
    "PP_RETRAIN_LOCK_SECONDS": str(LOCK),
    "PP_TASK_RETRY_BACKOFF_MAX": str(BACKOFF_MAX),
    # Below the soft time limit (TIME_LIMIT - 30 s), as in production: a request hanging on a half-started
    # Cassandra must time out (transient: retried), not hit the soft limit (recorded as a failed image).
    "PP_CASSANDRA_REQUEST_TIMEOUT": "5",
}

SEED_IMAGES = 4
JOB_IMAGES = 200
PERSONAS = ("astronaut", "grace_hopper")

OUTAGES = (NoHostAvailable, OperationTimedOut, RedisConnectionError)

# role -> (celery app, queues, concurrency)
ROLES = {
    "input": ("input_worker.app", "ingest,extract", 2),
    "retrain": ("trainer_worker.app", "retrain", 1),
    "reclassify": ("trainer_worker.app", "reclassify", 1),
}


def write_inputs(root: Path) -> tuple[Path, Path]:
    """The seed folder (4 photos, 2 per persona) and the job folder (210 photos, one face each)."""
    seed, job = root / "seed", root / "job"
    write_folder(seed, SEED_IMAGES, start=10_000)
    write_folder(job, JOB_IMAGES)
    return seed, job


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> Any:
    """Poll ``check`` until truthy; an outage of Cassandra or Redis while polling counts as "not yet"."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except OUTAGES:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f}s: {what}")
        time.sleep(interval)


@dataclass(frozen=True)
class Snapshot:
    """What a run produced; equal snapshots mean nothing was lost and nothing duplicated."""

    images: frozenset  # (image_id, status, face_count)
    faces: frozenset  # (face_id, image_id, (left, top, width, height))
    predictions: dict  # face_id -> (persona name or None for unknown, model version)
    jobs: dict  # "seed" / "job" -> progress counters (no ids, no timestamps)
    models: tuple  # (version, status, confirmed labels, rejected labels, personas) per model version
    active: int | None

    def differences(self, other: Snapshot) -> list[str]:
        out = []
        for name in ("images", "faces"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                out.append(f"{name}: {len(mine)} vs {len(theirs)}; only here {sorted(mine - theirs)[:3]}, "
                           f"only there {sorted(theirs - mine)[:3]}")  # fmt: skip
        if self.predictions != other.predictions:
            keys = set(self.predictions) ^ set(other.predictions)
            changed = [f for f in set(self.predictions) & set(other.predictions)
                       if self.predictions[f] != other.predictions[f]]  # fmt: skip
            examples = [(f, self.predictions.get(f), other.predictions.get(f)) for f in (changed or list(keys))[:3]]
            out.append(f"predictions: {len(self.predictions)} vs {len(other.predictions)}; "
                       f"{len(keys)} faces on one side only, {len(changed)} differ, e.g. {examples}")  # fmt: skip
        for name in ("jobs", "models", "active"):
            if getattr(self, name) != getattr(other, name):
                out.append(f"{name}: {getattr(self, name)} vs {getattr(other, name)}")
        return out

    def summary(self) -> str:
        return (f"{len(self.images)} images, {len(self.faces)} faces, {len(self.predictions)} predictions, "
                f"models {[m[:2] for m in self.models]}, jobs {self.jobs}")  # fmt: skip


def take_snapshot(db: Database, job_ids: dict[str, str]) -> Snapshot:
    names = {r.persona_id: r.name for r in db.execute("SELECT persona_id, name FROM personas")}
    counters = {}
    for label, job_id in job_ids.items():
        progress = jobs.progress(db, job_id)
        assert progress is not None, f"job {label} vanished"
        counters[label] = {k: v for k, v in progress.as_dict().items() if k not in ("job_id", "created_at")}
    models = tuple(sorted((v.version, v.status, v.label_counts.get("confirmed"), v.label_counts.get("rejected"),
                           v.label_counts.get("personas")) for v in models_repo.list_versions(db)))  # fmt: skip
    return Snapshot(
        images=frozenset((r.image_id, r.status, r.face_count)
                         for r in db.execute("SELECT image_id, status, face_count FROM images")),
        faces=frozenset((r.face_id, r.image_id, (r.box_left, r.box_top, r.box_width, r.box_height))
                        for r in db.execute("SELECT face_id, image_id, box_left, box_top, box_width, box_height "
                                            "FROM faces")),
        predictions={r.face_id: (names.get(r.persona_id) if r.persona_id else None, r.model_version)
                     for r in db.execute("SELECT face_id, persona_id, model_version FROM predictions_by_face")},
        jobs=counters,
        models=models,
        active=models_repo.active_version(db),
    )  # fmt: skip


def pending_messages(redis_client) -> int:
    """Task messages queued (every priority sub-queue) or delivered and not yet acknowledged."""
    queued = 0
    for key in redis_client.scan_iter(count=1000):
        name = key.decode(errors="replace")
        if name.split("\x06\x16")[0] in task_names.QUEUES and redis_client.type(key) == b"list":
            queued += redis_client.llen(key)
    return queued + redis_client.hlen("unacked")


@dataclass
class Pipeline:
    db: Database
    redis_client: Any
    log_dir: Path
    seed_folder: Path
    job_folder: Path
    worker_args: list[str] = field(default_factory=list)
    worker_env: dict[str, str] = field(default_factory=dict)
    workers: dict[str, WorkerProcess] = field(default_factory=dict)
    job_ids: dict[str, str] = field(default_factory=dict)
    seed_faces: set[str] = field(default_factory=set)
    timings: dict[str, float] = field(default_factory=dict)
    _started: int = 0
    _last: float = field(default_factory=time.monotonic)

    # --- state and workers -------------------------------------------------------------------------
    def reset(self) -> None:
        """Empty every table and the Redis DB (no worker may run)."""
        tables = [r.table_name for r in self.db.execute(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?", (self.db.keyspace,))]  # fmt: skip
        for table in tables:
            if table != "schema_migrations":
                self.db.session.execute(f"TRUNCATE {table}", timeout=60)
        self.redis_client.flushdb()
        from common.classifier import clear_cache

        clear_cache()

    def launch(self, role: str) -> WorkerProcess:
        app, queues, concurrency = ROLES[role]
        self._started += 1
        worker = WorkerProcess(app, queues, f"{role}-{self._started}", concurrency=concurrency,
                               env={**WORKER_ENV, **self.worker_env},
                               log_dir=self.log_dir, extra_args=self.worker_args)  # fmt: skip
        self.workers[role] = worker
        return worker.launch()

    def start(self, *roles: str) -> None:
        for worker in [self.launch(role) for role in roles]:
            worker.wait_ready(90)

    def kill(self, role: str) -> None:
        self.workers[role].kill()

    def stop_all(self) -> None:
        for worker in self.workers.values():
            worker.stop()

    # --- the scenario ------------------------------------------------------------------------------
    def seed(self) -> None:
        """Ingest the seed folder, create both personas and confirm every seed face (training not yet started:
        the retrain worker starts after, so the burst of requests trains exactly once)."""
        job_id = self.job_ids["seed"] = start_ingest(self.db, str(self.seed_folder), actor="reliability")
        self.wait_for_job("seed", timeout=120)
        by_person: dict[str, list[str]] = {name: [] for name in PERSONAS}
        for item in jobs.items(self.db, job_id):
            ids = faces.ids_for_image(self.db, item.image_id)
            assert len(ids) == 1, f"seed image {item.source_name} has {len(ids)} faces"
            by_person[Path(item.source_name).name.rsplit("-", 1)[0]] += ids
        for name, face_ids in by_person.items():
            persona = labeling.create_persona(self.db, name, "reliability")
            labeling.label_many(self.db, face_ids, persona.persona_id, labels.CONFIRM, "reliability")
            self.seed_faces.update(face_ids)

    def wait_for_model(self, timeout: float = 120) -> int:
        return wait_until(lambda: models_repo.active_version(self.db), timeout, "a promoted model")

    def start_job(self) -> str:
        self.job_ids["job"] = start_ingest(self.db, str(self.job_folder), actor="reliability")
        return self.job_ids["job"]

    def extracted(self) -> int:
        progress = jobs.progress(self.db, self.job_ids["job"])
        return progress.counts["extracted"] if progress else 0

    def job_done(self) -> bool:
        progress = jobs.progress(self.db, self.job_ids["job"])
        return progress is not None and progress.done

    def wait_for_job(self, label: str, timeout: float) -> jobs.Progress:
        def done():
            progress = jobs.progress(self.db, self.job_ids[label])
            return progress if progress is not None and progress.done else None

        return wait_until(done, timeout, f"job {label} done", interval=0.5)

    def predictions_complete(self) -> bool:
        """Every new face has a prediction and the active version's refresh has finished (a face outside what
        a promotion changed keeps the version that predicted it)."""
        active = models_repo.active_version(self.db)
        if active is None:
            return False
        refresh = refreshes.get(self.db, active)
        if refresh is None or not refresh.finished:
            return False
        face_ids = {r.face_id for r in self.db.execute("SELECT face_id FROM faces")}
        predicted = {r.face_id for r in self.db.execute("SELECT face_id FROM predictions_by_face")}
        return face_ids - self.seed_faces <= predicted

    def finish(self, timeout: float = 240) -> Snapshot:
        """Wait for the job, the predictions and an empty broker; then snapshot."""
        self.wait_for_job("job", timeout)
        wait_until(self.predictions_complete, timeout, "a prediction from the active model for every new face", 0.5)
        wait_until(lambda: pending_messages(self.redis_client) == 0, timeout, "no task queued or unacknowledged")
        return take_snapshot(self.db, self.job_ids)

    def prepare(self) -> None:
        """Up to a promoted model v1, before the 200-image job."""
        self.reset()
        self.start("input", "reclassify")
        self.seed()
        self.start("retrain")
        self.wait_for_model()
        self.mark("prepared")

    def run(self) -> Snapshot:
        """The clean scenario end to end (fault tests go step by step instead)."""
        self.prepare()
        self.start_job()
        snapshot = self.finish()
        self.mark("job")
        return snapshot

    def alive(self) -> dict[str, bool]:
        return {role: w.proc is not None and w.proc.poll() is None for role, w in self.workers.items()}

    def mark(self, phase: str) -> None:
        now = time.monotonic()
        self.timings[phase] = round(now - self._last, 1)
        self._last = now
