"""Fault injection (issue 7, part 3): with a 200-image job running through real workers, Redis and Cassandra,
each fault run ends with exactly the images, faces, predictions, job counters and model versions of a clean
run (``clean_run``): nothing lost, nothing duplicated. The scenario and the snapshot: tests/support/reliability.py.
"""

from __future__ import annotations

import time
from urllib.parse import urlparse

import pytest

from common.infra.local_services.cassandra import LocalCassandra
from common.infra.local_services.redis_server import LocalRedis
from common.repositories import models as models_repo
from tests.support import double_delivery
from tests.support.reliability import JOB_IMAGES, LOCK, VISIBILITY, Pipeline, pending_messages, wait_until
from trainer_worker.retrain_job import training_running

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

MID_JOB = 20  # extracted images before the fault


def start_job_and_wait_until_midway(p: Pipeline) -> int:
    p.start_job()
    extracted = wait_until(lambda: p.extracted() >= MID_JOB and p.extracted(), 180, f"{MID_JOB} images extracted")
    return extracted


def assert_same_as_clean(snapshot, clean_run) -> None:
    assert snapshot.differences(clean_run) == [], snapshot.summary()


def test_sigkill_of_an_extract_worker_mid_job(clean_run, pipeline):
    """Invariant: an input worker SIGKILLed while it holds delivered, unacknowledged tasks (acks are late)
    loses nothing: a new worker takes the queue, the killed tasks are redelivered after the visibility
    timeout and re-run idempotently, and the end state equals the clean run (same images, faces,
    predictions, job counters, model versions; no duplicate)."""
    p = pipeline
    p.prepare()
    extracted = start_job_and_wait_until_midway(p)
    p.kill("input")
    killed_at = time.monotonic()
    assert extracted < JOB_IMAGES and not p.job_done(), "the fault must hit mid-job"
    assert pending_messages(p.redis_client) > 0
    p.start("input")
    snapshot = p.finish()
    print(f"\nkilled after {extracted} extracted; done {time.monotonic() - killed_at:.0f}s later; {p.timings}")
    assert_same_as_clean(snapshot, clean_run)


def test_sigkill_of_the_retrain_worker_mid_training(clean_run, pipeline):
    """Invariant: a retrain worker SIGKILLed while it trains (holding the training lock) delays the model but
    does not lose it: its lock lapses within PP_RETRAIN_LOCK_SECONDS (nobody renews it), the RETRAIN task is
    redelivered to a new worker, which trains, gates and promotes v1, and every face ingested meanwhile
    gets its v1 prediction; the end state equals the clean run (one model version, no duplicate)."""
    p = pipeline
    p.reset()
    p.start("input", "reclassify")
    p.seed()
    p.launch("retrain")
    wait_until(lambda: training_running(p.redis_client), 90, "the retrain worker training", interval=0.002)
    p.kill("retrain")
    killed_at = time.monotonic()
    assert models_repo.active_version(p.db) is None, "the fault must hit before the promotion"
    assert training_running(p.redis_client), "the dead trainer's lock is still held"
    p.start("retrain")
    p.start_job()  # faces extracted before v1 exists are predicted by v1's reclassify-all
    wait_until(lambda: not training_running(p.redis_client) and models_repo.active_version(p.db),
               LOCK + VISIBILITY + 60, "the retrain completed and promoted")  # fmt: skip
    promoted_after = time.monotonic() - killed_at
    snapshot = p.finish()
    print(f"\nv1 promoted {promoted_after:.0f}s after the kill; {p.timings}")
    assert promoted_after < VISIBILITY + LOCK + 30
    assert_same_as_clean(snapshot, clean_run)


def test_every_task_delivered_twice(clean_run, pipeline):
    """Invariant: when every task message is delivered twice (a copy with the same task id, arguments and
    ETA is published after each one, by workers and by the test process), nothing is duplicated: images,
    faces, predictions, job counters (no item reported twice or as a duplicate) and model versions equal
    the clean run's."""
    p = pipeline
    p.worker_args, p.worker_env = double_delivery.WORKER_ARGS, double_delivery.WORKER_ENV
    with double_delivery.enabled():
        p.prepare()
        p.start_job()
        snapshot = p.finish()
    copies = {k.decode(): int(v) for k, v in p.redis_client.hgetall(double_delivery.COUNTER_KEY).items()}
    print(f"\ncopies delivered: {copies}; {p.timings}")
    assert copies.get("input_worker.extract_image", 0) >= JOB_IMAGES
    assert copies.get("trainer_worker.retrain", 0) >= 1 and copies.get("input_worker.ingest_batch", 0) >= 8
    assert_same_as_clean(snapshot, clean_run)


@pytest.mark.disruptive
def test_redis_restart_mid_job(clean_run, pipeline, settings):
    """Invariant: Redis stopped (SIGTERM: it writes its append-only file) and started again mid-job keeps every
    queued and unacknowledged task (appendonly yes, appendfsync everysec); the workers reconnect by
    themselves (none is restarted) and finish the job; tasks cut off by the restart are redelivered after
    the visibility timeout; the end state equals the clean run."""
    p = pipeline
    p.prepare()
    extracted = start_job_and_wait_until_midway(p)
    redis = LocalRedis(settings.state_dir, urlparse(settings.redis_url).port or 6379)
    stopped_at = time.monotonic()
    try:
        redis.stop()
    finally:
        redis.start()
    downtime = time.monotonic() - stopped_at
    snapshot = p.finish()
    print(f"\nRedis down {downtime:.1f}s after {extracted} extracted; done {time.monotonic() - stopped_at:.0f}s "
          f"later; {p.timings}")  # fmt: skip
    assert all(p.alive().values()), p.alive()
    assert_same_as_clean(snapshot, clean_run)


@pytest.mark.disruptive
def test_cassandra_stopped_for_20_seconds_mid_job(clean_run, pipeline, settings):
    """Invariant: Cassandra stopped for 20 s mid-job (then started; it takes a while to serve again) makes tasks
    fail with NoHostAvailable or timeouts; they retry with backoff instead of being dropped or recorded as
    bad input, no worker dies, and the end state equals the clean run (every image processed, no item
    rejected, every prediction present)."""
    p = pipeline
    p.prepare()
    extracted = start_job_and_wait_until_midway(p)
    cassandra = LocalCassandra(settings.state_dir, native_port=settings.cassandra_port)
    stopped_at = time.monotonic()
    try:
        cassandra.stop()
        time.sleep(20)
    finally:
        cassandra.start()
    downtime = time.monotonic() - stopped_at
    snapshot = p.finish(timeout=300)
    print(f"\nCassandra down {downtime:.0f}s after {extracted} extracted; done {time.monotonic() - stopped_at:.0f}s "
          f"later; {p.timings}")  # fmt: skip
    assert all(p.alive().values()), p.alive()
    assert_same_as_clean(snapshot, clean_run)
