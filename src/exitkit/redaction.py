"""Keep secrets out of every log line, record, report and error message.

Secret values are registered when credentials are resolved; :func:`scrub` replaces any
registered value, and anything shaped like an AWS signature or presigned-URL parameter or
an Azure SAS or SharedKey signature, with ``***``.
"""

import re
import threading

REDACTED = "***"

_lock = threading.Lock()
_secrets: set[str] = set()

_SIGNATURE_PATTERNS = (
    re.compile(r"(Signature=)[0-9a-fA-F]{16,}"),
    re.compile(r"(X-Amz-Signature=)[^&\s\"']+", re.IGNORECASE),
    re.compile(r"(X-Amz-Credential=)[^&\s\"']+", re.IGNORECASE),
    re.compile(r"(X-Amz-Security-Token=)[^&\s\"']+", re.IGNORECASE),
    re.compile(r"(Credential=)[^,\s/]+", re.IGNORECASE),
    re.compile(r"([?&]sig=)[^&\s\"']+", re.IGNORECASE),  # an Azure SAS token's signature
    re.compile(r"(SharedKey [^:\s]+:)[A-Za-z0-9+/=]+"),  # an Azure SharedKey signature
)


def register_secret(value: str) -> None:
    """Remember *value* so that :func:`scrub` removes it wherever it appears."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def scrub(text: str) -> str:
    """Return *text* with every registered secret and signature-like token replaced."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    for pattern in _SIGNATURE_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text
