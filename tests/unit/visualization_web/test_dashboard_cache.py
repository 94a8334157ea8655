"""Values the dashboard keeps per process (workers online): only the first view waits for them; a stale one
is shown while a single background recompute replaces it."""

import threading
import time

from visualization_web import dashboard_queries


def test_only_the_first_call_waits_and_a_stale_value_is_replaced_in_the_background():
    dashboard_queries.clear_cache()
    calls: list[int] = []
    release = threading.Event()

    def compute() -> int:
        calls.append(1)
        if len(calls) > 1:
            release.wait(5)  # a slow ping of every worker
        return len(calls)

    assert dashboard_queries.cached("test-workers", 0.05, compute) == 1
    assert dashboard_queries.cached("test-workers", 0.05, compute) == 1 and len(calls) == 1  # still fresh
    time.sleep(0.1)
    started = time.monotonic()
    for _ in range(5):  # stale: shown at once, however many views ask while one recompute runs
        assert dashboard_queries.cached("test-workers", 0.05, compute) == 1
    assert time.monotonic() - started < 0.5
    assert len(calls) == 2
    release.set()
    deadline = time.monotonic() + 5
    while dashboard_queries.cached("test-workers", 60, compute) != 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert dashboard_queries.cached("test-workers", 60, compute) == 2


def test_a_failed_recompute_keeps_the_last_value_and_is_tried_again():
    dashboard_queries.clear_cache()
    outcomes = iter([["worker-1"], RuntimeError("broker down"), ["worker-1", "worker-2"]])

    def compute():
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert dashboard_queries.cached("test-online", 0.01, compute) == ["worker-1"]
    time.sleep(0.05)
    assert dashboard_queries.cached("test-online", 0.01, compute) == ["worker-1"]  # starts the failing one
    deadline = time.monotonic() + 5
    while dashboard_queries._refreshing and time.monotonic() < deadline:
        time.sleep(0.01)
    assert dashboard_queries.cached("test-online", 0.01, compute) == ["worker-1"]  # starts the next one
    while dashboard_queries.cached("test-online", 60, compute) != ["worker-1", "worker-2"]:
        assert time.monotonic() < deadline
        time.sleep(0.01)
