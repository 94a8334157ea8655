"""The RETRAIN task's logic: coalesce bursts (request sequence numbers) and serialize (a Redis lock)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis
from redis.exceptions import LockError

from common.db import Database
from common.retrain_trigger import FORCE_KEY, LOCK_KEY, latest_request_seq
from common.settings import get_settings
from trainer_worker.training import TrainingOutcome, run_training

log = logging.getLogger(__name__)

SUPERSEDED, BUSY, DONE = "superseded", "busy", "done"


@dataclass(frozen=True)
class RetrainResult:
    status: str  # superseded | busy | done
    outcome: TrainingOutcome | None = None


def handle_retrain(db: Database, client: redis.Redis, reason: str, seq: int | None) -> RetrainResult:
    """Train unless a newer request exists (its task will train) or a training is running (retry later)."""
    if seq is not None and latest_request_seq(client) > seq:
        return RetrainResult(SUPERSEDED)
    lock = client.lock(LOCK_KEY, timeout=get_settings().retrain_lock_seconds, blocking=False)
    if not lock.acquire(blocking=False):
        return RetrainResult(BUSY)
    try:
        force = bool(client.getdel(FORCE_KEY))
        outcome = run_training(db, reason=reason, force=force)
    finally:
        try:
            lock.release()
        except LockError:
            log.warning("the retrain lock expired before the training ended; raise PP_RETRAIN_LOCK_SECONDS")
    return RetrainResult(DONE, outcome)


def training_running(client: redis.Redis) -> bool:
    return bool(client.exists(LOCK_KEY))
