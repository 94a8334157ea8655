"""What every task does on an outage: retry with exponential backoff and jitter, without limit.

Errors listed here mean "try again later" (Cassandra or Redis unreachable, a timeout), never "this
input is bad": bad input is recorded by the domain functions and never raises. Worker packages add
their own transient errors (the input worker: Azure and detector availability).
"""

from __future__ import annotations

from cassandra import OperationTimedOut, ReadTimeout, Unavailable, WriteTimeout
from cassandra.cluster import NoHostAvailable
from kombu.exceptions import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from common.settings import get_settings

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    NoHostAvailable,
    OperationTimedOut,
    ReadTimeout,
    WriteTimeout,
    Unavailable,
    OperationalError,
    RedisConnectionError,
    RedisTimeoutError,
)


def retry_options(transient: tuple[type[BaseException], ...] = INFRASTRUCTURE_ERRORS) -> dict:
    """Celery task options: autoretry on ``transient`` errors, backoff capped by PP_TASK_RETRY_BACKOFF_MAX."""
    return {
        "autoretry_for": transient,
        "retry_backoff": 2,
        "retry_backoff_max": get_settings().task_retry_backoff_max,
        "retry_jitter": True,
        "max_retries": None,
    }
