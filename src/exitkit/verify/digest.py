"""Digests computed while bytes stream past, and what an ETag can prove."""

import hashlib
import re
from collections.abc import Iterable, Iterator

from exitkit.errors import TransientError
from exitkit.providers.checksums import multipart_etag

_PLAIN_MD5 = re.compile(r"[0-9a-f]{32}")
_MULTIPART_ETAG = re.compile(r"^[0-9a-f]{32}-(\d+)$")
_LOWER_HEX = re.compile(r"[0-9a-f]*")


def multipart_parts(etag: str | None) -> int | None:
    """The part count of a multipart-upload ETag (``md5-N``), or None for other ETags."""
    match = _MULTIPART_ETAG.match(etag or "")
    return int(match.group(1)) if match else None


def is_plain_md5(etag: str | None) -> bool:
    """True when *etag* looks like an MD5 of the content (not multipart ``-N``, not opaque)."""
    return bool(etag) and _PLAIN_MD5.fullmatch(etag) is not None


def are_plain_md5(etags: list[str | None]) -> bool:
    """``all(map(is_plain_md5, etags))`` in one pass: every ETag is 32 characters and,
    run together, they are only lowercase hex digits."""
    return (None not in etags and set(map(len, etags)) <= {32}
            and _LOWER_HEX.fullmatch("".join(etags)) is not None)


class DigestingStream:
    """An iterator of chunks that computes MD5, SHA-256 and length as they pass.

    When the expected size (and, if known, the expected MD5 or SHA-256, hex, or multipart
    ETag with its part size) do not match at the end of the stream, iteration raises
    TransientError, so a consumer writing these bytes never completes a short or damaged
    object. Each byte is hashed once: the whole-object MD5 is left out (``md5`` is None)
    when a multipart ETag is checked instead, and once the stream has ended (``finished``)
    a writer may use ``md5`` and ``sha256`` for a one-part upload instead of hashing the
    same bytes again (:class:`exitkit.providers.contract.KnownDigests`). When it checks a
    multipart ETag, ``part_size`` is the source's part size and ``part_md5s`` the MD5
    digest of every part of that size read so far (the last, shorter one once the stream
    has ended), so a writer that uploads in the same parts can send them as Content-MD5.
    """

    def __init__(self, chunks: Iterable[bytes], expected_size: int | None = None,
                 expected_md5: str | None = None, expected_sha256: str | None = None,
                 expected_multipart: tuple[str, int] | None = None, label: str = "") -> None:
        self._chunks = chunks
        self._expected_size = expected_size
        self._expected_md5 = expected_md5
        self._expected_sha256 = expected_sha256
        self._expected_multipart = expected_multipart
        self._part = hashlib.md5()
        self._part_filled = 0
        self.part_size = expected_multipart[1] if expected_multipart else None
        self.part_md5s: list[bytes] = []
        self._label = label
        self.md5 = hashlib.md5() if expected_md5 or not expected_multipart else None
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.finished = False
        self._stream = self._digest()

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return next(self._stream)

    def _digest(self) -> Iterator[bytes]:
        md5, sha256 = self.md5, self.sha256
        for chunk in self._chunks:
            if md5 is not None:
                md5.update(chunk)
            sha256.update(chunk)
            self.size += len(chunk)
            if self._expected_multipart:
                self._hash_parts(chunk, self._expected_multipart[1])
            yield chunk
        if self._part_filled:
            self.part_md5s.append(self._part.digest())
            self._part_filled = 0
        if self._expected_size is not None and self.size != self._expected_size:
            raise TransientError(f"{self._label}: read {self.size} of {self._expected_size} bytes")
        if self._expected_md5 and self.md5.hexdigest() != self._expected_md5:
            raise TransientError(f"{self._label}: content does not match its MD5 (ETag or Content-MD5)")
        if self._expected_sha256 and self.sha256.hexdigest() != self._expected_sha256:
            raise TransientError(f"{self._label}: content does not match its SHA-256 checksum")
        if self._expected_multipart and self.multipart_etag() != self._expected_multipart[0]:
            raise TransientError(f"{self._label}: content does not match its multipart ETag")
        self.finished = True

    def _hash_parts(self, chunk: bytes, part_size: int) -> None:
        view = memoryview(chunk)
        while view:
            take = min(len(view), part_size - self._part_filled)
            self._part.update(view[:take])
            self._part_filled += take
            view = view[take:]
            if self._part_filled == part_size:
                self.part_md5s.append(self._part.digest())
                self._part, self._part_filled = hashlib.md5(), 0

    def multipart_etag(self) -> str:
        """The ETag S3 gives an upload of these bytes in parts of the expected size (once
        the stream has ended)."""
        return multipart_etag(self.part_md5s)


def sha256_of(chunks: Iterable[bytes]) -> str:
    """Consume *chunks* and return their SHA-256 hex digest."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()
