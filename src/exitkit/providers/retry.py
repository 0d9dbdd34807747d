"""Retry policy for transient failures: exponential backoff with jitter, bounded attempts."""

import time
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, TypeVar

from exitkit.errors import TransientError

if TYPE_CHECKING:  # tenacity (which imports asyncio and tornado) is imported on a first retry
    from tenacity import RetryCallState

Result = TypeVar("Result")
MAX_RETRY_SECONDS = 300
MAX_RETRY_AFTER_S = 60


@cache
def _backoff():
    from tenacity import wait_random_exponential

    return wait_random_exponential(multiplier=0.2, max=15)


def _wait(state: "RetryCallState") -> float:
    """Exponential backoff with jitter, but never less than the server's Retry-After."""
    error = state.outcome.exception() if state.outcome else None
    asked = getattr(error, "retry_after", None) or 0.0
    return max(_backoff()(state), min(asked, MAX_RETRY_AFTER_S))


def _retryable(error: BaseException) -> bool:
    """A TransientError that no inner retry (:mod:`exitkit.providers.retrying`) gave up on."""
    return isinstance(error, TransientError) and not getattr(error, "exhausted", False)


def with_retries(call: Callable[[], Result], max_retries: int,
                 on_retry: Callable[[], None]) -> Result:
    """Run *call*, retrying TransientError up to *max_retries* times; other errors fail
    fast, and so does an error a retrying adapter already retried to its limit.

    The first attempt runs bare (most calls succeed: no retry state is built for them);
    its retryable error is handed to tenacity as that same first attempt, so waits,
    attempts, the time limit (from the first attempt's start) and ``on_retry`` calls are
    those of a tenacity loop around every attempt.
    """
    started = time.monotonic()
    try:
        return call()
    except TransientError as exc:
        if not _retryable(exc):
            raise
        first_error = exc
    attempts = iter((first_error,))

    def attempt() -> Result:
        error = next(attempts, None)
        if error is not None:
            raise error
        return call()

    from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_after_delay

    elapsed = time.monotonic() - started
    retrying = Retrying(
        retry=retry_if_exception(_retryable),
        wait=_wait,
        stop=stop_after_attempt(max_retries + 1) | stop_after_delay(MAX_RETRY_SECONDS - elapsed),
        before_sleep=lambda _state: on_retry(),
        reraise=True,
    )
    return retrying(attempt)
