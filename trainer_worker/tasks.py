"""Celery tasks of the trainer worker: thin adapters over plain functions (idempotent on redelivery).

Outages (Cassandra, Redis) make a task retry with exponential backoff and jitter, without limit
(``PP_TASK_RETRY_BACKOFF_MAX`` caps the wait): a retrain or a batch of predictions is never dropped.
"""

from __future__ import annotations

import logging

from celery import shared_task

from common import task_names
from common.db import get_database
from common.retrain_trigger import redis_connection
from common.settings import get_settings
from common.task_retry import retry_options
from trainer_worker.events_check import check_events
from trainer_worker.reclassify import decode_faces, reclassify_all, reclassify_batch
from trainer_worker.retrain_job import BUSY, handle_retrain

log = logging.getLogger(__name__)

RETRY = retry_options()


@shared_task(name=task_names.RETRAIN, bind=True, **RETRY)
def retrain(self, reason: str = "", seq: int | None = None) -> dict:
    result = handle_retrain(get_database(), redis_connection(), str(reason), int(seq) if seq is not None else None)
    if result.status == BUSY:
        delay = max(get_settings().retrain_quiet_seconds, 5.0)
        self.apply_async(kwargs={"reason": reason, "seq": seq}, countdown=delay)
        log.info("a training is running: retrain (seq %s) rescheduled in %.0fs", seq, delay)
    outcome = result.outcome
    return {"status": result.status, "version": outcome.version if outcome else None,
            "outcome": outcome.status if outcome else None, "reason": outcome.reason if outcome else ""}  # fmt: skip


@shared_task(name=task_names.CHECK_EVENTS)
def check_events_task() -> dict:
    result = check_events(get_database(), redis_connection())
    return {"pending_events": result.pending_events, "requested": result.requested, "reason": result.reason}


@shared_task(name=task_names.RECLASSIFY_ALL, **RETRY)
def reclassify_all_task(version: int | None = None) -> int:
    return reclassify_all(get_database(), redis_connection(), int(version) if version is not None else None)


@shared_task(name=task_names.RECLASSIFY_BATCH, **RETRY)
def reclassify_batch_task(face_ids: list | None = None, version: int | None = None, batch_id: str | None = None,
                          complete_images: bool = False, faces: list | None = None) -> dict:  # fmt: skip
    """``face_ids`` (new faces from the input worker) or ``faces`` (a full pass's rows with embeddings)."""
    ids = [f for f in (face_ids or []) if isinstance(f, str) and f]
    if len(ids) != len(face_ids or []):
        log.warning("reclassify batch: %d malformed face ids ignored", len(face_ids or []) - len(ids))
    vectors = None
    if faces is not None:
        try:
            vectors = decode_faces(faces)
        except (ValueError, TypeError) as exc:
            log.error("reclassify batch %s: malformed payload ignored: %s", batch_id, exc)
            return {"error": str(exc)}
    result = reclassify_batch(get_database(), ids, redis_connection(), int(version) if version is not None else None,
                              batch_id, bool(complete_images), vectors)  # fmt: skip
    return {"version": result.version, "predicted": result.predicted, "labeled": result.labeled,
            "missing": result.missing}  # fmt: skip
