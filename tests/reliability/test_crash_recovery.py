"""Crash windows of the trainer, checked directly: the training lock of a dead trainer lapses quickly while a
live one keeps it, and a training that died between registering its version and gating it is finished by the
redelivered task instead of being skipped as "unchanged"."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from common.classifier import registry
from common.repositories import labels
from common.repositories import models as models_repo
from common.repositories import personas as personas_repo
from tests.support.seed import centers, seed_faces
from trainer_worker import training
from trainer_worker.retrain_job import RenewedLock

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

HOLDER = textwrap.dedent("""
    import sys, time
    from common.labeling.retrain_trigger import redis_connection
    from trainer_worker.retrain_job import RenewedLock
    assert RenewedLock(redis_connection(), sys.argv[1], 3).acquire()
    print("held", flush=True)
    time.sleep(600)
""")


def test_a_live_trainers_lock_outlives_its_expiry_and_a_killed_ones_lapses_within_it(redis_client):
    """Invariant: a training process keeps the lock however long it trains (renewed every third of the
    expiry), and once that process is SIGKILLed the lock is free again within the expiry (3 s here)."""
    key = f"test:retrain-lock:{os.getpid()}"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, key], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        time.sleep(5)  # longer than the expiry: only the renewal keeps it
        assert redis_client.exists(key) and not RenewedLock(redis_client, key, 3).acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        killed_at = time.monotonic()
        while redis_client.exists(key):
            assert time.monotonic() - killed_at < 3.5, "a dead trainer's lock did not lapse"
            time.sleep(0.05)
        successor = RenewedLock(redis_client, key, 3)
        assert successor.acquire()
        successor.release()
    finally:
        holder.kill()
        redis_client.delete(key)


def test_a_training_killed_before_its_gate_is_promoted_by_the_redelivered_task(clean_tables, redis_client,
                                                                                  monkeypatch):  # fmt: skip
    """Invariant: a version registered as candidate by a training that died before the quality gate is gated
    and promoted when the task runs again (same labels), and no second version is made."""
    db = clean_tables
    for index, center in enumerate(centers(2)):
        persona = personas_repo.create(db, f"persona {index}", "test")
        for face_id in seed_faces(db, 3, center, seed=index + 1):
            labels.write(db, labels.Label(face_id, persona.persona_id, labels.CONFIRM, "test"))

    def crash(*_args, **_kwargs):
        raise SystemExit("trainer killed between registering and gating")

    monkeypatch.setattr(training, "_gate", crash)
    with pytest.raises(SystemExit):
        training.run_training(db, reason="first delivery")
    assert [(v.version, v.status) for v in models_repo.list_versions(db)] == [(1, registry.CANDIDATE)]
    monkeypatch.undo()

    outcome = training.run_training(db, reason="redelivery")
    try:
        assert (outcome.status, outcome.version) == (registry.ACTIVE, 1)
        assert [(v.version, v.status) for v in models_repo.list_versions(db)] == [(1, registry.ACTIVE)]
        assert models_repo.active_version(db) == 1
    finally:
        redis_client.delete("reclassify")  # the promotion's reclassify-all: no worker here
