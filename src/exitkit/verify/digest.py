"""Digests computed while bytes stream past, and what an ETag can prove."""

import hashlib
import re
from collections.abc import Iterable, Iterator

from exitkit.errors import TransientError

_PLAIN_MD5 = re.compile(r"^[0-9a-f]{32}$")


def is_plain_md5(etag: str | None) -> bool:
    """True when *etag* looks like an MD5 of the content (not multipart ``-N``, not opaque)."""
    return bool(etag) and bool(_PLAIN_MD5.match(etag))


class DigestingStream:
    """Iterate chunks while computing MD5, SHA-256 and length.

    When the expected size (and, if known, the expected MD5 or SHA-256, hex) do not match
    at the end of the stream, iteration raises TransientError, so a consumer writing these
    bytes never completes a short or damaged object.
    """

    def __init__(self, chunks: Iterable[bytes], expected_size: int | None = None,
                 expected_md5: str | None = None, expected_sha256: str | None = None,
                 label: str = "") -> None:
        self._chunks = chunks
        self._expected_size = expected_size
        self._expected_md5 = expected_md5
        self._expected_sha256 = expected_sha256
        self._label = label
        self.md5 = hashlib.md5()
        self.sha256 = hashlib.sha256()
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.md5.update(chunk)
            self.sha256.update(chunk)
            self.size += len(chunk)
            yield chunk
        if self._expected_size is not None and self.size != self._expected_size:
            raise TransientError(f"{self._label}: read {self.size} of {self._expected_size} bytes")
        if self._expected_md5 and self.md5.hexdigest() != self._expected_md5:
            raise TransientError(f"{self._label}: content does not match its ETag (MD5)")
        if self._expected_sha256 and self.sha256.hexdigest() != self._expected_sha256:
            raise TransientError(f"{self._label}: content does not match its SHA-256 checksum")


def sha256_of(chunks: Iterable[bytes]) -> str:
    """Consume *chunks* and return their SHA-256 hex digest."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()
