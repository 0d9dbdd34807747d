"""RFC 3161 trusted timestamps for ledger entries (rfc3161-client).

A ledger entry is stamped after it is signed: the TSA signs the SHA-256 of the entry's
canonical bytes without its ``timestamp`` field (the Ed25519 signature included), so the
token proves the signed entry existed at the TSA's time. The entry keeps::

    "timestamp": {"tsa": URL, "entry_sha256": ..., "gen_time": ..., "serial": ...,
                  "token": <base64 DER TimeStampResp>}

or, when the TSA could not be reached, ``{"tsa": URL, "token": null, "error": ...}``: the
record and the entry are kept, the entry is marked untimestamped.
"""

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from cryptography import x509
from rfc3161_client import (HashAlgorithm, PKIStatus, TimestampRequestBuilder, VerificationError,
                            VerifierBuilder, decode_timestamp_response)
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from exitkit.errors import ExitkitError
from exitkit.redaction import register_secret

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
ATTEMPTS = 3


class TimestampError(ExitkitError):
    """A TSA could not stamp, or a token does not hold; the message says which and why."""


class TimestampAuthority:
    """One TSA, reached by HTTP POST (RFC 3161 section 3.4)."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self._endpoint = url
        self.url = _without_userinfo(url)  # what entries and messages name
        self.timeout_s = timeout_s

    def stamp(self, digest: bytes, data: bytes) -> dict[str, Any]:
        """A token for *data* (whose SHA-256 is *digest*), as the entry keeps it.

        Transient failures are retried (three attempts with backoff); raises
        :class:`TimestampError` when no valid answer came.
        """
        query = (TimestampRequestBuilder().data(data).hash_algorithm(HashAlgorithm.SHA256)
                 .nonce(nonce=True).cert_request(cert_request=True).build())
        try:
            answer = Retrying(stop=stop_after_attempt(ATTEMPTS),
                              wait=wait_exponential(multiplier=0.5, max=4),
                              retry=retry_if_exception_type(requests.RequestException),
                              reraise=True)(self._post, query.as_bytes())
        except requests.RequestException as exc:
            raise TimestampError(f"TSA {self.url} unreachable ({type(exc).__name__})") from None
        try:
            response = decode_timestamp_response(answer)
        except ValueError:
            raise TimestampError(f"TSA {self.url} answered something that is not a "
                                 f"time-stamp response") from None
        if PKIStatus(response.status) not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
            raise TimestampError(f"TSA {self.url} refused the request (status "
                                 f"{response.status})")
        info = response.tst_info
        if info.message_imprint.message != digest or info.nonce != query.nonce:
            raise TimestampError(f"TSA {self.url} stamped another hash or nonce")
        return {"tsa": self.url, "entry_sha256": digest.hex(),
                "gen_time": _utc(info.gen_time).isoformat(), "serial": str(info.serial_number),
                "token": base64.b64encode(answer).decode("ascii")}

    def _post(self, query: bytes) -> bytes:
        answer = requests.post(self._endpoint, data=query, headers={"Content-Type": QUERY_TYPE},
                               timeout=self.timeout_s)
        if answer.status_code >= 500:
            answer.raise_for_status()
        if answer.status_code != 200:
            raise TimestampError(f"TSA {self.url} answered HTTP {answer.status_code}")
        return answer.content


def _without_userinfo(url: str) -> str:
    """*url* without ``user:password@``: a TSA login never reaches a ledger."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    if parts.password:
        register_secret(parts.password)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def untimestamped(url: str, reason: str) -> dict[str, Any]:
    """What an entry keeps when its TSA could not stamp it."""
    return {"tsa": url, "token": None, "error": reason}


def load_trust_anchors(paths: list[Path]) -> list[x509.Certificate]:
    """Certificates from PEM files (each may hold several); refuses an empty or bad file."""
    anchors = []
    for path in paths:
        try:
            found = x509.load_pem_x509_certificates(path.read_bytes())
        except OSError as exc:
            raise ExitkitError(f"{path}: cannot read the TSA trust anchor ({exc.strerror})") \
                from None
        except ValueError:
            raise ExitkitError(f"{path}: not a PEM certificate (TSA trust anchor)") from None
        anchors.extend(found)
    return anchors


@dataclass(frozen=True)
class TokenCheck:
    """What a verified token proves: the entry existed at *gen_time*, per *tsa*."""

    tsa: str
    gen_time: datetime


def verify_token(stamp: dict[str, Any], digest: bytes, anchors: list[x509.Certificate],
                 appended_at: str | None, tolerance: timedelta) -> TokenCheck:
    """Check *stamp* (an entry's ``timestamp``) against the entry's *digest* and the TSA
    certificate chain ending in one of *anchors*; and that the entry's ``appended_at``
    lies within *tolerance* of the TSA's time. Raises :class:`TimestampError`."""
    try:
        answer = base64.b64decode(stamp["token"], validate=True)
        response = decode_timestamp_response(answer)
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise TimestampError("the timestamp token is damaged") from None
    roots = [cert for cert in anchors if cert.issuer == cert.subject]
    builder = VerifierBuilder(roots=roots or anchors,
                              intermediates=[cert for cert in anchors if cert not in roots])
    try:
        builder.build().verify(response, digest)
    except VerificationError as exc:
        if "Mismatch between messages" in str(exc):
            raise TimestampError("the timestamp token is for another hash: the entry was "
                                 "altered after it was stamped, or the token belongs to "
                                 "another entry") from None
        reason = ("its certificate does not chain to the given TSA trust anchor"
                  if "certificates" in str(exc) else str(exc)[:160])
        raise TimestampError(f"the timestamp token does not verify: {reason}") from None
    gen_time = _utc(response.tst_info.gen_time)
    if stamp.get("gen_time") != gen_time.isoformat() or stamp.get(
            "entry_sha256") != digest.hex():
        raise TimestampError("the timestamp's stated time or hash differs from its token")
    if appended_at is not None:
        _check_time(appended_at, gen_time, tolerance)
    return TokenCheck(str(stamp.get("tsa")), gen_time)


def _check_time(appended_at: str, gen_time: datetime, tolerance: timedelta) -> None:
    try:
        claimed = _utc(datetime.fromisoformat(appended_at))
    except (TypeError, ValueError):
        raise TimestampError(f"appended_at {appended_at!r} is not a time") from None
    if claimed < gen_time - tolerance:
        raise TimestampError(f"appended_at {claimed.isoformat()} is "
                             f"{_seconds(gen_time - claimed)} before the TSA's time "
                             f"{gen_time.isoformat()}: the entry was back-dated")
    if claimed > gen_time + tolerance:
        raise TimestampError(f"appended_at {claimed.isoformat()} is "
                             f"{_seconds(claimed - gen_time)} after the TSA's time "
                             f"{gen_time.isoformat()}: the entry was forward-dated or the "
                             f"host clock runs ahead")


def _seconds(span: timedelta) -> timedelta:
    """*span* to the whole second, for messages."""
    return timedelta(seconds=round(span.total_seconds()))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
