"""The retry policy: transient failures retried with backoff, Retry-After honoured."""

import pytest
import tenacity

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


@pytest.fixture
def waits(monkeypatch):
    """The waits the retry policy asks for, recorded instead of slept; and each jitter
    window ``(low, high)`` it draws from, where the draw returns the window's middle."""
    asked, windows = [], []
    monkeypatch.setattr(tenacity.nap.time, "sleep", asked.append)

    def middle(low, high):
        windows.append((low, high))
        return (low + high) / 2

    monkeypatch.setattr(tenacity.wait.random, "uniform", middle)
    return asked, windows


def failing(times: int, retry_after: float | None):
    """A call that raises TransientError *times* times, then returns "done"."""
    calls = []

    def call():
        calls.append(1)
        if len(calls) <= times:
            raise TransientError("HTTP 503 SlowDown", retry_after=retry_after)
        return "done"

    return call


def test_backoff_is_exponential_with_full_jitter_and_every_retry_is_counted(waits):
    asked, windows = waits
    retries = []
    assert with_retries(failing(9, None), max_retries=9,
                        on_retry=lambda: retries.append(1)) == "done"
    assert len(retries) == 9
    # the window doubles from 0.2 s and stops growing at 15 s; the wait is drawn inside it
    assert windows == [(0, 0.2), (0, 0.4), (0, 0.8), (0, 1.6), (0, 3.2), (0, 6.4), (0, 12.8),
                       (0, 15), (0, 15)]
    assert asked == [high / 2 for _low, high in windows]


def test_retry_after_is_the_least_wait_and_is_capped_at_60_seconds(waits):
    asked, windows = waits
    assert with_retries(failing(2, 2.5), max_retries=5, on_retry=lambda: None) == "done"
    assert asked == [2.5, 2.5]  # the server's ask outweighs the jittered 0.1 s and 0.2 s
    asked.clear()
    assert with_retries(failing(3, 3600), max_retries=5, on_retry=lambda: None) == "done"
    assert asked == [60, 60, 60]  # a server asking for an hour does not stall the drill
    asked.clear()
    windows.clear()
    assert with_retries(failing(6, 0.5), max_retries=6, on_retry=lambda: None) == "done"
    # backoff grows past a small Retry-After: the larger of the two is waited
    assert asked == [0.5, 0.5, 0.5, 0.8, 1.6, 3.2]
    assert [high for _low, high in windows] == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4]


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
