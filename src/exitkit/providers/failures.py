"""Translate what libcloud, requests, urllib3 and http.client raise into exitkit's
transient/permanent split."""

import http.client
import re
import ssl

import requests
from libcloud.common.types import InvalidCredsError, LibcloudError
from urllib3 import exceptions as urllib3_errors

from exitkit.errors import PermanentError, TransientError, UnreadableError
from exitkit.providers.archive import restore_advice

_STATUS_IN_MESSAGE = re.compile(r"[Ss]tatus code:?\s*(\d{3})")
#: urllib3's connection failures, named as requests names them (the messages stay the same
#: whichever client sent the request); the first match wins.
_URLLIB3_FAILURES = ((urllib3_errors.ReadTimeoutError, "ReadTimeout"),
                     (urllib3_errors.NewConnectionError, "ConnectionError"),
                     (urllib3_errors.ConnectTimeoutError, "ConnectTimeout"),
                     (urllib3_errors.ProxyError, "ProxyError"),
                     (urllib3_errors.SSLError, "SSLError"),
                     (urllib3_errors.ProtocolError, "ConnectionError"))
#: OSErrors that name a local file, not a connection (a socket's errors are the rest:
#: refused, reset, timed out, name not resolved, TLS, no address left: named as requests
#: names them, so a message does not depend on the client that sent the request).
_LOCAL_FILE_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError,
                      NotADirectoryError, FileExistsError)
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def _seconds(retry_after: str | None) -> float | None:
    try:
        return max(0.0, float(retry_after)) if retry_after is not None else None
    except ValueError:  # an HTTP date: not worth parsing, back off exponentially instead
        return None


CREDENTIAL_CODES = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                              "InvalidToken", "TokenRefreshRequired"})


def error_for_status(status: int, what: str, retry_after: str | None = None,
                     code: str | None = None, message: str | None = None,
                     storage_class: str | None = None) -> Exception:
    """Return the exception that an HTTP *status* for operation *what* stands for.

    *code*, *message* and *storage_class* come from the S3 error document when the answer
    had one (HEAD answers have no body). Errors that mean "the object is there but not
    readable as it is" become :class:`UnreadableError` with the class and remedy; "check
    the credentials" is said only for errors the credentials themselves cause.
    """
    if status in RETRYABLE_STATUSES:
        return TransientError(f"{what}: HTTP {status}", _seconds(retry_after))
    if status == 407:
        return PermanentError(f"{what}: the proxy refused the request (HTTP 407); check the "
                              f"credentials in HTTP_PROXY/HTTPS_PROXY")
    unreadable = _unreadable(status, what, code or "", message or "", storage_class)
    if unreadable is not None:
        return unreadable
    if code in CREDENTIAL_CODES or status == 401:
        return PermanentError(f"{what}: {code or 'unauthorized'} (HTTP {status}); check the "
                              f"credentials")
    if code == "AccessDenied":
        return PermanentError(f"{what}: access denied (HTTP {status} AccessDenied); the "
                              f"credentials lack permission: check the IAM and bucket policy")
    if status == 403:
        return PermanentError(f"{what}: access denied (HTTP 403{', ' + code if code else ''})")
    return PermanentError(f"{what}: HTTP {status}{' ' + code if code else ''}")


def _unreadable(status: int, what: str, code: str, message: str,
                storage_class: str | None) -> UnreadableError | None:
    """The diagnosis of an S3 error that names why an existing object cannot be read."""
    lowered = message.lower()
    if code == "InvalidObjectState":
        return UnreadableError("archived", f"{what}: {restore_advice(storage_class)}")
    if code.startswith("KMS.") or (status == 403 and "kms" in lowered):
        return UnreadableError("kms_access_denied", (
            f"{what}: encrypted with an AWS KMS key this identity may not use ({code}); "
            f"the key's policy must grant it kms:Decrypt"))
    if status == 400 and code == "InvalidRequest" and (
            "customer" in lowered or "server side encryption" in lowered):
        return UnreadableError("sse_c_key_required", (
            f"{what}: encrypted with a customer-provided key (SSE-C); it can be read only "
            f"with that key: re-encrypt it at the source with SSE-S3 or SSE-KMS, or copy it "
            f"with the key"))
    return None


def requester_pays_error(what: str) -> UnreadableError:
    """The diagnosis of a GET refused until the requester agrees to pay for it."""
    return UnreadableError("requester_pays", (
        f"{what}: the bucket is Requester Pays: set source.requester_pays: true to accept "
        f"the charges, or ask the owner to turn Requester Pays off for the exit"))


def classify(exc: BaseException, what: str) -> Exception:
    """Map a library exception raised during *what* to TransientError or PermanentError."""
    if isinstance(exc, (TransientError, PermanentError)):
        return exc
    if isinstance(exc, InvalidCredsError):
        return PermanentError(f"{what}: access denied; check the credentials")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentError(f"{what}: the endpoint's TLS certificate is not trusted "
                              f"({exc.verify_message}); check the CA bundle (SSL_CERT_FILE)")
    if isinstance(exc, OSError) and str(exc).startswith("Tunnel connection failed: 407"):
        return error_for_status(407, what)
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return TransientError(f"{what}: connection failed ({type(exc).__name__})")
    if isinstance(exc, OSError) and not isinstance(exc, _LOCAL_FILE_ERRORS):
        name = "Timeout" if isinstance(exc, TimeoutError) else (
            "SSLError" if isinstance(exc, ssl.SSLError) else "ConnectionError")
        return TransientError(f"{what}: connection failed ({name})")
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, http.client.HTTPException)):
        return TransientError(f"{what}: connection broken while reading")
    for failure, name in _URLLIB3_FAILURES:  # while a request is sent or a body streams
        if isinstance(exc, failure):
            return TransientError(f"{what}: connection failed ({name})")
    if isinstance(exc, LibcloudError):
        match = _STATUS_IN_MESSAGE.search(str(exc.value))
        if match:
            return error_for_status(int(match.group(1)), what)
        return PermanentError(f"{what}: {exc.value}")
    return PermanentError(f"{what}: {type(exc).__name__}: {exc}")
