"""The small contract every storage adapter fulfils, in the spirit of rclone's fs.Fs/Object.

A drill's source is an :class:`ObjectSource` (list, head, open: nothing that writes).
A target is an :class:`ObjectTarget`, which adds put and remove. Adapters hand out the
source interface through a class that has no write methods at all, so a drill cannot
modify its source by construction.
"""

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class ObjectInfo:
    """What a listing, HEAD or GET tells about one object.

    ``content_type`` and ``metadata`` are ``None`` when the call that produced the info
    does not return them (S3 listings do not).
    """

    key: str
    size: int
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    metadata: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Capabilities:
    """What a store can hold and how it behaves; drives verification and gap reports."""

    user_metadata: bool = True
    content_type: bool = True
    lists_in_key_order: bool = True
    max_key_bytes: int = 1024
    path_keys: bool = False
    max_segment_bytes: int | None = None
    directory_markers: bool = True


def key_problem(key: str, capabilities: Capabilities) -> str | None:
    """Why a store with *capabilities* cannot hold *key* as it is, or None when it can.

    Stores that keep keys as file paths (SeaweedFS's filer, a file system) collapse
    empty segments (``a//b``, a leading ``/``) and refuse ``.`` and ``..`` segments.
    """
    length = len(key.encode("utf-8"))
    if length > capabilities.max_key_bytes:
        return f"key is {length} bytes; the target holds at most {capabilities.max_key_bytes}"
    if not capabilities.path_keys:
        return None
    if key.endswith("/") and not capabilities.directory_markers:
        return "folder marker: the target cannot hold an object named like a folder"
    segments = key.rstrip("/").split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        return "key has an empty, '.' or '..' path segment, which the target rewrites or refuses"
    limit = capabilities.max_segment_bytes
    if limit and any(len(segment.encode("utf-8")) > limit for segment in segments):
        return f"a path segment is longer than {limit} bytes"
    return None


@dataclass
class ObjectStream:
    """An open read of one object: its info (from the GET) and an iterator of byte chunks."""

    info: ObjectInfo
    chunks: Iterator[bytes]


@dataclass(frozen=True)
class PutResult:
    """What the target reported after a completed write."""

    key: str
    size: int
    etag: str | None
    parts: int = field(default=1)


@runtime_checkable
class ObjectSource(Protocol):
    """Read-only access to one bucket (and optional prefix) of a provider."""

    label: str
    capabilities: Capabilities

    def check(self) -> None:
        """Raise EndpointError unless the endpoint answers and the bucket exists."""

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield every object whose key starts with *prefix* (order: see capabilities)."""

    def head(self, key: str) -> ObjectInfo | None:
        """Return the full info of *key* (with content-type and metadata), or None."""

    def open(self, key: str) -> AbstractContextManager[ObjectStream]:
        """Open a streaming read of *key*; the context closes the connection."""


@runtime_checkable
class ObjectTarget(ObjectSource, Protocol):
    """A store a drill may write to: the source contract plus put and remove."""

    def prepare(self, create: bool) -> None:
        """Make sure the bucket exists, creating it when *create* is true."""

    def put(
        self,
        key: str,
        chunks: Iterator[bytes],
        size: int,
        content_type: str | None,
        metadata: Mapping[str, str],
    ) -> PutResult:
        """Write an object from *chunks*; it appears under *key* only once complete."""

    def remove(self, key: str) -> None:
        """Delete *key* (missing keys are not an error)."""
