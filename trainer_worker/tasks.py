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
from common.infra.messages import (
    AuditPass,
    CheckEvents,
    ReclassifyAll,
    ReclassifyBatch,
    ReclassifyShard,
    ReconcileCorpusCounts,
    RefreshPredictions,
    Retrain,
)
from common.infra.settings import get_settings
from common.infra.task_retry import retry_options
from common.labeling.retrain_trigger import redis_connection
from common.task_runtime.task_intake import receives
from trainer_worker import corpus_reconcile
from trainer_worker.audit import audit_if_due
from trainer_worker.events_check import check_events
from trainer_worker.reclassify import reclassify_all, reclassify_batch, reclassify_shard
from trainer_worker.retrain_job import BUSY, handle_retrain
from trainer_worker.scoped_refresh import refresh_predictions

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


def _send(message: messages.Message) -> object:
    return messages.send(message, celery_app.send_task)


@celery_app.task(name=task_names.RECLASSIFY_ALL, bind=True, **RETRY)
@receives(ReclassifyAll)
def reclassify_all_task(self, message: ReclassifyAll) -> int:
    """The pass id is the task's id: a redelivery of this message resumes the same pass."""
    return reclassify_all(get_database(), redis_connection(), message.version, _send, pass_id=self.request.id,
                          kind=message.kind, previous=message.previous)  # fmt: skip


@celery_app.task(name=task_names.REFRESH_PREDICTIONS, bind=True, **RETRY)
@receives(RefreshPredictions)
def refresh_predictions_task(self, message: RefreshPredictions) -> dict:
    """After a promotion: a scoped refresh, or a full pass (whose id is this task's id) when it cannot be bounded."""
    result = refresh_predictions(get_database(), redis_connection(), message.version, message.previous, _send,
                                 pass_id=self.request.id)  # fmt: skip
    return {"kind": result.kind, "reason": result.reason, "faces_in_radius": result.faces_in_radius,
            "faces_read": result.faces_read, "predicted": result.predicted,
            "decisions_changed": result.decisions_changed}  # fmt: skip


@celery_app.task(name=task_names.AUDIT_PASS, bind=True, **RETRY)
@receives(AuditPass)
def audit_pass_task(self, _message: AuditPass) -> str:
    """Beat: an audit pass of the active version when one is due."""
    return audit_if_due(get_database(), redis_connection(), _send, pass_id=self.request.id)


@celery_app.task(name=task_names.RECLASSIFY_SHARD, **RETRY)
@receives(ReclassifyShard)
def reclassify_shard_task(message: ReclassifyShard) -> dict:
    """One token range of a full pass (low priority: new faces' batches are served first)."""
    result = reclassify_shard(get_database(), redis_connection(), message)
    return {"status": result.status, "predicted": result.predicted, "unchanged": result.unchanged}


@celery_app.task(name=task_names.RECLASSIFY_BATCH, **RETRY)
@receives(ReclassifyBatch)
def reclassify_batch_task(message: ReclassifyBatch) -> dict:
    """New faces from the input worker."""
    result = reclassify_batch(get_database(), list(message.face_ids), redis_connection(), message.image_ids)
    return {"version": result.version, "predicted": result.predicted, "labeled": result.labeled,
            "missing": result.missing}  # fmt: skip


@celery_app.task(name=task_names.RECONCILE_CORPUS_COUNTS, **RETRY)
@receives(ReconcileCorpusCounts)
def reconcile_corpus_counts_task(message: ReconcileCorpusCounts) -> dict:
    """Count the corpus exactly and correct the counters (beat; a Redis lock keeps reconciles apart)."""
    result = corpus_reconcile.run(get_database(), redis_connection(), message.names)
    return {"counts": result.counts, "corrections": result.corrections, "skipped": result.skipped}
