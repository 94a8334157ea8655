"""A rate limit shared by every worker process: a fixed one-second window counted in Redis.

``INCR`` + ``PEXPIRE`` run atomically in one Lua script; a caller over the limit
sleeps until the window's key expires and tries again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from common.infra import metrics

_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


class RedisRateLimiter:
    def __init__(self, client, key: str, calls_per_second: float, sleep: Callable[[float], None] = time.sleep):
        if calls_per_second <= 0:
            raise ValueError("calls_per_second must be positive")
        # Sub-1/s rates use a longer window holding one call.
        self.window_ms = max(1000, math.ceil(1000 / calls_per_second))
        self.limit = max(1, math.floor(calls_per_second * self.window_ms / 1000))
        self.key = key
        self._script = client.register_script(_SCRIPT)
        self._sleep = sleep

    def try_acquire(self) -> float:
        """0 when a call may go now, else the seconds to wait before trying again."""
        count, ttl_ms = self._script(keys=[self.key], args=[self.window_ms])
        return 0.0 if int(count) <= self.limit else max(int(ttl_ms), 1) / 1000.0

    def acquire(self, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            wait = self.try_acquire()
            if wait == 0.0:
                return
            if time.monotonic() + wait > deadline:
                raise TimeoutError(f"rate limit {self.key}: no slot within {timeout}s")
            metrics.record_rate_limit_wait(self.key, wait)
            self._sleep(wait)
