"""Back off on Overloaded (Cosmos DB's 429 "Request Rate is large") instead of retrying at once.

The driver's default policy retries an Overloaded error on the next host with
no delay, which against Cosmos DB only burns more request units. The policy
here rethrows it; :func:`call_with_backoff` (used by every query in
:mod:`common.db.database`) then sleeps for the server's ``RetryAfterMs`` hint,
or an exponential delay with jitter, and tries again. Sleeping happens in the
calling thread, never in the driver's event loop.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from typing import TypeVar

from cassandra.policies import RetryPolicy
from cassandra.protocol import OverloadedErrorMessage

log = logging.getLogger(__name__)
T = TypeVar("T")
_RETRY_AFTER = re.compile(r"RetryAfterMs=(\d+)", re.IGNORECASE)


class OverloadAwareRetryPolicy(RetryPolicy):
    """The driver's default policy, except that Overloaded is handed back to the caller."""

    def on_request_error(self, query, consistency, error, retry_num):
        if isinstance(error, OverloadedErrorMessage):
            return self.RETHROW, None
        return super().on_request_error(query, consistency, error, retry_num)


def retry_after_seconds(error: BaseException) -> float | None:
    match = _RETRY_AFTER.search(str(error))
    return int(match.group(1)) / 1000.0 if match else None


def backoff_delay(attempt: int, error: BaseException, base: float = 0.1, cap: float = 5.0) -> float:
    hinted = retry_after_seconds(error)
    if hinted is not None:
        return hinted + random.uniform(0, 0.05)
    return min(cap, base * 2**attempt) * random.uniform(0.5, 1.0)


def call_with_backoff(fn: Callable[[], T], retries: int, sleep: Callable[[float], None] = time.sleep) -> T:
    attempt = 0
    while True:
        try:
            return fn()
        except OverloadedErrorMessage as exc:
            if attempt >= retries:
                raise
            delay = backoff_delay(attempt, exc)
            log.warning("Cassandra overloaded (attempt %d), retrying in %.2fs: %s", attempt + 1, delay, exc)
            sleep(delay)
            attempt += 1
