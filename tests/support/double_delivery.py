"""Deliver every Celery task twice: after each task message is published, a copy (same task id,
arguments and retry count) is published too, as a broker redelivery would.

Each copy is due ``COPY_DELAY`` seconds after its original (an ETA, as a redelivery comes later): two
deliveries then rarely run at the same moment, so the CPU-heavy extraction is not done twice for all
200 images (a concurrent second ``ingest_batch`` re-sends every extraction it finds pending, which would
double the run time). Whichever delivery comes second finds the first one's claims and rows.

Enabled in a worker process by starting it with ``--include tests.support.double_delivery`` and the
environment variable ``PP_TEST_DOUBLE_DELIVERY=1`` (``WORKER_ARGS``, ``WORKER_ENV``; the module is imported
before the pool forks, so every task the worker sends is doubled) and in the test process by ``enabled()``.
Copies carry the header ``pp-delivery-copy`` so they are not copied again; the Redis hash
``COUNTER_KEY`` counts the copies per task name. Nothing in the domain code is patched.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from celery import signals

COPY_HEADER = "pp-delivery-copy"
COUNTER_KEY = "pp:test:delivery-copies"
WORKER_ARGS = ["--include", __name__]
WORKER_ENV = {"PP_TEST_DOUBLE_DELIVERY": "1"}
COPY_DELAY = 2.0
_active = {"on": os.environ.get("PP_TEST_DOUBLE_DELIVERY") == "1"}


@signals.after_task_publish.connect
def _publish_copy(sender: str | None = None, body=None, headers: dict | None = None, **_kwargs) -> None:
    if not _active["on"] or not headers or headers.get(COPY_HEADER) or sender is None:
        return
    from common.infra.celery_app import celery_app
    from common.labeling.retrain_trigger import redis_connection

    args, kwargs, _embed = body
    eta = datetime.fromisoformat(headers["eta"]) if headers.get("eta") else None
    if eta is not None and eta.tzinfo is None:
        eta = eta.replace(tzinfo=UTC)
    eta = max(eta or datetime.now(UTC), datetime.now(UTC) + timedelta(seconds=COPY_DELAY))
    celery_app.send_task(sender, args=args, kwargs=kwargs, task_id=headers["id"],
                         retries=headers.get("retries") or 0, eta=eta, headers={COPY_HEADER: 1})  # fmt: skip
    redis_connection().hincrby(COUNTER_KEY, sender, 1)


@contextmanager
def enabled() -> Iterator[None]:
    """Double every task this (test) process publishes while inside the block."""
    _active["on"] = True
    try:
        yield
    finally:
        _active["on"] = False
