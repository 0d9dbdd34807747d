"""The small contract every storage adapter fulfils, in the spirit of rclone's fs.Fs/Object.

A drill's source is an :class:`ObjectSource` (list, head, open, tags: nothing that writes).
Where the source has archived storage classes, a drill with a ``restore`` spec section also
gets a :class:`Restorer`: RestoreObject is a POST, but it changes no object data; it is the
one request other than GET and HEAD a drill sends its source.
A target is an :class:`ObjectTarget`, which adds prepare, put and remove. Adapters hand out
the source interface through a class that has no write methods at all, so a drill cannot
modify its source by construction.
"""

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

from exitkit.providers.properties import NO_PROPERTIES, ObjectProperties

if TYPE_CHECKING:
    from exitkit.measure.requests import RequestCounter

#: Standard HTTP headers that are object metadata and must survive an exit.
SYSTEM_HEADERS = ("cache-control", "content-disposition", "content-encoding",
                  "content-language", "expires")


@dataclass(frozen=True)
class Attributes:
    """Metadata of one object beyond its bytes, compared field by field."""

    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    properties: ObjectProperties = NO_PROPERTIES


class ObjectInfo(NamedTuple):
    """What a listing, HEAD or GET tells about one object (or one version of it).

    ``attributes`` is None when the call does not return them (S3 listings do not);
    ``checksums`` holds full-object checksums the provider computed (algorithm -> base64),
    None when it reported none;
    ``tag_count`` is None when unknown; ``is_delete_marker`` marks a version listing's
    delete marker, and ``deleted_after`` a version a delete marker follows (before the
    next version, or on top: the key is deleted), set by
    :func:`exitkit.verify.entries.version_entries`; ``storage_class`` is the provider's
    class (``STANDARD`` when an S3 listing or HEAD names none; None where the store has no
    classes, such as a directory).
    A named tuple: listings create millions of these.
    """

    key: str
    size: int
    etag: str | None = None
    last_modified: str | None = None
    version_id: str | None = None
    is_latest: bool = True
    attributes: Attributes | None = None
    checksums: Mapping[str, str] | None = None
    tag_count: int | None = None
    is_delete_marker: bool = False
    storage_class: str | None = None
    deleted_after: bool = False


@dataclass(frozen=True)
class Capabilities:
    """What a store can hold and how it behaves; drives copying, verification and gaps.

    As in rclone's ``fs.Features``, every field's zero value means "not held": a profile
    that does not declare a property does not claim it, so nothing is over-claimed.
    ``path_keys`` is the one exception in wording: False claims flat keys (``a//b`` kept),
    so path-keyed stores must declare it True (with ``max_segment_bytes``, 0 = 255).
    ``additional_checksums`` and ``storage_classes`` name what is held (lower-case
    algorithms, upper-case class names).
    """

    user_metadata: bool = False
    content_type: bool = False
    system_headers: bool = False
    tags: bool = False
    versioning: bool = False
    additional_checksums: frozenset[str] = frozenset()
    lists_in_key_order: bool = False
    max_key_bytes: int = 0
    path_keys: bool = False
    max_segment_bytes: int = 0
    directory_markers: bool = False
    object_lock: bool = False
    legal_hold: bool = False
    website_redirect: bool = False
    sse_s3: bool = False
    sse_kms: bool = False
    storage_classes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Conformance:
    """How one adapter keeps this contract, stated beside its class and checked promise by
    promise against a real server by tests/test_contract.py.

    Every adapter keeps every promise of this module (head and remove of a missing key,
    put visible only once complete, listing order as declared, a source without write
    methods). ``deviations`` names each :class:`Capabilities` field where ``exitkit probe``
    measures something other than the adapter declares, with the reason (a limit of the
    probe, or a deliberate under-claim); every other field is declared exactly as measured.
    A declaration never claims more than the store holds.
    """

    deviations: Mapping[str, str] = field(default_factory=dict)


#: Why a probe-measured capability may differ from a declaration without the declaration
#: being wrong; adapters cite these in their :class:`Conformance`.
ARCHIVE_CLASSES_UNPROBED = ("the probe writes no archive class (reading one back needs a "
                            "restore), so those are declared from the provider's documentation")
KMS_UNPROBED = ("measured only with a KMS key (target.encryption.kms_key_id), which the "
                "contract suite does not have")


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
    limit = capabilities.max_segment_bytes or 255
    if any(len(segment.encode("utf-8")) > limit for segment in segments):
        return f"a path segment is longer than {limit} bytes"
    return None


@dataclass
class ObjectStream:
    """An open read of one object: its full info (from the GET) and an iterator of chunks."""

    info: ObjectInfo
    chunks: Iterator[bytes]


@runtime_checkable
class KnownDigests(Protocol):
    """Chunks handed to :meth:`ObjectTarget.put` that digest themselves as they pass (see
    :class:`exitkit.verify.digest.DigestingStream`): once ``finished``, ``md5`` (or None)
    and ``sha256`` are those of every byte, so a one-part write need not hash them again.
    With a ``part_size`` (else None), ``part_md5s`` grows by the MD5 digest of each part of
    that size as soon as its last byte has passed (the last, shorter part at the end), so
    a write in parts of that size need not hash them again either."""

    md5: Any
    sha256: Any
    size: int
    finished: bool
    part_size: int | None
    part_md5s: list[bytes]


@dataclass(frozen=True)
class PutResult:
    """What the target reported after a completed write.

    ``content_etag`` is the ETag an S3 store derives from the bytes as they were sent (the
    MD5 of a one-part PUT; of a multipart upload, the MD5 of its parts' MD5 digests, ``-``
    the part count), computed from the Content-MD5 of every request; None where the
    writer does not compute one. When ``etag`` equals it, the store holds exactly the
    bytes sent; when not (encrypted with KMS or a customer key, or a store whose ETags
    are not MD5s), the ETag proves nothing either way.
    """

    key: str
    size: int
    etag: str | None
    parts: int = 1
    version_id: str | None = None
    checksums: Mapping[str, str] = field(default_factory=dict)
    content_etag: str | None = None


@runtime_checkable
class ObjectSource(Protocol):
    """Read-only access to one bucket (and optional prefix) of a provider."""

    label: str
    capabilities: Capabilities
    requests: "RequestCounter"

    def check(self) -> None:
        """Raise EndpointError unless the endpoint answers and the bucket exists."""

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield the current object of every key under *prefix* (order: see capabilities)."""

    def list_versions(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield every version and delete marker under *prefix*, each key's together."""

    def head(self, key: str, version_id: str | None = None) -> ObjectInfo | None:
        """Return the full info of *key* (with attributes), or None when it is missing."""

    def open(self, key: str, version_id: str | None = None
             ) -> AbstractContextManager[ObjectStream]:
        """Open a streaming read of *key*; the context closes the connection."""

    def tags(self, key: str, version_id: str | None = None) -> dict[str, str]:
        """Return the object's tags."""

    def first_part_size(self, key: str, version_id: str | None = None) -> int | None:
        """Size of part 1 when the object was uploaded in parts (to check its ETag)."""

    def object_lock_enabled(self) -> bool:
        """Whether the bucket has S3 Object Lock enabled."""


class RestoreStatus(NamedTuple):
    """Where an archived object's restore stands: ``none`` (no restored copy, none
    requested), ``ongoing`` (requested, not readable yet) or ``ready`` (readable until
    *expiry*)."""

    state: str
    expiry: str | None = None


@runtime_checkable
class Restorer(Protocol):
    """Restores of archived objects in a source bucket: S3's RestoreObject and the
    ``x-amz-restore`` state HEAD reports. It writes no object data."""

    def restore_status(self, key: str, version_id: str | None = None) -> RestoreStatus:
        """Where the restore of *key* stands (one HEAD)."""

    def request_restore(self, key: str, version_id: str | None, days: int,
                        tier: str) -> RestoreStatus:
        """Ask for a temporary readable copy of *key* for *days* at *tier* (bulk, standard,
        expedited); returns the state the answer shows (a copy may already be there)."""


@runtime_checkable
class ObjectTarget(ObjectSource, Protocol):
    """A store a drill may write to: the source contract plus prepare, put and remove."""

    def prepare(self, create: bool, versioned: bool, object_lock: bool = False) -> None:
        """Make sure the bucket exists (creating it when *create*), versioned if asked.

        With *object_lock*, a bucket created here has Object Lock enabled, and an existing
        bucket without it is refused (EndpointError); a bucket without Object Lock leaves
        ``object_lock`` and ``legal_hold`` out of the adapter's capabilities.
        """

    def put(self, key: str, chunks: Iterator[bytes], size: int,
            attributes: Attributes) -> PutResult:
        """Write an object from *chunks*; it appears under *key* only once complete."""

    def remove(self, key: str, version_id: str | None = None) -> str | None:
        """Delete *key* (missing keys are not an error), or one version of it. Without
        *version_id* a versioned store puts a delete marker on top: its version id is
        returned where the store gives one, else None."""
