"""What every task does on an outage: retry with exponential backoff and jitter, without limit.

Errors listed here mean "try again later" (Cassandra or Redis unreachable, a timeout, Cosmos DB's
429 "Request rate is large" once the query's own backoff in :mod:`common.db.retry` has given up),
never "this input is bad": bad input is recorded by the domain functions and never raises. Worker
packages add their own transient errors (the input worker: Azure and detector availability).

``is_infrastructure_error`` is the one test every ``except`` that records a failure uses: such
an error is re-raised so the task retries, instead of being recorded as a rejected item, a failed
image or a missing model.
"""

from __future__ import annotations

from cassandra import OperationTimedOut, ReadTimeout, Unavailable, WriteTimeout
from cassandra.cluster import NoHostAvailable
from cassandra.protocol import IsBootstrappingErrorMessage, OverloadedErrorMessage
from kombu.exceptions import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from common.infra.settings import get_settings

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    NoHostAvailable,
    OperationTimedOut,
    ReadTimeout,
    WriteTimeout,
    Unavailable,
    OverloadedErrorMessage,  # Cosmos DB 429, after PP_CASSANDRA_OVERLOAD_RETRIES backoffs in the query
    IsBootstrappingErrorMessage,
    OperationalError,
    RedisConnectionError,
    RedisTimeoutError,
)


def is_infrastructure_error(exc: BaseException, extra: tuple[type[BaseException], ...] = ()) -> bool:
    """True when ``exc`` means "try again later" (an outage or throttling), not "this input is bad"."""
    return isinstance(exc, INFRASTRUCTURE_ERRORS + extra)


def retry_options(transient: tuple[type[BaseException], ...] = INFRASTRUCTURE_ERRORS) -> dict:
    """Celery task options: autoretry on ``transient`` errors, backoff capped by PP_TASK_RETRY_BACKOFF_MAX."""
    return {
        "autoretry_for": transient,
        "retry_backoff": 2,
        "retry_backoff_max": get_settings().task_retry_backoff_max,
        "retry_jitter": True,
        "max_retries": None,
    }
