"""S3 additional checksums computed while bytes stream: CRC32 (zlib), CRC32C and CRC64NVME
(awscrt, the AWS common runtime's C implementation), SHA-1 and SHA-256 (hashlib).

Values are base64 of the big-endian digest, as S3 writes them in ``x-amz-checksum-*``.
"""

import base64
import hashlib
import zlib
from collections.abc import Callable

_CRC_WIDTH = {"crc32": 4, "crc32c": 4, "crc64nvme": 8}


def _crc(algorithm: str) -> Callable[[bytes, int], int]:
    """The CRC function of *algorithm*; awscrt (a native library) loads only when an
    object carries a CRC32C or CRC64NVME checksum."""
    if algorithm == "crc32":
        return zlib.crc32
    from awscrt import checksums as crt

    return getattr(crt, algorithm)


class RunningChecksum:
    """One algorithm's checksum over bytes fed in order with :meth:`update`."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        if algorithm in _CRC_WIDTH:
            self._crc = 0
            self._update_crc = _crc(algorithm)
            self._hash = None
        elif algorithm in ("sha1", "sha256"):
            self._hash = hashlib.new(algorithm)
        else:
            raise ValueError(f"unknown checksum algorithm {algorithm!r}")

    def update(self, data: bytes) -> None:
        """Feed the next bytes."""
        if self._hash is not None:
            self._hash.update(data)
        else:
            self._crc = self._update_crc(data, self._crc)

    def digest(self) -> bytes:
        """The raw digest so far."""
        if self._hash is not None:
            return self._hash.digest()
        return self._crc.to_bytes(_CRC_WIDTH[self.algorithm], "big")

    def base64(self) -> str:
        """The value as S3 states it."""
        return base64.b64encode(self.digest()).decode("ascii")


def checksum_of(algorithm: str, data: bytes) -> str:
    """The base64 checksum of *data* under *algorithm*."""
    running = RunningChecksum(algorithm)
    running.update(data)
    return running.base64()


def multipart_etag(part_md5s: list[bytes]) -> str:
    """The ETag S3 gives a multipart upload whose parts have these MD5 digests: the MD5
    of the digests run together, ``-`` the part count."""
    return f"{hashlib.md5(b''.join(part_md5s)).hexdigest()}-{len(part_md5s)}"
