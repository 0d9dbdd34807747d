"""The retry policy: transient failures retried with backoff, Retry-After honoured."""

import time

import pytest

from exitkit.errors import PermanentError, TransientError
from exitkit.providers.failures import error_for_status
from exitkit.providers.retry import with_retries


def test_statuses_are_classified_and_retry_after_is_kept():
    throttled = error_for_status(503, "GET k", "2")
    assert isinstance(throttled, TransientError) and throttled.retry_after == 2.0
    assert isinstance(error_for_status(429, "GET k"), TransientError)
    assert isinstance(error_for_status(500, "GET k"), TransientError)
    for status in (400, 401, 403, 404, 409):
        assert isinstance(error_for_status(status, "GET k"), PermanentError)
    assert "access denied" in str(error_for_status(403, "GET k"))


def test_retry_after_sets_the_minimum_wait_and_retries_are_counted():
    calls, retries = [], []

    def flaky():
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise TransientError("slow down", retry_after=0.5)
        return "done"

    assert with_retries(flaky, max_retries=5, on_retry=lambda: retries.append(1)) == "done"
    assert len(retries) == 2
    assert calls[1] - calls[0] >= 0.5 and calls[2] - calls[1] >= 0.5


def test_permanent_errors_fail_fast_and_attempts_are_bounded():
    calls = []

    def forbidden():
        calls.append(1)
        raise PermanentError("access denied")

    with pytest.raises(PermanentError):
        with_retries(forbidden, max_retries=5, on_retry=lambda: None)
    assert len(calls) == 1
    calls.clear()

    def down():
        calls.append(1)
        raise TransientError("HTTP 503", retry_after=0)

    with pytest.raises(TransientError):
        with_retries(down, max_retries=2, on_retry=lambda: None)
    assert len(calls) == 3
