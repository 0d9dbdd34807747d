"""Retry policy for transient failures: exponential backoff with jitter, bounded attempts."""

from collections.abc import Callable
from typing import TypeVar

from tenacity import (Retrying, retry_if_exception_type, stop_after_attempt, stop_after_delay,
                      wait_random_exponential)

from exitkit.errors import TransientError

Result = TypeVar("Result")
MAX_RETRY_SECONDS = 300


def with_retries(call: Callable[[], Result], max_retries: int,
                 on_retry: Callable[[], None]) -> Result:
    """Run *call*, retrying TransientError up to *max_retries* times; other errors fail fast."""
    retrying = Retrying(
        retry=retry_if_exception_type(TransientError),
        wait=wait_random_exponential(multiplier=0.2, max=15),
        stop=stop_after_attempt(max_retries + 1) | stop_after_delay(MAX_RETRY_SECONDS),
        before_sleep=lambda _state: on_retry(),
        reraise=True,
    )
    return retrying(call)
