"""Google Cloud Storage buckets, as source and target, on the google-cloud-storage SDK.

Why not libcloud: libcloud's Google Storage driver speaks GCS's XML (S3-interoperability)
API. With HMAC keys it signs like S3, but gcp-storage-emulator (the GCS server that runs
here) serves only the JSON API, and with a service account the driver insists on an OAuth
token exchange against Google (measured: ``AttributeError: 'NoneType' object has no
attribute 'access_token'``). The SDK speaks the JSON API, takes an ``api_endpoint`` (the
emulator, or ``https://storage.googleapis.com``) and anonymous or service-account
credentials, and checks CRC32C on upload (see docs/architecture.md).

What the adapter maps:

* proofs: GCS stores an MD5 for every non-composite object (exposed as the object's ETag,
  so ``etag-md5`` proves it against an S3 copy) and a CRC32C for every object (as the
  full-object ``crc32c`` checksum, base64 of the big-endian value, which S3 uses too);
* content settings (Content-Type, Cache-Control, Content-Disposition, Content-Encoding,
  Content-Language) and custom metadata;
* storage classes STANDARD, NEARLINE, COLDLINE and ARCHIVE. All four are read at once: GCS
  archive classes need no restore (they cost a retrieval fee per GB read instead), so this
  adapter has no restorer;
* bytes as stored: reads ask for the raw bytes (``raw_download``), never the decompressed
  body of a gzip-encoded object (GCS's decompressive transcoding).

The SDK's own retries are off everywhere: exitkit retries (tenacity) what is worth it,
listing pages and preflights here, whole objects in the copy and verify phases, so an
unreachable endpoint fails in seconds with one line, not after the SDK's two minutes.
Reads stream in ranged GETs of :data:`READ_CHUNK` pinned to the listed generation; writes
stream from the copy's chunks (one multipart upload up to 8 MiB, a resumable upload in
:data:`UPLOAD_CHUNK` pieces beyond), so memory stays bounded. Versions (generations) are
not exposed: the profile declares no versioning.
"""

import base64
import io
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import requests
from google.api_core import exceptions as api_errors
from google.auth.exceptions import GoogleAuthError
from google.cloud import storage
from google.resumable_media.common import DataCorruption, InvalidResponse

from exitkit.errors import EndpointError, PermanentError, TransientError
from exitkit.measure.requests import RequestCounter
from exitkit.providers.contract import (Attributes, Capabilities, Conformance, ObjectInfo,
                                        ObjectStream, PutResult)
from exitkit.providers.failures import classify, error_for_status
from exitkit.providers.plain_objects import PlainObjects
from exitkit.providers.properties import DEFAULT_STORAGE_CLASS, NO_PROPERTIES, ObjectProperties
from exitkit.providers.retry import with_retries

if TYPE_CHECKING:
    from exitkit.drill.spec_file import Keys

MIB = 1024 * 1024
LISTING_RETRIES = 5
LISTING_PAGE = 1000  # objects per listing page, GCS's most
READ_CHUNK = 8 * MIB
UPLOAD_CHUNK = 8 * MIB  # a multiple of 256 KiB, as resumable uploads require
#: Content settings GCS keeps, by the header name the contract uses.
CONTENT_SETTINGS = {"cache-control": "cache_control",
                    "content-disposition": "content_disposition",
                    "content-encoding": "content_encoding",
                    "content-language": "content_language"}
STORAGE_CLASSES = frozenset({"STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"})
#: What a GCS bucket holds, as the JSON API documents it: content settings, custom
#: metadata, CRC32C, 1,024-byte flat keys listed in key order, the four classes.
CAPABILITIES = Capabilities(user_metadata=True, content_type=True, system_headers=True,
                            additional_checksums=frozenset({"crc32c"}),
                            lists_in_key_order=True, max_key_bytes=1024,
                            directory_markers=True, storage_classes=STORAGE_CLASSES)


def gcs_error(exc: BaseException, what: str) -> Exception:
    """Map what the SDK raises during *what* to TransientError or PermanentError."""
    if isinstance(exc, api_errors.GoogleAPICallError) and exc.code:
        return error_for_status(int(exc.code), what)
    if isinstance(exc, InvalidResponse):
        return error_for_status(int(exc.response.status_code), what)
    if isinstance(exc, DataCorruption):
        return TransientError(f"{what}: the stored CRC32C differs from the bytes sent")
    if isinstance(exc, GoogleAuthError):
        return PermanentError(f"{what}: {type(exc).__name__}; check the credentials")
    if isinstance(exc, (requests.RequestException, ConnectionError, TimeoutError)):
        return classify(exc, what)
    return PermanentError(f"{what}: {type(exc).__name__}: {exc}")


def md5_hex(md5_base64: str | None) -> str | None:
    """GCS's base64 MD5 as the hex digest an S3 ETag shows (None for composite objects)."""
    return base64.b64decode(md5_base64).hex() if md5_base64 else None


def info_of(blob: storage.Blob, key: str | None = None) -> ObjectInfo:
    """The contract's view of one GCS object resource (from a listing or a GET)."""
    storage_class = (blob.storage_class or DEFAULT_STORAGE_CLASS).upper()
    headers = {header: getattr(blob, name) for header, name in CONTENT_SETTINGS.items()
               if getattr(blob, name)}
    properties = ObjectProperties(storage_class=storage_class)
    attributes = Attributes(content_type=blob.content_type, headers=headers,
                            metadata=dict(blob.metadata or {}),
                            properties=NO_PROPERTIES if properties == NO_PROPERTIES
                            else properties)
    return ObjectInfo(key=key or blob.name, size=int(blob.size or 0), etag=md5_hex(blob.md5_hash),
                      last_modified=blob.updated.isoformat() if blob.updated else None,
                      attributes=attributes,
                      checksums={"crc32c": blob.crc32c} if blob.crc32c else None,
                      tag_count=0, storage_class=storage_class)


class _ChunkStream(io.RawIOBase):
    """A read-only file object over an iterator of chunks for the SDK's uploads. It can seek
    back within the last *window* bytes (a resumable upload rewinds to the last byte GCS
    confirmed), so memory stays bounded by the window plus one chunk."""

    def __init__(self, chunks: Iterator[bytes], size: int, window: int) -> None:
        self._chunks = chunks
        self._size = size
        self._drained = False
        self._window = window
        self._kept = bytearray()
        self._kept_start = 0  # offset of _kept[0] in the object
        self._pos = 0
        self.sent = 0  # the furthest offset read
        self.source_error: BaseException | None = None  # what reading the chunks raised

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = {io.SEEK_SET: offset, io.SEEK_CUR: self._pos + offset}.get(whence)
        if target is None or not self._kept_start <= target <= self._kept_start + len(self._kept):
            raise io.UnsupportedOperation("seek outside the retained window")
        self._pos = target
        return target

    def read(self, size: int = -1) -> bytes:
        kept_end = self._kept_start + len(self._kept)
        # past the declared size, pull once more: the source's end (where a digest check
        # or a failure may raise) must come before the request that completes the upload
        while not self._drained and (size < 0 or kept_end < self._pos + size
                                     or kept_end >= self._size):
            try:
                chunk = next(self._chunks, None)
            except BaseException as exc:
                self.source_error = exc
                raise
            if chunk is None:
                self._drained = True
                break
            self._kept += chunk
            kept_end += len(chunk)
        stop = kept_end if size < 0 else min(kept_end, self._pos + size)
        data = bytes(self._kept[self._pos - self._kept_start:stop - self._kept_start])
        self._pos = stop
        self.sent = max(self.sent, stop)
        drop = self._pos - self._window - self._kept_start
        if drop > 0:
            del self._kept[:drop]
            self._kept_start += drop
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


class GcsSource(PlainObjects):
    """Read-only view of one GCS bucket. It has no method that writes or deletes. GCS
    objects have no tags and no upload parts (composite objects are proven by CRC32C);
    retention policies are not S3 Object Lock, so none is reported."""

    def __init__(self, label: str, bucket: str, make_client: Callable[[], storage.Client],
                 capabilities: Capabilities = CAPABILITIES) -> None:
        self.label = label
        self.bucket = bucket
        self.capabilities = capabilities
        self.requests = RequestCounter()
        self._make_client = make_client
        self._local = threading.local()

    def _bucket(self) -> storage.Bucket:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._make_client()
        return client.bucket(self.bucket)

    def _call(self, what: str, call, method: str = "GET", bucket_level: bool = False):
        self.requests.count(method, bucket_level=bucket_level)
        try:
            return call()
        except Exception as exc:  # the SDK raises api_core, resumable_media and requests errors
            raise gcs_error(exc, what) from None

    def _preflight(self) -> bool:
        """Whether the bucket exists, asked with a few retries (like a listing page)."""
        return with_retries(lambda: self._call(
            f"bucket {self.bucket}", lambda: self._bucket().exists(retry=None),
            bucket_level=True), LISTING_RETRIES, self.requests.retried)

    def check(self) -> None:
        """Raise EndpointError unless the endpoint answers and the bucket exists."""
        try:
            exists = self._preflight()
        except (TransientError, PermanentError) as exc:
            raise EndpointError(self.label, str(exc)) from None
        if not exists:
            raise EndpointError(self.label, f"bucket {self.bucket!r} does not exist")

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield every object under *prefix* in key order, page by page, each with its
        content settings, metadata, MD5, CRC32C and class (GCS listings carry them all)."""
        token = None
        while True:
            def page(token=token) -> tuple[list[storage.Blob], str | None]:
                """One page from *token*, by a fresh iterator, so a retry asks it again
                (gcp-storage-emulator answers in one page: paging is the SDK's, untested
                here)."""
                blobs = self._bucket().list_blobs(prefix=prefix or None, page_token=token,
                                                  page_size=LISTING_PAGE, retry=None)
                found = next(blobs.pages, None)
                return list(found or ()), blobs.next_page_token

            blobs, token = with_retries(lambda: self._call(f"listing {self.bucket}", page,
                                                           bucket_level=True),
                                        LISTING_RETRIES, self.requests.retried)
            yield from map(info_of, blobs)
            if not token:
                return

    def list_versions(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Live objects only: generations are not exposed (the profile holds no versions)."""
        return self.list(prefix)

    def _blob(self, key: str) -> storage.Blob | None:
        return self._call(f"HEAD {key}", lambda: self._bucket().get_blob(key, retry=None))

    def head(self, key: str, version_id: str | None = None) -> ObjectInfo | None:
        """The object's full info (one metadata GET), or None when it is missing."""
        blob = self._blob(key)
        return info_of(blob, key) if blob is not None else None

    @contextmanager
    def open(self, key: str, version_id: str | None = None) -> Iterator[ObjectStream]:
        """Stream *key*'s stored bytes (never transcoded), pinned to one generation."""
        blob = self._blob(key)
        if blob is None:
            raise PermanentError(f"GET {key}: object does not exist")
        # a blob built here, not the one fetched: that one downloads from the mediaLink the
        # server sent, which gcp-storage-emulator mis-quotes for keys holding "%" (measured)
        pinned = self._bucket().blob(key, generation=blob.generation)
        reader = pinned.open("rb", chunk_size=READ_CHUNK, raw_download=True, retry=None)
        try:
            yield ObjectStream(info_of(blob, key), self._chunks(reader, key))
        finally:
            reader.close()

    def _chunks(self, reader, key: str) -> Iterator[bytes]:
        while True:
            chunk = self._call(f"GET {key}", lambda: reader.read(READ_CHUNK))
            if not chunk:
                return
            self.requests.add_bytes(len(chunk))
            yield chunk



class GcsStore(GcsSource):
    """A GCS bucket a drill may write to: the source view plus prepare, put and remove."""

    #: How GCS keeps providers/contract.py, measured on gcp-storage-emulator by
    #: tests/test_contract.py.
    conformance = {"gcs": Conformance({
        "system_headers": "GCS keeps Cache-Control, Content-Disposition, Content-Encoding and "
                          "Content-Language but has no Expires, which the probe writes with "
                          "them; an object that carries Expires is metadata_differs, named",
        "storage_classes": "the probe writes S3 class names only; NEARLINE, COLDLINE and "
                           "ARCHIVE are declared from GCS's documentation and read back by "
                           "tests/test_gcs.py"})}

    def prepare(self, create: bool, versioned: bool = False, object_lock: bool = False) -> None:
        """Make sure the bucket exists, creating it when *create*."""
        try:
            exists = self._preflight()
            if not exists:
                if not create:
                    raise EndpointError(self.label, f"bucket {self.bucket!r} does not exist")
                self._call(f"create bucket {self.bucket}",
                           lambda: self._bucket().create(retry=None), "PUT", bucket_level=True)
        except (TransientError, PermanentError) as exc:
            raise EndpointError(self.label, str(exc)) from None

    def put(self, key: str, chunks: Iterator[bytes], size: int,
            attributes: Attributes) -> PutResult:
        """Upload *key* from *chunks*; GCS shows it only once the upload completes. The SDK
        computes CRC32C while sending and deletes the object if GCS stored other bytes."""
        blob = self._bucket().blob(key, chunk_size=UPLOAD_CHUNK)
        blob.content_type = attributes.content_type
        for header, name in CONTENT_SETTINGS.items():
            setattr(blob, name, attributes.headers.get(header))
        blob.metadata = dict(attributes.metadata) or None
        storage_class = attributes.properties.storage_class
        if storage_class in self.capabilities.storage_classes:
            blob.storage_class = storage_class
        reader = _ChunkStream(chunks, size, UPLOAD_CHUNK)
        self.requests.count("PUT")
        try:  # no SDK retry: the copy retries the whole object from a fresh source read
            blob.upload_from_file(reader, size=size, checksum="crc32c", retry=None,
                                  content_type=attributes.content_type)
        except Exception as exc:
            if reader.source_error is not None:  # the source failed, not GCS: say so
                raise reader.source_error from None
            raise gcs_error(exc, f"PUT {key}") from None
        return PutResult(key=key, size=reader.sent, etag=md5_hex(blob.md5_hash),
                         checksums={"crc32c": blob.crc32c} if blob.crc32c else {})

    def remove(self, key: str, version_id: str | None = None) -> None:
        """Delete *key*; a missing key is not an error."""
        self.requests.count("DELETE")
        try:
            self._bucket().delete_blob(key, retry=None)
        except api_errors.NotFound:
            return
        except Exception as exc:  # the SDK raises api_core and requests errors
            raise gcs_error(exc, f"DELETE {key}") from None


def gcs_client_factory(api_endpoint: str, keys: "Keys | None") -> Callable[[], storage.Client]:
    """A factory of SDK clients for *api_endpoint*: with the service-account key of *keys*
    (its JSON text or file path), else anonymous (an emulator, or public buckets)."""
    from google.auth.credentials import AnonymousCredentials
    from google.oauth2 import service_account

    secret = keys.secrets.get("service_account") if keys else None
    options = {"api_endpoint": api_endpoint}

    def make() -> storage.Client:
        if secret is None:
            return storage.Client(project="exitkit-anonymous",
                                  credentials=AnonymousCredentials(), client_options=options)
        value = secret.get_secret_value()
        try:
            info = json.loads(value) if value.lstrip().startswith("{") else json.loads(
                Path(value).read_text(encoding="utf-8"))
            credentials = service_account.Credentials.from_service_account_info(info)
        except (OSError, ValueError, KeyError):
            raise EndpointError(api_endpoint, "the service-account key is not a readable "
                                "service-account JSON key") from None
        return storage.Client(project=info.get("project_id"), credentials=credentials,
                              client_options=options)

    return make
