"""Azure Blob Storage (block blobs) on libcloud's Azure Blobs driver, as source and target.

libcloud supplies the driver, SharedKey signing, connections and Azurite's path-style
addressing; this adapter fixes the gaps found against Azurite:

* libcloud speaks API version 2018-11-09, which has no blob index tags, no Cold tier, no
  rehydrate priority and no access tier on Put Blob; :class:`_BlobConnection` speaks
  2021-12-02.
* libcloud's responses raise on error statuses before the status, the error code or
  ``Retry-After`` can be read (an archived blob's 409 ``BlobArchived`` becomes "Unknown
  error"); :class:`_EveryStatusResponse` hands every status back and
  :func:`_status_error` maps Azure's error codes onto exitkit's errors.
* libcloud authenticates with an account key or Azure AD only; a SAS token is not
  supported: :class:`_SasConnection` appends the token's query and signs nothing.
* libcloud's connection sends ``Accept-Encoding: gzip,deflate`` and streams through
  requests' ``iter_content``, which decodes ``Content-Encoding``: :meth:`AzureSource.open`
  asks for ``identity`` and reads urllib3's raw stream undecoded (the stored bytes).
* libcloud's listing objects drop the access tier, Content-MD5 and tag count, and its
  HEAD objects keep metadata only; the adapter reads listing XML and headers itself.
  Get Blob answers without the access tier (Get Blob Properties has it): a read adds one
  Get Blob Properties for it, so a copy keeps the tier.
* libcloud uploads in blocks of a fixed, process-wide 4 MiB (``LIBCLOUD_AZURE_UPLOAD_
  CHUNK_SIZE_MB``), which caps a blob at 195 GiB under the 50,000-block limit, sends no
  Content-MD5 per block and writes content settings other than Content-Type only through
  headers it passes as given; :meth:`AzureStore.put` sizes blocks from the object size,
  sends each block's Content-MD5 (Azure checks it) and commits the block list with the
  content settings, metadata, access tier, index tags and the whole blob's MD5.
* libcloud's joins drop empty path segments (``a//b``); :class:`_BlobConnection` keeps
  the path as given.
* libcloud knows no blob index tags, access tiers or rehydration (Set Blob Tier):
  :meth:`AzureSource.tags`, :class:`AzureRestorer` and the put's headers add them.

Gaps that remain, each with its reason (docs/architecture.md lists them too):

* Blob versions: Azurite keeps none (``include=versions`` lists no version ids, measured),
  so nothing here could be tested; the adapter lists current blobs and declares no
  versioning, and a drill reports versions it did not copy as the profile's gap.
* Snapshots, immutability policies and legal holds at container or version level, soft
  delete, customer-provided keys and encryption scopes are not read: Azurite implements
  none of them. Every blob is encrypted at rest (Storage Service Encryption, AES-256,
  ``x-ms-server-encrypted``), which the adapter reports as SSE with provider keys.
* Azure keeps no ``Expires`` header; exitkit treats the five standard headers as one
  capability, so an Azure target declares ``system_headers`` false and a drill reports
  them as not held (the four Azure keeps are written all the same).
* Metadata names are case-insensitive C# identifiers on Azure, and values ASCII: names
  are reported in lower case (as S3 reports them), and a source name that is no
  identifier (``a-b``) or a value that is not ASCII fails its copy with that reason
  instead of being changed.
* Rehydration from Archive (Set Blob Tier) moves the blob to the Hot tier for good; Azure
  has no temporary restored copy, so ``restore.days`` does not apply. Azurite rehydrates
  at once; Azure takes up to 15 hours (Standard priority) or under one (High).
* Page and append blobs are read like block blobs; a target writes block blobs only.
"""

import base64
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import parse_qsl, quote, urlencode

from libcloud.common.azure import AzureRawResponse, AzureResponse
from libcloud.storage.drivers.azure_blobs import AzureBlobsConnection, AzureBlobsStorageDriver
from libcloud.utils.files import read_in_chunks

from exitkit.errors import EndpointError, PermanentError, TransientError, UnreadableError
from exitkit.providers.archive import restore_advice
from exitkit.providers.contract import (ARCHIVE_CLASSES_UNPROBED, Attributes, Capabilities,
                                        Conformance, ObjectInfo, ObjectStream, PutResult,
                                        RestoreStatus)
from exitkit.providers.driver_pool import DriverPerThread
from exitkit.providers.failures import classify, error_for_status
from exitkit.providers.http_answers import (child_text, http_date, local_name, plain_etag,
                                            stored_chunks)
from exitkit.providers.properties import DEFAULT_STORAGE_CLASS, ObjectProperties

API_VERSION = "2021-12-02"
MIB = 1024 * 1024
MAX_BLOCKS = 50_000
MAX_BLOCK_SIZE = 4000 * MIB
REQUEST_TIMEOUT_S = 120
META_PREFIX = "x-ms-meta-"
#: Azure's content settings: response header -> the request header that sets it.
CONTENT_SETTINGS = {"cache-control": "x-ms-blob-cache-control",
                    "content-disposition": "x-ms-blob-content-disposition",
                    "content-encoding": "x-ms-blob-content-encoding",
                    "content-language": "x-ms-blob-content-language"}
#: Azure access tiers under exitkit's class names: Hot is every store's default class.
TIER_CLASSES = {"Hot": DEFAULT_STORAGE_CLASS, "Cool": "COOL", "Cold": "COLD",
                "Archive": "ARCHIVE"}
CLASS_TIERS = {name: tier for tier, name in TIER_CLASSES.items()}
#: Restore tiers as Azure's rehydrate priorities (Azure has no bulk tier: Standard).
REHYDRATE_PRIORITY = {"bulk": "Standard", "standard": "Standard", "expedited": "High"}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ERROR_BODY_LIMIT = 64 * 1024

#: What Azure Blob Storage holds, as this adapter reads and writes it.
CAPABILITIES = Capabilities(user_metadata=True, content_type=True, tags=True,
                            lists_in_key_order=True, max_key_bytes=1024,
                            directory_markers=True, sse_s3=True,
                            storage_classes=frozenset(CLASS_TIERS))


class _EveryStatusResponse(AzureResponse):
    """Hands every HTTP status back to the adapter, which classifies it."""

    def success(self) -> bool:
        return True

    def parse_body(self):
        return self.body


class _EveryStatusRawResponse(_EveryStatusResponse, AzureRawResponse):
    pass


class _BlobConnection(AzureBlobsConnection):
    """SharedKey connection at a current API version, keeping paths as given and asking
    for stored bytes (``Accept-Encoding: identity``)."""

    API_VERSION = API_VERSION
    responseCls = _EveryStatusResponse
    rawResponseCls = _EveryStatusRawResponse

    def morph_action_hook(self, action):
        path = self.request_path + action
        return f"/{self.account_prefix}{path}" if self.account_prefix is not None else path

    def pre_connect_hook(self, params, headers):
        params, headers = super().pre_connect_hook(params, headers)
        headers["Accept-Encoding"] = "identity"
        return params, headers

    def _format_special_header_values(self, headers, method):
        if headers.get("content-length") == "0":  # signed empty since 2015-02-21
            headers = {**headers, "content-length": ""}
        return super()._format_special_header_values(headers, method)


class _SasConnection(_BlobConnection):
    """Authorises with a shared access signature: its query goes on every request."""

    def __init__(self, *args, sas_token: str = "", **kwargs):
        self.sas_params = dict(parse_qsl(sas_token.lstrip("?"), keep_blank_values=True))
        super().__init__(*args, **kwargs)

    def pre_connect_hook(self, params, headers):
        headers = {**headers, "x-ms-version": self.API_VERSION, "Accept-Encoding": "identity"}
        headers.pop("Host", None)
        return {**params, **self.sas_params}, headers


class _BlobDriver(AzureBlobsStorageDriver):
    """libcloud's Azure Blobs driver with :class:`_BlobConnection` (or the SAS one)."""

    connectionCls = _BlobConnection

    def __init__(self, account: str, secret: str, sas: bool, secure: bool, host: str | None,
                 port: int | None):
        self._sas_token = secret if sas else None
        if sas:
            self.connectionCls = _SasConnection
        super().__init__(key=account, secret="" if sas else secret, secure=secure, host=host,
                         port=port, timeout=REQUEST_TIMEOUT_S)

    def _ex_connection_class_kwargs(self):
        kwargs = super()._ex_connection_class_kwargs()
        if self._sas_token is not None:
            kwargs["sas_token"] = self._sas_token
        return kwargs


def blob_driver_factory(account: str, secret: str, sas: bool, secure: bool, host: str,
                        port: int | None) -> Callable[[], AzureBlobsStorageDriver]:
    """A factory of drivers for one account; ``<account>.blob.core.windows.net`` is
    addressed by host, anything else (Azurite) by path, as libcloud does."""
    if host.endswith(".blob.core.windows.net"):
        host, port = None, None
    return lambda: _BlobDriver(account, secret, sas, secure, host, port)


def _class_of(tier: str | None) -> str:
    return TIER_CLASSES.get(tier or "Hot", (tier or "").upper())


def _info_from_headers(key: str, headers: Mapping[str, str]) -> ObjectInfo:
    storage_class = _class_of(headers.get("x-ms-access-tier"))
    encrypted = headers.get("x-ms-server-encrypted", "").lower() == "true"
    attributes = Attributes(
        content_type=headers.get("content-type"),
        headers={name: headers[name] for name in CONTENT_SETTINGS if headers.get(name)},
        metadata={name[len(META_PREFIX):].lower(): value for name, value in headers.items()
                  if name.startswith(META_PREFIX)},
        properties=ObjectProperties(storage_class=storage_class,
                                    encryption="AES256" if encrypted else "none"))
    md5 = headers.get("content-md5")
    tag_count = headers.get("x-ms-tag-count", "0")
    return ObjectInfo(key=key, size=int(headers.get("content-length", 0)),
                      etag=plain_etag(headers.get("etag")),
                      last_modified=http_date(headers.get("last-modified")),
                      attributes=attributes, checksums={"md5": md5} if md5 else None,
                      tag_count=int(tag_count) if tag_count.isdigit() else 0,
                      storage_class=storage_class)


def _error_code(response) -> str | None:
    """Azure's error code: the ``x-ms-error-code`` header (also on HEAD answers)."""
    return response.headers.get("x-ms-error-code")


def _status_error(response, what: str) -> Exception:
    """The exception for a failed Azure response, diagnosed from its error code."""
    code = _error_code(response) or ""
    status = response.status
    if code == "BlobArchived":
        return UnreadableError("archived", f"{what}: {restore_advice('ARCHIVE')}")
    if code in ("AuthenticationFailed", "InvalidAuthenticationInfo", "NoAuthenticationInformation"):
        return PermanentError(f"{what}: {code} (HTTP {status}); check the credentials (account "
                              f"key or SAS token)")
    if code.startswith("Authorization") and code.endswith("Mismatch"):
        return PermanentError(f"{what}: access denied (HTTP {status} {code}); the credentials "
                              f"lack permission: check the SAS permissions or the role")
    if status == 403:  # AuthorizationFailure: Azurite's answer to a wrong key, too
        return PermanentError(f"{what}: access denied (HTTP 403{' ' + code if code else ''}); "
                              f"check the credentials (account key or SAS token) and what they "
                              f"may do")
    return error_for_status(status, what, response.headers.get("retry-after"), code or None)


class AzureSource(DriverPerThread):
    """Read-only view of one Azure Blob container. It has no method that writes or deletes."""

    def __init__(self, label: str, container: str,
                 make_driver: Callable[[], AzureBlobsStorageDriver],
                 capabilities: Capabilities = CAPABILITIES) -> None:
        super().__init__(label, container, make_driver, capabilities)

    # -- plumbing -------------------------------------------------------------------------
    _status_error = staticmethod(_status_error)

    def _blob_path(self, key: str) -> str:
        return f"/{self.bucket}/{quote(key, safe='/')}"

    def _request(self, what: str, path: str, method: str = "GET", restore: bool = False,
                 **kwargs):
        if restore:
            self.requests.count_restore()
        else:
            self.requests.count(method, bucket_level=path == f"/{self.bucket}")
        kwargs.setdefault("params", {})
        data = kwargs.get("data")
        if data:
            kwargs["headers"] = {**(kwargs.get("headers") or {}), "Content-Length": str(len(data))}
        try:
            return self._driver().connection.request(path, method=method, raw=True, **kwargs)
        except Exception as exc:  # requests and urllib3 raise many kinds; classify them all
            raise classify(exc, what) from None

    def _container_status(self) -> int:
        """HTTP status of a one-blob List Blobs (200 or 404); else an EndpointError. A
        listing, not Get Container Properties, which a container SAS may not send."""
        what = f"container {self.bucket}"
        return self._endpoint_status(what, lambda: self._request(what, f"/{self.bucket}", params={
            "restype": "container", "comp": "list", "maxresults": "1"}))

    # -- contract -------------------------------------------------------------------------
    def check(self) -> None:
        """Raise EndpointError unless the endpoint answers and the container exists."""
        if self._container_status() == 404:
            raise EndpointError(self.label, f"container {self.bucket!r} does not exist")

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield every blob under *prefix*, page by page (List Blobs, marker), in key order."""
        marker = None
        while True:
            params = {"restype": "container", "comp": "list"}
            if prefix:
                params["prefix"] = prefix
            if marker:
                params["marker"] = marker
            root = self._with_retries(lambda: self._xml(f"listing {self.bucket}",
                                                        f"/{self.bucket}", dict(params)))
            for blob in root.iter():
                if local_name(blob.tag) != "Blob":
                    continue
                properties = next(
                    (child for child in blob if local_name(child.tag) == "Properties"), [])
                md5 = child_text(properties, "Content-MD5")
                yield ObjectInfo(
                    key=child_text(blob, "Name"),
                    size=int(child_text(properties, "Content-Length") or 0),
                    etag=plain_etag(child_text(properties, "Etag")),
                    last_modified=http_date(child_text(properties, "Last-Modified")),
                    checksums={"md5": md5} if md5 else None,
                    storage_class=_class_of(child_text(properties, "AccessTier")))
            marker = child_text(root, "NextMarker")
            if not marker:
                return

    def list_versions(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """The current blobs: the adapter reads no blob versions (see the module's gaps)."""
        return self.list(prefix)

    def head(self, key: str, version_id: str | None = None) -> ObjectInfo | None:
        """Return the full info of *key* from Get Blob Properties, or None when missing."""
        response = self._request(f"HEAD {key}", self._blob_path(key), method="HEAD")
        if response.status == 404:
            return None
        if response.status >= 300:
            raise _status_error(response, f"HEAD {key}")
        return _info_from_headers(key, response.headers)

    @contextmanager
    def open(self, key: str, version_id: str | None = None) -> Iterator[ObjectStream]:
        """Stream *key*'s stored bytes with one Get Blob (never decoded, whatever its
        Content-Encoding); the info comes from that answer's headers."""
        response = self._request(f"GET {key}", self._blob_path(key), stream=True)
        if response.status == 404:
            raise PermanentError(f"GET {key}: object does not exist")
        if response.status >= 300:
            raise _status_error(response, f"GET {key}")
        raw = response.iter_content.__self__
        try:
            info = _info_from_headers(key, response.headers)
            if "x-ms-access-tier" not in response.headers:
                info = self._with_tier(key, info)
            yield ObjectStream(info, stored_chunks(raw.raw, key, self.requests))
        finally:
            raw.close()

    def _with_tier(self, key: str, info: ObjectInfo) -> ObjectInfo:
        """*info* with the access tier Get Blob leaves out, from Get Blob Properties."""
        head = self.head(key)
        if head is None:
            raise PermanentError(f"GET {key}: object vanished while read")
        properties = info.attributes.properties
        attributes = Attributes(info.attributes.content_type, info.attributes.headers,
                                info.attributes.metadata,
                                properties=ObjectProperties(storage_class=head.storage_class,
                                                            encryption=properties.encryption))
        return info._replace(attributes=attributes, storage_class=head.storage_class)

    def tags(self, key: str, version_id: str | None = None) -> dict[str, str]:
        """The blob's index tags (Get Blob Tags)."""
        root = self._xml(f"tags of {key}", self._blob_path(key), {"comp": "tags"})
        return {child_text(tag, "Key"): child_text(tag, "Value") or ""
                for tag in root.iter() if local_name(tag.tag) == "Tag"}

    def first_part_size(self, key: str, version_id: str | None = None) -> int | None:
        """Azure ETags are no digests, so block sizes prove nothing: None."""
        return None

    def object_lock_enabled(self) -> bool:
        """Immutability policies are not read (see the module's gaps)."""
        return False


class AzureRestorer:
    """Rehydration of Archive-tier blobs of an :class:`AzureSource` (Set Blob Tier).

    Kept apart from the source, like :class:`exitkit.providers.s3.S3Restorer`, so only a
    drill with a ``restore`` spec section holds the one write it may send a source.
    """

    def __init__(self, source: AzureSource) -> None:
        self._source = source

    def restore_status(self, key: str, version_id: str | None = None) -> RestoreStatus:
        """``ongoing`` while ``x-ms-archive-status`` says rehydrate-pending, ``none`` for a
        blob still in Archive, ``ready`` once it is in an online tier."""
        source, what = self._source, f"HEAD {key}"
        response = source._request(what, source._blob_path(key), method="HEAD")
        if response.status >= 300:
            raise _status_error(response, what)
        if (response.headers.get("x-ms-archive-status") or "").startswith("rehydrate-pending"):
            return RestoreStatus("ongoing")
        if response.headers.get("x-ms-access-tier") == "Archive":
            return RestoreStatus("none")
        return RestoreStatus("ready")

    def request_restore(self, key: str, version_id: str | None, days: int,
                        tier: str) -> RestoreStatus:
        """Set Blob Tier to Hot at the tier's rehydrate priority: 202 accepted (ongoing),
        200 done (ready), 409 a rehydration is already pending (ongoing). *days* does not
        apply: a rehydrated blob stays Hot."""
        source, what = self._source, f"restore {key}"
        response = source._request(what, source._blob_path(key), method="PUT", restore=True,
                                   params={"comp": "tier"},
                                   headers={"x-ms-access-tier": "Hot",
                                            "x-ms-rehydrate-priority": REHYDRATE_PRIORITY[tier]})
        if response.status == 409:
            return RestoreStatus("ongoing")
        if response.status >= 300:
            raise _status_error(response, what)
        return RestoreStatus("ready" if response.status == 200 else "ongoing")


def block_size_for(size: int, preferred: int) -> int:
    """A block size of at least *preferred* (whole MiB beyond it) that fits *size* into
    50,000 blocks; Azure takes blocks of up to 4,000 MiB."""
    needed = -(-size // MAX_BLOCKS)
    return min(MAX_BLOCK_SIZE, max(preferred, -(-needed // MIB) * MIB))


def _md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def _block_id(number: int) -> str:
    return base64.b64encode(f"exitkit-{number:06d}".encode()).decode("ascii")


class AzureStore(AzureSource):
    """An Azure Blob container a drill may write to: the source view plus put and remove."""

    #: How the Azure adapter keeps providers/contract.py on Azurite (tests/test_contract.py).
    conformance = {"azure-blob": Conformance({
        "user_metadata": "the probe's metadata name 'Mixed-Case' is no C# identifier, which "
                         "Azure refuses; identifiers are held (tests/test_azure.py)",
        "content_type": "the probe writes it on that refused object; it is held "
                        "(tests/test_azure.py)",
        "storage_classes": "the probe writes S3 class names; Azure's tiers (COOL, COLD, "
                           "ARCHIVE) are measured by tests/test_azure.py; "
                           + ARCHIVE_CLASSES_UNPROBED})}

    def __init__(self, label: str, container: str,
                 make_driver: Callable[[], AzureBlobsStorageDriver], capabilities: Capabilities,
                 block_size: int) -> None:
        super().__init__(label, container, make_driver, capabilities)
        self.block_size = block_size

    def prepare(self, create: bool, versioned: bool = False, object_lock: bool = False) -> None:
        """Make sure the container exists (create it when *create*). Versioning and
        immutability are account settings this adapter does not manage; callers check
        its capabilities."""
        if self._container_status() == 200:
            return
        if not create:
            raise EndpointError(self.label, f"container {self.bucket!r} does not exist")
        what = f"create container {self.bucket}"
        try:
            response = self._request(what, f"/{self.bucket}", method="PUT",
                                     params={"restype": "container"})
        except (TransientError, PermanentError) as exc:
            raise EndpointError(self.label, str(exc)) from None
        if response.status >= 300 and response.status != 409:
            raise EndpointError(self.label, str(_status_error(response, what)))
        self.check()

    def _blob_headers(self, key: str, attributes: Attributes) -> dict[str, str]:
        """Content settings, metadata, access tier and index tags of a new blob."""
        invalid = sorted(name for name in attributes.metadata if not _IDENTIFIER.match(name))
        if invalid:
            raise PermanentError(f"PUT {key}: metadata name {invalid[0]!r} is not valid on Azure "
                                 f"(names are C# identifiers: letters, digits and '_'); rename "
                                 f"it at the source")
        unsendable = sorted(name for name, value in attributes.metadata.items()
                            if not value.isascii())
        if unsendable:
            raise PermanentError(f"PUT {key}: the value of metadata {unsendable[0]!r} is not "
                                 f"ASCII, which Azure refuses; change it at the source")
        headers = {f"{META_PREFIX}{name}": value for name, value in attributes.metadata.items()}
        headers.update({CONTENT_SETTINGS[name]: value for name, value in
                        attributes.headers.items() if name in CONTENT_SETTINGS})
        if attributes.content_type:
            headers["x-ms-blob-content-type"] = attributes.content_type
        tier = CLASS_TIERS.get(attributes.properties.storage_class)
        if tier:
            headers["x-ms-access-tier"] = tier
        if attributes.tags:
            headers["x-ms-tags"] = urlencode(attributes.tags, quote_via=quote)
        return headers

    def put(self, key: str, chunks: Iterator[bytes], size: int,
            attributes: Attributes) -> PutResult:
        """Write *key*: one Put Blob when it fits one block, else Put Block for each block
        and one Put Block List. Uncommitted blocks are never visible, so the blob appears
        under *key* only once complete. Every request carries the Content-MD5 of its body
        (Azure refuses a body damaged in transit); the block list commits the whole blob's
        MD5, which Azure then reports as the blob's Content-MD5."""
        headers = self._blob_headers(key, attributes)
        block_size = block_size_for(size, self.block_size)
        blocks = read_in_chunks(chunks, chunk_size=block_size, fill_size=True, yield_empty=True)
        first = next(blocks, b"")
        second = next(blocks, None)
        if second is None:
            return self._put_single(key, first, headers)
        return self._put_blocks(key, first, second, blocks, headers)

    def _put_single(self, key: str, data: bytes, headers: dict[str, str]) -> PutResult:
        md5 = _md5_b64(data)
        what = f"PUT {key}"
        response = self._request(what, self._blob_path(key), method="PUT", data=data,
                                 headers={**headers, "x-ms-blob-type": "BlockBlob",
                                          "Content-MD5": md5})
        if response.status >= 300:
            raise _status_error(response, what)
        return PutResult(key=key, size=len(data), etag=plain_etag(response.headers.get("etag")),
                         checksums={"md5": md5})

    def _put_blocks(self, key: str, first: bytes, second: bytes, rest: Iterator[bytes],
                    headers: dict[str, str]) -> PutResult:
        path, whole, ids, size = self._blob_path(key), hashlib.md5(), [], 0
        for number, data in enumerate(_nonempty(first, second, rest)):
            block_id = _block_id(number)
            what = f"PUT {key} block {number + 1}"
            response = self._request(what, path, method="PUT", data=data,
                                     params={"comp": "block", "blockid": block_id},
                                     headers={"Content-MD5": _md5_b64(data)})
            if response.status >= 300:
                raise _status_error(response, what)
            ids.append(block_id)
            whole.update(data)
            size += len(data)
        md5 = base64.b64encode(whole.digest()).decode("ascii")
        body = ('<?xml version="1.0" encoding="utf-8"?><BlockList>'
                + "".join(f"<Latest>{block_id}</Latest>" for block_id in ids)
                + "</BlockList>").encode()
        what = f"commit {key}"
        response = self._request(what, path, method="PUT", data=body,
                                 params={"comp": "blocklist"},
                                 headers={**headers, "x-ms-blob-content-md5": md5,
                                          "Content-MD5": _md5_b64(body),
                                          "Content-Type": "application/xml"})
        if response.status >= 300:
            raise _status_error(response, what)
        return PutResult(key=key, size=size, etag=plain_etag(response.headers.get("etag")),
                         parts=len(ids), checksums={"md5": md5})

    def remove(self, key: str, version_id: str | None = None) -> None:
        """Delete *key*; a missing key is not an error."""
        response = self._request(f"DELETE {key}", self._blob_path(key), method="DELETE")
        if response.status >= 300 and response.status != 404:
            raise _status_error(response, f"DELETE {key}")


def _nonempty(first: bytes, second: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield second
    for data in rest:
        if data:
            yield data
