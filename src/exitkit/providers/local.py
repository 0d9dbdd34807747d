"""A directory on local disk as a drill target, on libcloud's local storage driver.

Gaps of libcloud's local driver fixed here: it writes straight to the final path, so a
partial object looks complete after a crash (this adapter writes to a temporary file
and renames it into place); it lists in directory order (the drill sorts); it reports an
mtime hash as the object hash (this adapter reports no etag, so content is proven by
digest); and it cannot hold content-type or user metadata (declared in capabilities).
"""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from libcloud.storage.drivers.local import LocalStorageDriver
from libcloud.storage.types import ContainerDoesNotExistError, ObjectDoesNotExistError

from exitkit.errors import EndpointError, PermanentError
from exitkit.measure.requests import RequestCounter
from exitkit.providers.contract import (Attributes, Capabilities, Conformance, ObjectInfo,
                                        ObjectStream, PutResult)
from exitkit.providers.plain_objects import PlainObjects

READ_CHUNK = 1024 * 1024
PARTIAL_DIR = ".exitkit-partial"
#: A directory holds bytes under path-like keys and nothing else: every other field keeps
#: its zero value (not held).
CAPABILITIES = Capabilities(max_key_bytes=4096, path_keys=True, max_segment_bytes=255)


class LocalSource(PlainObjects):
    """Read-only view of one directory ("bucket") below a base path."""

    def __init__(self, base_path: str, bucket: str) -> None:
        self.label = f"local:{base_path}/{bucket}"
        self.base_path = base_path
        self.bucket = bucket
        self.capabilities = CAPABILITIES
        self.requests = RequestCounter()

    @property
    def _driver(self) -> LocalStorageDriver:
        if not Path(self.base_path).is_dir():
            raise EndpointError(self.label, "base directory does not exist")
        return LocalStorageDriver(self.base_path)

    def _path(self, key: str) -> Path:
        return Path(self.base_path, self.bucket, key)

    def _info(self, key: str, path: Path) -> ObjectInfo:
        stat = path.stat()
        modified = datetime.fromtimestamp(stat.st_mtime, tz=UTC).isoformat()
        return ObjectInfo(key=key, size=stat.st_size, last_modified=modified,
                          attributes=Attributes(), tag_count=0)

    def check(self) -> None:
        """Raise EndpointError unless the bucket directory exists."""
        try:
            self._driver.get_container(self.bucket)
        except ContainerDoesNotExistError:
            raise EndpointError(self.label, "directory does not exist") from None

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield every file under *prefix* (directory order, not key order)."""
        container = self._driver.get_container(self.bucket)
        for obj in self._driver.iterate_container_objects(container, prefix=prefix or None):
            if obj.name.startswith(PARTIAL_DIR + "/"):
                continue
            yield self._info(obj.name, self._path(obj.name))

    def list_versions(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """A directory keeps one version per key: the same as :meth:`list`."""
        return self.list(prefix)

    def head(self, key: str, version_id: str | None = None) -> ObjectInfo | None:
        """Return the info of *key*, or None when the file is missing."""
        path = self._path(key)
        return self._info(key, path) if path.is_file() else None

    @contextmanager
    def open(self, key: str, version_id: str | None = None) -> Iterator[ObjectStream]:
        """Stream the file behind *key* in 1 MiB chunks."""
        path = self._path(key)
        if not path.is_file():
            raise PermanentError(f"open {key}: object does not exist")
        with path.open("rb") as handle:
            yield ObjectStream(self._info(key, path), iter(lambda: handle.read(READ_CHUNK), b""))


class LocalStore(LocalSource):
    """A writable directory target: source view plus put and remove."""

    #: How a directory keeps providers/contract.py (checked by tests/test_contract.py).
    conformance = {"local": Conformance({
        "max_key_bytes": "the probe tries keys of at most 1,024 bytes; a path holds 4,096",
        "storage_classes": "the probe counts STANDARD as held by every store; a directory "
                           "has no classes"})}

    def prepare(self, create: bool, versioned: bool = False, object_lock: bool = False) -> None:
        """Make sure the bucket directory exists; create it when *create* is true.

        A directory cannot keep versions or locks; callers check its capabilities.
        """
        if create:
            Path(self.base_path).mkdir(parents=True, exist_ok=True)
        try:
            self._driver.get_container(self.bucket)
        except ContainerDoesNotExistError:
            if not create:
                raise EndpointError(self.label, "directory does not exist") from None
            self._driver.create_container(self.bucket)

    def put(self, key: str, chunks: Iterator[bytes], size: int,
            attributes: Attributes) -> PutResult:
        """Write to a temporary file, fsync it, then rename it to *key*."""
        partial_dir = Path(self.base_path, self.bucket, PARTIAL_DIR)
        partial_dir.mkdir(parents=True, exist_ok=True)
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with tempfile.NamedTemporaryFile(dir=partial_dir, delete=False) as handle:
            try:
                for chunk in chunks:
                    handle.write(chunk)
                    written += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            except BaseException:
                handle.close()
                os.unlink(handle.name)
                raise
        os.replace(handle.name, final)
        return PutResult(key=key, size=written, etag=None)

    def remove(self, key: str, version_id: str | None = None) -> None:
        """Delete the file behind *key*; a missing key is not an error."""
        try:
            obj = self._driver.get_object(self.bucket, key)
        except ObjectDoesNotExistError:
            return
        self._driver.delete_object(obj)
