import pytest
from cassandra.policies import RetryPolicy
from cassandra.protocol import OverloadedErrorMessage, ServerError

from common.db.retry import OverloadAwareRetryPolicy, backoff_delay, call_with_backoff, retry_after_seconds

COSMOS_429 = (
    "Request Rate is large: ActivityId=6f1e, RetryAfterMs=250, "
    "Additional details='Response status code does not indicate success: TooManyRequests (429)"
)


def overloaded(message=COSMOS_429):
    return OverloadedErrorMessage(0x1001, message, None)


def test_cosmos_retry_after_hint_is_honoured():
    assert retry_after_seconds(overloaded()) == pytest.approx(0.25)
    assert 0.25 <= backoff_delay(0, overloaded()) <= 0.3


def test_without_hint_backoff_grows_and_is_capped():
    err = overloaded("Coordinator node overloaded")
    assert backoff_delay(0, err) <= 0.1
    assert backoff_delay(10, err) <= 5.0


def test_policy_hands_overload_back_and_keeps_default_for_other_errors():
    policy = OverloadAwareRetryPolicy()
    assert policy.on_request_error(None, None, overloaded(), 0)[0] == RetryPolicy.RETHROW
    assert policy.on_request_error(None, None, ServerError(0x0000, "x", None), 0)[0] == RetryPolicy.RETRY_NEXT_HOST


def test_call_with_backoff_sleeps_then_succeeds_and_gives_up_after_limit():
    sleeps, calls = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise overloaded()
        return "ok"

    assert call_with_backoff(flaky, retries=5, sleep=sleeps.append) == "ok"
    assert len(sleeps) == 2 and all(s >= 0.25 for s in sleeps)

    def always():
        raise overloaded()

    with pytest.raises(OverloadedErrorMessage):
        call_with_backoff(always, retries=2, sleep=lambda s: None)
