"""Translate what libcloud and requests raise into exitkit's transient/permanent split."""

import re
import socket

import requests
from libcloud.common.types import InvalidCredsError, LibcloudError

from exitkit.errors import PermanentError, TransientError

_STATUS_IN_MESSAGE = re.compile(r"[Ss]tatus code:?\s*(\d{3})")
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def _seconds(retry_after: str | None) -> float | None:
    try:
        return max(0.0, float(retry_after)) if retry_after is not None else None
    except ValueError:  # an HTTP date: not worth parsing, back off exponentially instead
        return None


def error_for_status(status: int, what: str, retry_after: str | None = None) -> Exception:
    """Return the exception that an HTTP *status* for operation *what* stands for."""
    if status in RETRYABLE_STATUSES:
        return TransientError(f"{what}: HTTP {status}", _seconds(retry_after))
    if status in (401, 403):
        return PermanentError(f"{what}: access denied (HTTP {status}); check the credentials")
    return PermanentError(f"{what}: HTTP {status}")


def classify(exc: BaseException, what: str) -> Exception:
    """Map a library exception raised during *what* to TransientError or PermanentError."""
    if isinstance(exc, (TransientError, PermanentError)):
        return exc
    if isinstance(exc, InvalidCredsError):
        return PermanentError(f"{what}: access denied; check the credentials")
    if isinstance(exc, (requests.ConnectionError, requests.Timeout, ConnectionError, socket.timeout)):
        return TransientError(f"{what}: connection failed ({type(exc).__name__})")
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return TransientError(f"{what}: connection broken while reading")
    if isinstance(exc, LibcloudError):
        match = _STATUS_IN_MESSAGE.search(str(exc.value))
        if match:
            return error_for_status(int(match.group(1)), what)
        return PermanentError(f"{what}: {exc.value}")
    return PermanentError(f"{what}: {type(exc).__name__}: {exc}")
