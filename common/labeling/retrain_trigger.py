"""Ask for a retrain after a training-data event (label, persona change, manual request).

Called by whoever records such an event (web app, CLI, label import).

Coalescing: each request takes the next number from the Redis counter
``retrain:request_seq`` and sends a RETRAIN task carrying it, delayed by the
quiet period. When a task runs and the counter has moved on, a newer request
exists whose own task will train later, so it does nothing: a burst of
requests trains once, a quiet period after the last one.

Serialization: the task trains under the Redis lock ``retrain:lock``; a task that
finds it held reschedules itself. The lock expires after ``retrain_lock_seconds``
unless the training process renews it (every third of that, while it trains), so
a crashed trainer blocks retraining for at most that long
(``trainer_worker.retrain_job.RenewedLock``).
"""

from __future__ import annotations

import time

import redis

from common.infra import messages
from common.infra.celery_app import celery_app
from common.infra.redis_client import redis_connection
from common.infra.settings import get_settings

SEQ_KEY = "retrain:request_seq"
REQUESTED_AT_KEY = "retrain:requested_at"
FORCE_KEY = "retrain:force"
LOCK_KEY = "retrain:lock"


def request_retrain(reason: str, *, force: bool = False) -> None:
    """Coalesced, delayed retrain request. ``force`` trains even if the labels did not change."""
    settings = get_settings()
    client = redis_connection()
    pipe = client.pipeline()
    pipe.incr(SEQ_KEY)
    pipe.set(REQUESTED_AT_KEY, repr(time.time()))
    if force:
        pipe.set(FORCE_KEY, "1", ex=86400)
    seq = int(pipe.execute()[0])
    request = messages.Retrain(reason=reason[:500], seq=seq)
    messages.send(request, celery_app.send_task, countdown=settings.retrain_quiet_seconds)


def latest_request_seq(client: redis.Redis | None = None) -> int:
    return int((client or redis_connection()).get(SEQ_KEY) or 0)


def last_request_age(client: redis.Redis | None = None) -> float | None:
    """Seconds since the last request (None: no request known)."""
    raw = (client or redis_connection()).get(REQUESTED_AT_KEY)
    return time.time() - float(raw) if raw else None
