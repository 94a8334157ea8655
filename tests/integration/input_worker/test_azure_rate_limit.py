"""The Azure Face rate limit is shared through the real Redis: all workers together stay under it."""

from __future__ import annotations

import threading
import time

import pytest

from common.face_models.rate_limit import RedisRateLimiter

pytestmark = pytest.mark.integration


def test_two_workers_together_never_exceed_the_calls_per_second(redis_client):
    key = "pp:test:ratelimit"
    redis_client.delete(key)
    limiters = [RedisRateLimiter(redis_client, key, 10) for _ in range(2)]  # two "workers", one budget
    stamps: list[float] = []
    lock = threading.Lock()

    def worker(limiter: RedisRateLimiter) -> None:
        for _ in range(15):
            limiter.acquire(timeout=10)
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker, args=(limiter,)) for limiter in limiters]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    assert len(stamps) == 30
    assert elapsed >= 1.9  # 30 calls at 10/s need three windows
    stamps.sort()
    # No one-second span holds more than two windows' worth (a fixed window allows a burst at its edge).
    assert max(sum(1 for t in stamps if s <= t < s + 1.0) for s in stamps) <= 20


def test_a_caller_that_cannot_get_a_slot_in_time_gets_an_error(redis_client):
    key = "pp:test:ratelimit-timeout"
    redis_client.delete(key)
    limiter = RedisRateLimiter(redis_client, key, 0.2)  # one call per 5 s
    limiter.acquire()
    with pytest.raises(TimeoutError):
        limiter.acquire(timeout=0.5)
