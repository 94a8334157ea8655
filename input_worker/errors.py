"""Errors that mean "try again later" (the task retries with backoff), not "this input is bad"."""

from __future__ import annotations

from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from cassandra import OperationTimedOut, ReadTimeout, Unavailable, WriteTimeout
from cassandra.cluster import NoHostAvailable
from kombu.exceptions import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from common.face_models import DetectorUnavailable

TRANSIENT: tuple[type[BaseException], ...] = (
    DetectorUnavailable,
    NoHostAvailable,
    OperationTimedOut,
    ReadTimeout,
    WriteTimeout,
    Unavailable,
    ServiceRequestError,
    ServiceResponseError,
    OperationalError,
    RedisConnectionError,
    RedisTimeoutError,
)
