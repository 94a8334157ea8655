"""The process's Redis client (the broker's Redis, ``PP_REDIS_URL``), made anew after a fork.

Callers that only *optimise* with Redis (the read-model generation, the page cache) check
:func:`unavailable` first and call :func:`note_failure` when a command fails, so a Redis
outage costs one failed attempt per ``BACKOFF_SECONDS`` instead of a timeout on every request.
"""

from __future__ import annotations

import os
import time

import redis

from common.infra.settings import get_settings

BACKOFF_SECONDS = 5.0

_client: redis.Redis | None = None
_client_pid: int | None = None
_down_until = 0.0


def redis_connection() -> redis.Redis:
    global _client, _client_pid
    if _client is None or _client_pid != os.getpid():
        _client = redis.Redis.from_url(get_settings().redis_url, socket_timeout=5, socket_connect_timeout=2)
        _client_pid = os.getpid()
    return _client


def unavailable() -> bool:
    """True for a few seconds after a command failed (see :func:`note_failure`)."""
    return time.monotonic() < _down_until


def note_failure() -> None:
    global _down_until
    _down_until = time.monotonic() + BACKOFF_SECONDS
