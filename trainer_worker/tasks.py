"""Celery tasks of the trainer worker: thin adapters from a typed message (``common.infra.messages``) to plain
functions (idempotent on redelivery). Kwargs that are not the task's message are recorded as a bad message
(``common.task_runtime.task_intake``).

Outages (Cassandra, Redis) make a task retry with exponential backoff and jitter, without limit
(``PP_TASK_RETRY_BACKOFF_MAX`` caps the wait): a retrain or a batch of predictions is never dropped.
"""

from __future__ import annotations

import logging

from common.db import get_database
from common.infra import messages, task_names
from common.infra.celery_app import celery_app
from common.infra.messages import CheckEvents, ReclassifyAll, ReclassifyBatch, Retrain
from common.infra.settings import get_settings
from common.infra.task_retry import retry_options
from common.labeling.retrain_trigger import redis_connection
from common.task_runtime.task_intake import receives
from trainer_worker.events_check import check_events
from trainer_worker.reclassify import decode_faces, reclassify_all, reclassify_batch
from trainer_worker.retrain_job import BUSY, handle_retrain

log = logging.getLogger(__name__)

RETRY = retry_options()


@celery_app.task(name=task_names.RETRAIN, bind=True, **RETRY)
@receives(Retrain)
def retrain(self, message: Retrain) -> dict:
    result = handle_retrain(get_database(), redis_connection(), message.reason, message.seq)
    if result.status == BUSY:
        delay = max(get_settings().retrain_quiet_seconds, 5.0)
        messages.send(message, self.app.send_task, countdown=delay)
        log.info("a training is running: retrain (seq %s) rescheduled in %.0fs", message.seq, delay)
    outcome = result.outcome
    return {"status": result.status, "version": outcome.version if outcome else None,
            "outcome": outcome.status if outcome else None, "reason": outcome.reason if outcome else ""}  # fmt: skip


@celery_app.task(name=task_names.CHECK_EVENTS)
@receives(CheckEvents)
def check_events_task(_message: CheckEvents) -> dict:
    result = check_events(get_database(), redis_connection())
    return {"pending_events": result.pending_events, "requested": result.requested, "reason": result.reason}


@celery_app.task(name=task_names.RECLASSIFY_ALL, **RETRY)
@receives(ReclassifyAll)
def reclassify_all_task(message: ReclassifyAll) -> int:
    return reclassify_all(get_database(), redis_connection(), message.version)


@celery_app.task(name=task_names.RECLASSIFY_BATCH, **RETRY)
@receives(ReclassifyBatch)
def reclassify_batch_task(message: ReclassifyBatch) -> dict:
    """New faces from the input worker (by id), or a batch of a full pass (rows with embeddings)."""
    db, client = get_database(), redis_connection()
    if message.full_pass is None:
        result = reclassify_batch(db, list(message.face_ids), client)
    else:
        batch = message.full_pass
        result = reclassify_batch(db, [], client, batch.version, batch.batch_id, True, decode_faces(batch.faces))
    return {"version": result.version, "predicted": result.predicted, "labeled": result.labeled,
            "missing": result.missing}  # fmt: skip
