"""Errors that mean "try again later" for trainer tasks (Cassandra or Redis unreachable), not a bad payload."""

from __future__ import annotations

from cassandra import OperationTimedOut, ReadTimeout, Unavailable, WriteTimeout
from cassandra.cluster import NoHostAvailable
from kombu.exceptions import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

TRANSIENT: tuple[type[BaseException], ...] = (
    NoHostAvailable,
    OperationTimedOut,
    ReadTimeout,
    WriteTimeout,
    Unavailable,
    OperationalError,
    RedisConnectionError,
    RedisTimeoutError,
)
