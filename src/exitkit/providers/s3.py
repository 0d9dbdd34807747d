"""S3-compatible stores (AWS S3, MinIO, SeaweedFS, OVHcloud, Scaleway, Hetzner, IONOS) on libcloud.

libcloud supplies the drivers, credentials and object paths; this adapter signs and makes
the requests itself (listing, multipart, properties) and fixes the gaps found against real
servers:

* libcloud sends every request through requests' session machinery (request preparation,
  header dicts, URL parsing, proxy and netrc lookups), its connections are per thread and
  keep per-request signing state, and its signer hashes every PUT body twice for SigV4
  (header and canonical request): about 60% of a drill's CPU, and 1.3-1.7 ms of client
  CPU per request (measured, docs/performance.md). :class:`S3Transport`
  (:mod:`exitkit.providers.s3_transport`) sends over connections shared by all threads
  (keep-alive, no retries of its own); a body with ``Content-MD5`` is signed
  ``UNSIGNED-PAYLOAD`` (the signed MD5 already makes the server refuse a damaged body).
* libcloud's SigV4 signer signs header values only stripped, where SigV4 folds runs of
  whitespace into one space: SeaweedFS refused (403) a PUT whose metadata held two spaces
  or a tab. It also sorts the headers twice and formats the date five times a request.
  :class:`~exitkit.providers.sigv4.SigV4Signer` signs as SigV4 defines, in one pass.
* libcloud's MinIO driver signs with an empty region, which is an invalid SigV4 credential
  scope; :class:`S3CompatibleDriver` always signs with a region (``us-east-1`` by default).
* libcloud's MinIO driver stores the host on the connection *class*, so two endpoints in one
  process overwrite each other; :class:`S3CompatibleDriver` keeps it per instance.
* libcloud adds ``?Version=2006-03-01`` to every signed GET, and SeaweedFS answers
  ``501 NotImplemented`` to such a listing; the transport sends the query it is given.
* libcloud multipart uploads use a fixed 5 MiB part, which caps objects at ~48.8 GiB under
  the 10,000-part limit; :meth:`S3Store.put` sizes parts from the object size.
* libcloud joins request paths with ``urljoin``, which drops empty segments, so the key
  ``a//b`` was written as ``a/b``; the transport sends the path as given.
* libcloud knows no Object Lock, legal holds, website redirects, SSE headers, storage
  classes or additional checksums: the adapter reads them from HEAD/GET headers and
  writes them on PUT and CreateMultipartUpload (see :mod:`exitkit.providers.properties`).
* libcloud's responses raise on error statuses before the status or ``Retry-After`` can be
  read (a 503 becomes "Unknown error"); the transport hands every status back, and the
  adapter classifies it, keeping ``Retry-After`` for the retry policy and the error
  document's ``Code`` for the diagnosis (archived, SSE-C, KMS, Requester Pays).
* libcloud streams bodies through requests' ``iter_content``, which decodes
  ``Content-Encoding`` (gzip, deflate, br, zstd): the copy would get other bytes than the
  stored ones, or fail on a body that is not valid in its encoding (and libcloud replaces
  the ``Accept-Encoding`` asked for with ``gzip,deflate``). :meth:`S3Source.open` reads
  the body as stored (the transport never decodes) and asks for
  ``Accept-Encoding: identity``.
* libcloud's listing objects drop ``StorageClass``; the adapter reads listing XML itself.
"""

import base64
import hashlib
import re
import threading
from xml.etree import ElementTree
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit

from libcloud.common.aws import SignedAWSConnection
from libcloud.storage.base import Container
from libcloud.storage.drivers.s3 import BaseS3Connection, BaseS3StorageDriver, S3StorageDriver

from exitkit.errors import EndpointError, PermanentError, TransientError, UnreadableError
from exitkit.providers.contract import (ARCHIVE_CLASSES_UNPROBED, KMS_UNPROBED, SYSTEM_HEADERS,
                                        Attributes, Capabilities, Conformance, KnownDigests,
                                        ObjectInfo, ObjectStream, PutResult, RestoreStatus)
from exitkit.providers.driver_pool import DriverPerThread
from exitkit.providers.checksums import RunningChecksum, checksum_of, multipart_etag
from exitkit.providers.http_answers import (child_text, child_texts, http_date, local_name,
                                            plain_etag, stored_chunks)
from exitkit.providers.failures import (RETRYABLE_STATUSES, classify, error_for_status,
                                        requester_pays_error)
from exitkit.providers.properties import (CHECKSUM_ALGORITHMS, FULL_OBJECT_MULTIPART,
                                          ObjectProperties, checksum_type_of,
                                          properties_from_headers, write_headers)
from exitkit.providers.s3_transport import Answer, S3Transport
from exitkit.providers.sigv4 import SigV4Signer

MAX_PARTS = 10_000
#: The smallest part S3 accepts (all but the last part of an upload).
MIN_PART_SIZE = 5 * 1024 * 1024
#: Parts of one multipart upload sent at once (each on its own connection), as rclone's
#: ``--s3-upload-concurrency`` default.
UPLOAD_STREAMS = 4
MIB = 1024 * 1024
REQUEST_TIMEOUT_S = 120
META_PREFIX = "x-amz-meta-"
CHECKSUM_PREFIX = "x-amz-checksum-"
ERROR_BODY_LIMIT = 64 * 1024
#: Sent on every request with ``requester_pays``: the reader accepts a Requester Pays charges.
REQUESTER_PAYS = {"x-amz-request-payer": "requester"}
#: Sent on every GET: the object's stored bytes, never a copy the server compressed on the fly.
RAW_ENCODING = {"Accept-Encoding": "identity"}
#: Idle connections a source keeps for reuse: the drill's highest concurrency (the source
#: is opened before the concurrency is known; an idle slot costs nothing).
SOURCE_CONNECTIONS = 256


class _SignatureV4Connection(SignedAWSConnection, BaseS3Connection):
    """libcloud's SigV4 signing for any S3-compatible endpoint (its MinIO driver's
    connection signs with an empty region): it only signs, :class:`S3Transport` sends."""

    service_name = "s3"
    version = "2006-03-01"

    def __init__(self, user_id, key, secure=True, host=None, port=None, url=None, timeout=None,
                 proxy_url=None, token=None, retry_delay=None, backoff=None):
        super().__init__(user_id, key, secure, host, port, url, timeout, proxy_url, token,
                         retry_delay, backoff, 4)


class S3CompatibleDriver(BaseS3StorageDriver):
    """libcloud S3 driver for any S3-compatible endpoint, signing with a real region."""

    name = "S3-compatible"
    connectionCls = _SignatureV4Connection

    def __init__(self, key, secret, secure, host, port, region, timeout=REQUEST_TIMEOUT_S):
        self.region_name = region or "us-east-1"
        super().__init__(key=key, secret=secret, secure=secure, host=host, port=port,
                         timeout=timeout)


def _aws_driver(key, secret, secure, host, port, region, timeout=REQUEST_TIMEOUT_S):
    """libcloud's own Amazon S3 driver, pointed at *host* when the endpoint is not AWS's."""
    return S3StorageDriver(key, secret, secure=secure, host=host, port=port, region=region,
                           timeout=timeout)


def _full_object_checksums(headers: Mapping[str, str]) -> dict[str, str]:
    """Full-object checksums from ``x-amz-checksum-*`` headers (composite ones are skipped,
    also where a store leaves out ``x-amz-checksum-type`` on a multipart object)."""
    if checksum_type_of(headers, headers.get("etag")) != "FULL_OBJECT":
        return {}
    return {name[len(CHECKSUM_PREFIX):]: value for name, value in headers.items()
            if name[len(CHECKSUM_PREFIX):] in CHECKSUM_ALGORITHMS and "-" not in value}


def _info_from_headers(key: str, headers: Mapping[str, str]) -> ObjectInfo:
    metadata = {name[len(META_PREFIX):]: value for name, value in headers.items()
                if name.startswith(META_PREFIX)}
    attributes = Attributes(
        content_type=headers.get("content-type"),
        headers={name: headers[name] for name in SYSTEM_HEADERS if name in headers},
        metadata=metadata,
        properties=properties_from_headers(headers, headers.get("etag")))
    tag_count = headers.get("x-amz-tagging-count")
    return ObjectInfo(
        key=key,
        size=int(headers.get("content-length", 0)),
        etag=plain_etag(headers.get("etag")),
        last_modified=http_date(headers.get("last-modified")),
        version_id=headers.get("x-amz-version-id"),
        attributes=attributes,
        checksums=_full_object_checksums(headers) or None,
        tag_count=int(tag_count) if tag_count and tag_count.isdigit() else 0,
        storage_class=headers.get("x-amz-storage-class", "STANDARD"),
    )


def _status_error(response: Answer, what: str) -> Exception:
    """The exception for a failed response, keeping the server's Retry-After and
    diagnosing from the S3 error document's Code when a GET's answer has one (a HEAD's
    has no body; the diagnoses say why an object cannot be read, so a refused write is
    told by its status alone)."""
    code = message = storage_class = None
    if response.method == "GET":
        root = _error_document(response)
        if root is not None:
            code, message = child_text(root, "Code"), child_text(root, "Message")
            storage_class = child_text(root, "StorageClass")
    return error_for_status(response.status, what, response.headers.get("retry-after"),
                            code, message, storage_class)


def _error_document(response: Answer):
    """The parsed S3 ``<Error>`` document of a failed response, or None."""
    try:
        root = ElementTree.fromstring(response.first_bytes(ERROR_BODY_LIMIT))
    except Exception:  # no body, not XML, connection gone: diagnose from the status alone
        return None
    return root if local_name(root.tag) == "Error" else None


class _HeldBuffers:
    """The part buffers one upload holds; thread-safe, as its parts finish on other threads."""

    def __init__(self, free: threading.Semaphore) -> None:
        self._free, self._lock, self.count = free, threading.Lock(), 0

    def acquire(self, count: int) -> None:
        """Wait for *count* more buffers."""
        for _ in range(count):
            self._free.acquire()
            with self._lock:
                self.count += 1

    def release(self, count: int) -> None:
        """Give back *count* buffers (at most as many as are held)."""
        with self._lock:
            count = min(count, self.count)
            self.count -= count
        for _ in range(count):
            self._free.release()


class _PartBuffers:
    """How many upload parts a store's writes may hold in memory at once, together."""

    def __init__(self, count: int) -> None:
        self._free = threading.Semaphore(count)

    @contextmanager
    def hold(self, count: int) -> Iterator[_HeldBuffers]:
        """Hold *count* buffers (more may be acquired); all are given back on exit."""
        held = _HeldBuffers(self._free)
        try:
            held.acquire(count)
            yield held
        finally:
            held.release(held.count)


def _once(call: Callable[[], Any]) -> Any:
    return call()


def part_size_for(size: int, preferred: int) -> int:
    """Return a part size of at least *preferred* that fits *size* into 10,000 parts."""
    needed = -(-size // MAX_PARTS)
    return max(preferred, -(-needed // MIB) * MIB)


def shared_part_size(size: int, preferred: int, known: KnownDigests | None) -> int | None:
    """The source's part size when a write of *size* bytes can use it: the write goes in
    parts anyway, *known* hashes parts of that size, S3 accepts it, and it is no larger
    than the part size the store would use itself (so the part buffers hold no more bytes
    than before)."""
    layout = known.part_size if known is not None else None
    own = part_size_for(size, preferred)
    if layout and size > own and MIN_PART_SIZE <= layout <= own \
            and size <= layout * MAX_PARTS:
        return layout
    return None


class S3Source(DriverPerThread):
    """Read-only view of one S3 bucket. It has no method that writes or deletes."""

    def __init__(self, label: str, bucket: str, make_driver: Callable[[], BaseS3StorageDriver],
                 capabilities: Capabilities, requester_pays: bool = False,
                 connections: int = SOURCE_CONNECTIONS) -> None:
        """*connections*: idle connections the adapter keeps open for reuse (more are
        opened while more requests are in flight)."""
        super().__init__(label, bucket, make_driver, capabilities)
        self.requester_pays = requester_pays
        self._shared_driver = make_driver()
        connection = self._shared_driver.connection
        signer = SigV4Signer(connection.user_id, connection.key,
                             self._shared_driver.region_name)
        self._transport = S3Transport(signer, bool(connection.secure), connection.host,
                                      connection.port, connections, REQUEST_TIMEOUT_S)
        self._container = Container(name=bucket, extra=None, driver=self._shared_driver)

    # -- plumbing -------------------------------------------------------------------------
    _status_error = staticmethod(_status_error)

    def _driver(self) -> BaseS3StorageDriver:
        """The one driver of every thread: libcloud signs and names object paths here,
        neither with per-request state; :class:`S3Transport` sends."""
        return self._shared_driver

    def _object_path(self, key: str) -> str:
        return self._driver()._get_object_path(self._container, key)

    def _request(self, what: str, path: str, method: str = "GET", restore: bool = False,
                 params: Mapping[str, object] | None = None,
                 headers: Mapping[str, str] | None = None, data: bytes | None = None,
                 stream: bool = False) -> Answer:
        if restore:
            self.requests.count_restore()
        else:
            self.requests.count(method, bucket_level=path == f"/{self.bucket}")
        if self.requester_pays:
            headers = {**REQUESTER_PAYS, **(headers or {})}
        try:
            return self._transport.send(method, path, params, headers, data, stream)
        except Exception as exc:  # http.client and the socket layer raise many kinds
            raise classify(exc, what) from None

    def _read_headers(self) -> dict[str, str]:
        return {"x-amz-checksum-mode": "ENABLED"} if self.capabilities.additional_checksums else {}

    @staticmethod
    def _version_params(version_id: str | None) -> dict[str, str]:
        return {"versionId": version_id} if version_id else {}

    def _bucket_status(self) -> int:
        """HTTP status of HEAD on the bucket (200 or 404); anything else is an EndpointError."""
        what = f"bucket {self.bucket}"
        return self._endpoint_status(
            what, lambda: self._request(what, f"/{self.bucket}", method="HEAD"))

    # -- contract -------------------------------------------------------------------------
    def check(self) -> None:
        """Raise EndpointError unless the endpoint answers and the bucket exists."""
        if self._bucket_status() == 404:
            raise EndpointError(self.label, f"bucket {self.bucket!r} does not exist")

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield every current object under *prefix*, page by page: ListObjectsV2, each
        page starting after the last key of the one before (moto_server builds a V2 page
        with about a fifth less CPU than a V1 page); a store that answers V1 instead (no
        ``KeyCount``) is paged on with ListObjects' marker. Keys are asked URL-encoded
        (see :func:`_listed_objects`)."""
        after, version_2 = None, True
        while True:
            params = {"encoding-type": "url", **({"prefix": prefix} if prefix else {})}
            if version_2:
                params["list-type"] = "2"
            if after is not None:
                params["start-after" if version_2 else "marker"] = after
            root = self._with_retries(lambda: self._xml(f"listing {self.bucket}",
                                                        f"/{self.bucket}", dict(params)))
            version_2 = version_2 and child_text(root, "KeyCount") is not None
            objects = _listed_objects(root)
            for fields in objects:
                yield ObjectInfo(key=fields.get("Key"), size=int(fields.get("Size") or 0),
                                 etag=plain_etag(fields.get("ETag")),
                                 last_modified=fields.get("LastModified"),
                                 storage_class=fields.get("StorageClass") or "STANDARD")
            if (child_text(root, "IsTruncated") or "false").lower() != "true" or not objects:
                return
            after = objects[-1].get("Key")

    def list_versions(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield every version and delete marker under *prefix* (ListObjectVersions).

        Each page is yielded in key order, a key's versions and delete markers together,
        newest first (stable sorts, so the listing's order stands between equal times): S3
        interleaves them so, but moto_server writes a page's versions first and its delete
        markers after them, which parted a deleted key from its marker, so that the key
        looked current (see :func:`exitkit.verify.entries._aged`). moto_server's times are
        whole seconds: a marker written in the same second as the version before it reads
        as older than that version there.

        Keys are not asked URL-encoded here: neither moto_server nor SeaweedFS encodes a
        version listing, so it could not be tested. A key holding a character XML cannot
        carry fails moto_server's version listing, and SeaweedFS lists it with U+FFFD in
        that character's place."""
        key_marker = version_marker = None
        while True:
            params = {"versions": ""}
            if prefix:
                params["prefix"] = prefix
            if key_marker is not None:
                params["key-marker"] = key_marker
                if version_marker:
                    params["version-id-marker"] = version_marker
            root = self._with_retries(lambda: self._xml(f"listing versions of {self.bucket}",
                                                        f"/{self.bucket}", dict(params)))
            page = []
            for element in root:
                kind = local_name(element.tag)
                if kind not in ("Version", "DeleteMarker"):
                    continue
                fields = child_texts(element)
                page.append(ObjectInfo(
                    key=fields.get("Key"), size=int(fields.get("Size") or 0),
                    etag=plain_etag(fields.get("ETag")),
                    last_modified=fields.get("LastModified"),
                    version_id=fields.get("VersionId"),
                    is_latest=(fields.get("IsLatest") or "").lower() == "true",
                    is_delete_marker=kind == "DeleteMarker",
                    storage_class=None if kind == "DeleteMarker"
                    else fields.get("StorageClass") or "STANDARD"))
            page.sort(key=lambda info: info.last_modified or "", reverse=True)
            yield from sorted(page, key=lambda info: info.key)  # UTF-8 order = code-point order
            if (child_text(root, "IsTruncated") or "false").lower() != "true":
                return
            key_marker = child_text(root, "NextKeyMarker")
            version_marker = child_text(root, "NextVersionIdMarker")
            if not key_marker:
                return

    def head(self, key: str, version_id: str | None = None) -> ObjectInfo | None:
        """Return the full info of *key* from a HEAD request, or None when it is missing."""
        response = self._request(f"HEAD {key}", self._object_path(key), method="HEAD",
                                 headers={**self._read_headers(), **RAW_ENCODING},
                                 params=self._version_params(version_id))
        if response.status == 404:
            return None
        if response.status >= 300:
            raise _status_error(response, f"HEAD {key}")
        return _info_from_headers(key, response.headers)

    @contextmanager
    def open(self, key: str, version_id: str | None = None) -> Iterator[ObjectStream]:
        """Stream *key*'s stored bytes with one GET (never decoded, whatever its
        Content-Encoding); the info comes from that GET's headers."""
        response = self._request(f"GET {key}", self._object_path(key), stream=True,
                                 headers={**self._read_headers(), **RAW_ENCODING},
                                 params=self._version_params(version_id))
        try:
            if response.status == 404:
                raise PermanentError(f"GET {key}: object does not exist")
            if response.status >= 300:
                error = _status_error(response, f"GET {key}")
                if (response.status == 403 and not isinstance(error, UnreadableError)
                        and not self.requester_pays
                        and self._readable_by_requester(key, version_id)):
                    error = requester_pays_error(f"GET {key}")
                raise error
            yield ObjectStream(_info_from_headers(key, response.headers),
                               stored_chunks(response, key, self.requests))
        finally:
            response.close()

    def _readable_by_requester(self, key: str, version_id: str | None) -> bool:
        """Whether a refused object answers a HEAD that accepts requester charges: then
        the bucket is Requester Pays (a HEAD is billed as one request, no data)."""
        response = self._request(f"HEAD {key}", self._object_path(key), method="HEAD",
                                 headers=REQUESTER_PAYS,
                                 params=self._version_params(version_id))
        return response.status == 200

    def first_part_size(self, key: str, version_id: str | None = None) -> int | None:
        """Size of part 1 of a multipart-uploaded object (HEAD ?partNumber=1), or None when it
        has no parts or the store does not say."""
        response = self._request(f"HEAD {key} part 1", self._object_path(key), method="HEAD",
                                 params={"partNumber": 1, **self._version_params(version_id)})
        if response.status in RETRYABLE_STATUSES:
            raise _status_error(response, f"HEAD {key} part 1")
        if response.status >= 300 or "x-amz-mp-parts-count" not in response.headers:
            # not every store answers part HEADs (moto refuses one with versionId=null):
            # without the part size the copy cannot check the ETag, and verification
            # reads the source again instead
            return None
        return int(response.headers.get("content-length", 0)) or None

    def object_lock_enabled(self) -> bool:
        """Whether the bucket has Object Lock enabled (GET ?object-lock; a read)."""
        what = f"Object Lock configuration of {self.bucket}"
        response = self._with_retries(lambda: self._request(what, f"/{self.bucket}",
                                                            params={"object-lock": ""}))
        if response.status >= 300:
            return False
        try:
            root = ElementTree.fromstring(response.body)
        except ElementTree.ParseError:
            return False
        return (child_text(root, "ObjectLockEnabled") or "") == "Enabled"

    def tags(self, key: str, version_id: str | None = None) -> dict[str, str]:
        """The object's tags (GET ?tagging)."""
        root = self._xml(f"tags of {key}", self._object_path(key),
                         {"tagging": "", **self._version_params(version_id)})
        tags = {}
        for element in root.iter():
            if local_name(element.tag) == "Tag":
                tags[child_text(element, "Key")] = child_text(element, "Value") or ""
        return tags


_ONGOING = re.compile(r'ongoing-request\s*=\s*"(true|false)"', re.IGNORECASE)
_EXPIRY = re.compile(r'expiry-date\s*=\s*"([^"]*)"', re.IGNORECASE)


def restore_status_of(header: str | None) -> RestoreStatus:
    """The state an ``x-amz-restore`` header describes (absent: ``none``)."""
    ongoing = _ONGOING.search(header or "")
    if ongoing is None:
        return RestoreStatus("none")
    if ongoing.group(1).lower() == "true":
        return RestoreStatus("ongoing")
    expiry = _EXPIRY.search(header or "")
    return RestoreStatus("ready", http_date(expiry.group(1)) if expiry else None)


class S3Restorer:
    """RestoreObject and restore state for the archived objects of an :class:`S3Source`.

    Kept apart from the source so that only a drill with a ``restore`` spec section holds
    the one POST it may send a source; it shares the source's connections and request
    counts (restores are counted on their own: they are billed as retrieval requests).
    """

    def __init__(self, source: S3Source) -> None:
        self._source = source

    def restore_status(self, key: str, version_id: str | None = None) -> RestoreStatus:
        """Where the restore of *key* stands, from a HEAD's ``x-amz-restore`` header."""
        source = self._source
        what = f"HEAD {key}"
        response = source._request(what, source._object_path(key), method="HEAD",
                                   params=source._version_params(version_id))
        if response.status >= 300:
            raise _status_error(response, what)
        return restore_status_of(response.headers.get("x-amz-restore"))

    def request_restore(self, key: str, version_id: str | None, days: int,
                        tier: str) -> RestoreStatus:
        """POST ?restore: 202 accepted (ongoing), 200 a restored copy is already there
        (its expiry extended), 409 RestoreAlreadyInProgress (ongoing)."""
        source = self._source
        what = f"restore {key}"
        body = (f'<RestoreRequest xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<Days>{days}</Days><GlacierJobParameters><Tier>{tier.capitalize()}</Tier>"
                f"</GlacierJobParameters></RestoreRequest>").encode()
        response = source._request(what, source._object_path(key), method="POST",
                                   restore=True, data=body,
                                   params={"restore": "", **source._version_params(version_id)},
                                   headers={"Content-MD5": _content_md5(body),
                                            "Content-Type": "application/xml"})
        if response.status == 409:
            return RestoreStatus("ongoing")
        if response.status >= 300:
            raise _status_error(response, what)
        return RestoreStatus("ready" if response.status == 200 else "ongoing")


class S3Store(S3Source):
    """An S3 bucket a drill may write to: the source view plus put and remove."""

    #: How each S3 profile keeps providers/contract.py, as tests/test_contract.py measures
    #: it (moto stands in for aws-s3, SeaweedFS for seaweedfs).
    conformance = {
        "aws-s3": Conformance({"storage_classes": ARCHIVE_CLASSES_UNPROBED,
                               "sse_kms": KMS_UNPROBED}),
        "seaweedfs": Conformance({"storage_classes": "SeaweedFS reads back every class name "
                                  "it is sent but stores all objects alike; the profile "
                                  "claims only STANDARD and STANDARD_IA"}),
    }

    def __init__(self, label: str, bucket: str, make_driver: Callable[[], BaseS3StorageDriver],
                 capabilities: Capabilities, part_size: int, region: str,
                 location_constraint: bool, part_buffers: int = 2) -> None:
        """*part_buffers*: upload parts all writes may hold in memory at once (two per
        concurrent writer; at least two)."""
        # a connection for every part buffer (a part in flight), as many for other requests
        super().__init__(label, bucket, make_driver, capabilities,
                         connections=2 * max(2, part_buffers))
        self.part_size = part_size
        self._buffers = _PartBuffers(max(2, part_buffers))
        # parts of one upload in flight: one buffer is left for the part being read
        self._upload_streams = max(1, min(UPLOAD_STREAMS, part_buffers - 1))
        self.region = region
        self.location_constraint = location_constraint
        #: How a request that can be sent again as it was (an upload part, held in memory)
        #: is retried: once, unless a retry wrapper sets its policy here
        #: (:class:`~exitkit.providers.retrying.RetryingTarget`).
        self.retry_repeatable: Callable[[Callable[[], Any]], Any] = _once

    def prepare(self, create: bool, versioned: bool = False, object_lock: bool = False) -> None:
        """Make sure the bucket exists (create it when *create*); enable versioning if asked.

        With *object_lock* a new bucket is created with Object Lock enabled and an existing
        one without it is refused. A bucket without Object Lock takes ``object_lock`` and
        ``legal_hold`` out of this adapter's capabilities.
        """
        lock = object_lock and self.capabilities.object_lock
        if self._bucket_status() == 404:
            if not create:
                raise EndpointError(self.label, f"bucket {self.bucket!r} does not exist")
            self._create_bucket(lock)
        if self.capabilities.object_lock and not self._preflight(self.object_lock_enabled):
            if lock:
                raise EndpointError(self.label, f"bucket {self.bucket!r} has no Object Lock, "
                                    "so the source's retention and legal holds cannot be kept: "
                                    "create the bucket with Object Lock enabled, or accept the "
                                    "loss with accept_gaps: [object_lock, legal_hold]")
            self.capabilities = replace(self.capabilities, object_lock=False, legal_hold=False)
        if versioned:
            self._enable_versioning()

    def _preflight(self, call: Callable[[], bool]) -> bool:
        """A preflight request whose failure names the endpoint (EndpointError)."""
        try:
            return call()
        except (TransientError, PermanentError) as exc:
            raise EndpointError(self.label, str(exc)) from None

    def _create_bucket(self, object_lock: bool) -> None:
        body = b""
        if self.location_constraint and self.region != "us-east-1":
            body = (b'<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                    b"<LocationConstraint>" + self.region.encode() + b"</LocationConstraint>"
                    b"</CreateBucketConfiguration>")
        headers = {"x-amz-bucket-object-lock-enabled": "true"} if object_lock else {}
        try:
            response = self._request(f"create bucket {self.bucket}", f"/{self.bucket}",
                                     method="PUT", data=body, headers=headers)
        except (TransientError, PermanentError) as exc:
            raise EndpointError(self.label, str(exc)) from None
        if response.status >= 300 and response.status != 409:
            raise EndpointError(self.label, str(error_for_status(
                response.status, f"create bucket {self.bucket}")))
        self.check()

    def _enable_versioning(self) -> None:
        body = (b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                b"<Status>Enabled</Status></VersioningConfiguration>")
        try:
            response = self._request(f"enable versioning on {self.bucket}", f"/{self.bucket}",
                                     method="PUT", data=body, params={"versioning": ""},
                                     headers={"Content-MD5": _content_md5(body)})
        except (TransientError, PermanentError) as exc:
            raise EndpointError(self.label, str(exc)) from None
        if response.status >= 300:
            raise EndpointError(self.label, str(error_for_status(
                response.status, f"enable versioning on {self.bucket}")))

    def put(self, key: str, chunks: Iterator[bytes], size: int,
            attributes: Attributes) -> PutResult:
        """Write *key*: one PUT when it fits one part, else a multipart upload.

        Either way the object becomes visible under *key* only when complete. Every request
        carries Content-MD5 (which S3 also requires with Object Lock headers) and, where the
        store holds additional checksums, the checksum of the source's algorithm (else
        SHA-256), so the server rejects a body damaged in transit. The object's properties
        (retention, legal hold, redirect, encryption, storage class) go with the first
        request.
        """
        headers = {f"{META_PREFIX}{name}": value for name, value in attributes.metadata.items()}
        headers.update(attributes.headers)
        headers.update(write_headers(attributes.properties))
        if attributes.content_type:
            headers["Content-Type"] = attributes.content_type
        if attributes.tags:
            headers["x-amz-tagging"] = urlencode(attributes.tags)
        algorithm = self._checksum_algorithm(attributes.properties.checksum_algorithm)
        # an attribute test: a runtime Protocol check costs ~0.1 ms per object
        known = chunks if getattr(chunks, "finished", None) is not None else None
        # the source's parts where possible: the target's ETag then equals the source's,
        # and the part MD5s that checked the source's ETag serve as Content-MD5
        shared = shared_part_size(size, self.part_size, known)
        parts = _parts(chunks, shared or part_size_for(size, self.part_size))
        with self._buffers.hold(2) as held:  # the first part, and a read to see if it is all
            first = next(parts, b"")
            second = next(parts, None)
            if second is None:
                return self._put_single(key, first, headers, algorithm, known)
            result = self._put_multipart(key, [first, second], parts, headers,
                                         algorithm if attributes.properties.checksum_algorithm
                                         else None, held, known if shared else None)
        self._lock_after_multipart(key, result.version_id, attributes.properties)
        return result

    def _lock_after_multipart(self, key: str, version_id: str | None,
                              properties: ObjectProperties) -> None:
        """Set retention and legal hold that a completed multipart upload does not show,
        with PutObjectRetention and PutObjectLegalHold: moto 5 drops the Object Lock
        headers of CreateMultipartUpload (measured), where S3 and SeaweedFS keep them."""
        wants_lock = bool(properties.lock_mode and properties.retain_until)
        if not (wants_lock or properties.legal_hold):
            return
        head = self.head(key, version_id)
        shown = head.attributes.properties if head and head.attributes else ObjectProperties()
        if wants_lock and shown.lock_mode != properties.lock_mode:
            body = (f'<Retention xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Mode>'
                    f"{properties.lock_mode}</Mode><RetainUntilDate>{properties.retain_until}"
                    f"</RetainUntilDate></Retention>").encode()
            self._put_subresource(key, version_id, "retention", body)
        if properties.legal_hold and not shown.legal_hold:
            self._set_legal_hold(key, version_id, "ON")

    def _checksum_algorithm(self, wanted: str | None) -> str | None:
        """The additional checksum to send: the source's algorithm, else SHA-256, where held."""
        held = self.capabilities.additional_checksums
        if wanted in held:
            return wanted
        return "sha256" if "sha256" in held else None

    def _integrity_headers(self, data: bytes, algorithm: str | None,
                           known: KnownDigests | None = None,
                           md5: bytes | None = None) -> dict[str, str]:
        """Content-MD5 and the additional checksum of *data*, taken from *known* (the
        digests of exactly these bytes) or *md5* (its MD5 digest) where given."""
        whole = known if known is not None and known.finished and known.size == len(data) \
            else None
        if md5 is None:
            md5 = whole.md5.digest() if whole and whole.md5 else hashlib.md5(data).digest()
        headers = {"Content-MD5": base64.b64encode(md5).decode("ascii"),
                   "Content-Length": str(len(data))}
        if algorithm:  # the SDK header too: moto stores the checksum only with it
            headers[f"{CHECKSUM_PREFIX}{algorithm}"] = (
                base64.b64encode(whole.sha256.digest()).decode("ascii")
                if whole and algorithm == "sha256" else checksum_of(algorithm, data))
            headers["x-amz-sdk-checksum-algorithm"] = algorithm.upper()
        return headers

    def _put_single(self, key: str, data: bytes, headers: dict[str, str],
                    algorithm: str | None, known: KnownDigests | None = None) -> PutResult:
        integrity = self._integrity_headers(data, algorithm, known)
        response = self._request(f"PUT {key}", self._object_path(key), method="PUT", data=data,
                                 headers={**headers, **integrity})
        if response.status >= 300:
            raise _status_error(response, f"PUT {key}")
        checksums = {algorithm: integrity[f"{CHECKSUM_PREFIX}{algorithm}"]} if algorithm else {}
        return PutResult(key=key, size=len(data), etag=plain_etag(response.headers.get("etag")),
                         version_id=response.headers.get("x-amz-version-id"),
                         checksums=checksums,
                         content_etag=base64.b64decode(integrity["Content-MD5"]).hex())

    def _put_multipart(self, key: str, read: list[bytes], rest: Iterator[bytes],
                       headers: dict[str, str], algorithm: str | None,
                       held: "_HeldBuffers", known: KnownDigests | None = None) -> PutResult:
        """A multipart upload of the parts in *read*, then *rest*; with *algorithm*, every
        part carries its checksum and the object gets a full-object checksum (CRCs) or a
        composite one (SHA). With *known* (whose ``part_md5s`` are those of these parts),
        each part's Content-MD5 is taken from it instead of hashing the part again.

        Up to :data:`UPLOAD_STREAMS` parts go up at once, each on its own connection, while
        the next is read. Every part in memory holds one of the store's part buffers
        (*held* has the two already read), so parallel parts stay within the bound the
        drill already had: two parts per concurrent copy (a store for one writer sends one
        part while it reads the next, as before).
        """
        path = self._object_path(key)
        full_object = algorithm in FULL_OBJECT_MULTIPART
        if algorithm:
            headers = {**headers, "x-amz-checksum-algorithm": algorithm.upper(),
                       "x-amz-checksum-type": "FULL_OBJECT" if full_object else "COMPOSITE"}
        root = self._xml(f"start multipart {key}", path, {"uploads": ""}, method="POST",
                         headers=headers)
        upload_id = child_text(root, "UploadId")
        if not upload_id:
            raise PermanentError(f"start multipart {key}: no upload id in the answer")
        whole = RunningChecksum(algorithm) if full_object else None

        def send(number: int, data: bytes, part_headers: dict[str, str]) -> str:
            response = self._request(
                f"PUT {key} part {number}", path, method="PUT", data=data,
                params={"partNumber": number, "uploadId": upload_id}, headers=part_headers)
            if response.status >= 300:
                raise _status_error(response, f"PUT {key} part {number}")
            return response.headers["etag"]

        sent_md5s: dict[int, bytes] = {}

        def upload(number: int, data: bytes, md5: bytes | None) -> tuple[int, str, str | None]:
            # a part is in memory, so it is sent again on its own: a fault on one part
            # neither restarts the object nor goes uncounted beside a fault on another
            try:
                part_headers = self._integrity_headers(data, algorithm, md5=md5)
                sent_md5s[number] = base64.b64decode(part_headers["Content-MD5"])
                etag = self.retry_repeatable(lambda: send(number, data, part_headers))
                return number, etag, part_headers.get(f"{CHECKSUM_PREFIX}{algorithm}")
            finally:
                held.release(1)

        parts: list[tuple[int, str, str | None]] = []
        size = 0
        try:
            streams = self._upload_streams
            with ThreadPoolExecutor(streams, thread_name_prefix="exitkit-part") as pool:
                pending: set[Future] = set()
                number = 0
                try:
                    while True:
                        data = read.pop(0) if read else None
                        if data is None:
                            held.acquire(1)
                            data = next(rest, b"")
                            if not data:
                                held.release(1)
                                break
                        number += 1
                        if whole:
                            whole.update(data)
                        size += len(data)
                        md5 = (known.part_md5s[number - 1]
                               if known is not None and len(known.part_md5s) >= number
                               else None)
                        pending.add(pool.submit(upload, number, data, md5))
                        del data
                        while len(pending) >= streams:
                            done, pending = wait(pending, return_when=FIRST_COMPLETED)
                            parts.extend(future.result() for future in done)
                    parts.extend(future.result() for future in pending)
                except BaseException:
                    for future in pending:
                        future.cancel()
                    raise
            parts.sort()
            checksums = {algorithm: whole.base64()} if whole else {}
            etag, version_id = self._complete(key, upload_id, parts, algorithm, checksums)
        except BaseException:
            self._abort(key, upload_id)
            raise
        return PutResult(key=key, size=size, etag=plain_etag(etag), parts=len(parts),
                         version_id=version_id, checksums=checksums,
                         content_etag=multipart_etag([sent_md5s[number]
                                                      for number, _etag, _sum in parts]))

    def _complete(self, key: str, upload_id: str, parts: list[tuple[int, str, str | None]],
                  algorithm: str | None = None,
                  checksums: Mapping[str, str] | None = None) -> tuple[str | None, str | None]:
        """Complete an upload (with each part's checksum, and the full-object one when
        given); returns its ETag and version id."""
        tag = f"Checksum{algorithm.upper()}" if algorithm else ""
        listed = "".join(f"<Part><PartNumber>{number}</PartNumber><ETag>{etag}</ETag>"
                         + (f"<{tag}>{value}</{tag}>" if value else "") + "</Part>"
                         for number, etag, value in parts)
        body = f"<CompleteMultipartUpload>{listed}</CompleteMultipartUpload>".encode()
        headers = {"Content-Type": "application/xml"}
        for name, value in (checksums or {}).items():
            headers[f"{CHECKSUM_PREFIX}{name}"] = value
            headers["x-amz-checksum-type"] = "FULL_OBJECT"
        what = f"complete multipart {key}"
        response = self._request(what, self._object_path(key), method="POST",
                                 params={"uploadId": upload_id}, data=body, headers=headers)
        if response.status >= 300:
            raise _status_error(response, what)
        try:
            root = ElementTree.fromstring(response.body)
        except ElementTree.ParseError:
            raise TransientError(f"{what}: the answer is not XML") from None
        if local_name(root.tag) == "Error":  # S3 may answer 200 and report the failure in the body
            raise TransientError(f"{what}: {child_text(root, 'Code')}")
        return child_text(root, "ETag"), response.headers.get("x-amz-version-id")

    def _abort(self, key: str, upload_id: str) -> None:
        """Abort an upload, best effort: a lifecycle rule expires it if this fails too."""
        try:
            self._request(f"abort multipart {key}", self._object_path(key), method="DELETE",
                          params={"uploadId": upload_id})
        except (TransientError, PermanentError):
            pass

    def remove(self, key: str, version_id: str | None = None,
               bypass_governance: bool = False) -> str | None:
        """Delete *key* (or one version of it); a missing key is not an error. On a
        versioned bucket, deleting *key* without a version puts a delete marker on top:
        its version id is returned (else None). With *bypass_governance*, a version under
        GOVERNANCE retention is deleted too (the probe removes its own test objects so)."""
        headers = {"x-amz-bypass-governance-retention": "true"} if bypass_governance else {}
        response = self._request(f"DELETE {key}", self._object_path(key), method="DELETE",
                                 params=self._version_params(version_id), headers=headers)
        if response.status >= 300 and response.status != 404:
            raise _status_error(response, f"DELETE {key}")
        marker = response.headers.get("x-amz-delete-marker", "").lower() == "true"
        return response.headers.get("x-amz-version-id") if marker and not version_id else None

    def release_legal_hold(self, key: str, version_id: str | None = None) -> None:
        """Turn a version's legal hold OFF (PUT ?legal-hold), so it can be deleted."""
        self._set_legal_hold(key, version_id, "OFF")

    def _set_legal_hold(self, key: str, version_id: str | None, status: str) -> None:
        body = (f'<LegalHold xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<Status>{status}</Status></LegalHold>").encode()
        self._put_subresource(key, version_id, "legal-hold", body)

    def _put_subresource(self, key: str, version_id: str | None, name: str,
                         body: bytes) -> None:
        """PUT ?<name> on one object version with an XML body (Content-MD5, as required)."""
        what = f"PUT {key} ?{name}"
        response = self._request(what, self._object_path(key), method="PUT", data=body,
                                 params={name: "", **self._version_params(version_id)},
                                 headers={"Content-MD5": _content_md5(body)})
        if response.status >= 300:
            raise _status_error(response, what)


def _listed_objects(root) -> list[dict[str, str]]:
    """The fields of each ``Contents`` of a listing page, its ``Key`` decoded where the
    answer says it is URL-encoded (``EncodingType`` url). Listings ask for
    ``encoding-type=url``: XML 1.0 cannot carry a key's control characters, so unencoded,
    moto_server's page does not parse and SeaweedFS replaces them (a key ``bell\\x07.txt``
    listed as ``bell\\ufffd.txt``). Decoded as the AWS SDKs do (``+`` is a space; a ``+`` of
    the key comes as ``%2B``); a store that ignores the parameter says no ``EncodingType``,
    and its keys are taken as they are."""
    objects = [child_texts(element) for element in root if local_name(element.tag) == "Contents"]
    if (child_text(root, "EncodingType") or "").lower() == "url":
        for fields in objects:
            if "Key" in fields:
                fields["Key"] = unquote_plus(fields["Key"])
    return objects


def _parts(chunks: Iterator[bytes], size: int) -> Iterator[bytes]:
    """The bytes of *chunks* in parts of *size* (the last one shorter; one empty part when
    there are none), each joined once: libcloud's ``read_in_chunks`` appends chunk by chunk,
    copying every part about size/chunk times over."""
    pending: list[memoryview] = []
    filled, yielded = 0, False
    for chunk in chunks:
        view = memoryview(chunk)
        while len(view) >= size - filled:
            take = size - filled
            pending.append(view[:take])
            yield b"".join(pending)
            yielded, pending, filled, view = True, [], 0, view[take:]
        if view:
            pending.append(view)
            filled += len(view)
    if pending or not yielded:
        yield b"".join(pending)


def _content_md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def split_endpoint(endpoint: str) -> tuple[bool, str, int | None]:
    """Split ``https://host:port`` into (secure, host, port)."""
    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) endpoint: {endpoint!r}")
    return parts.scheme == "https", parts.hostname, parts.port


DriverFactory = Callable[..., BaseS3StorageDriver]
DRIVERS: dict[str, DriverFactory] = {"aws": _aws_driver, "compatible": S3CompatibleDriver}
