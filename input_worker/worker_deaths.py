"""Inputs that stop their worker (OOM kill, SIGKILL, a decoder's segfault) are counted, so they end as a record.

Delivery is at least once (``task_acks_late`` + ``task_reject_on_worker_lost``): a task whose worker process
dies is delivered again, and an input that kills every worker that touches it would be delivered forever,
holding back the rest of its ingest batch. So the risky step of each input (decoding and detecting) runs
under a counter in Redis: incremented before the step, deleted when the step returns or raises (it did not
kill the worker). A counter still there at the next delivery means that delivery died inside the step.
When ``MAX_DEATHS`` deliveries have died on an input, the next one does not run the step: the input is
recorded as refused (ingest item rejected, image failed) with ``REASON``, and its batch goes on. The
counter expires after ``TTL_SECONDS`` should its outcome never be recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TypeVar

from common.images import InvalidImage
from common.infra.redis_client import redis_connection

MAX_DEATHS = 3
REASON = f"stopped the worker {MAX_DEATHS} times"
TTL_SECONDS = 7 * 24 * 3600  # longer than any redelivery chain (visibility timeout x MAX_DEATHS)
_PREFIX = "pp:worker-deaths:"

T = TypeVar("T")


class StoppedWorker(InvalidImage):
    """The input stopped its worker ``MAX_DEATHS`` times; it is refused without being touched again."""

    def __init__(self) -> None:
        super().__init__(REASON)


def counter_key(kind: str, *ids: str) -> str:
    """The counter of one input: ``kind`` (ingest, extract) and ids that name it in every delivery."""
    digest = hashlib.sha256("\0".join(ids).encode("utf-8", "surrogateescape")).hexdigest()[:40]
    return f"{_PREFIX}{kind}:{digest}"


def guarded(key: str, step: Callable[[], T]) -> T | StoppedWorker:
    """``step()``, counted under ``key``; a :class:`StoppedWorker` instead once ``MAX_DEATHS`` deliveries died
    in it (then the caller records the refusal and calls :func:`clear`)."""
    client = redis_connection()
    pipe = client.pipeline()
    pipe.incr(key)
    pipe.expire(key, TTL_SECONDS)
    deliveries = int(pipe.execute()[0])
    if deliveries > MAX_DEATHS:
        return StoppedWorker()
    try:
        return step()
    finally:  # it returned or raised: the worker survived this delivery
        client.delete(key)


def clear(key: str) -> None:
    """Forget an input's counter once its refusal is recorded."""
    redis_connection().delete(key)
