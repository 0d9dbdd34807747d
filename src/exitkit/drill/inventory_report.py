"""S3 Inventory reports as a drill's listing source, instead of LIST.

A report is a ``manifest.json`` (AWS's documented format: ``sourceBucket``,
``destinationBucket``, ``creationTimestamp`` in epoch milliseconds, ``fileFormat`` CSV or
Parquet, ``fileSchema``, and ``files`` with each data file's ``key``, ``size`` and
``MD5checksum``) plus its data files in the destination bucket. CSV data files are
gzipped, have no header, and URL-encode object keys; Parquet files name their columns in
snake case (``key``, ``size``, ``e_tag`` ...) and keep keys as they are.

The manifest and data files are read through the source endpoint's read-only adapter
(same endpoint and credentials, the destination bucket). Each data file is downloaded to
a temporary file and checked against the manifest's size and MD5 before it is parsed, so
a damaged report fails the drill instead of shrinking its scope; Parquet is read with
pyarrow a batch at a time. Listings come out in key order (an external sort: reports are
not), so memory stays flat at any report size.
"""

import csv
import gzip
import hashlib
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import IO
from urllib.parse import unquote_plus, urlsplit

from exitkit.errors import EndpointError, PermanentError, SpecError, TransientError
from exitkit.providers.contract import Capabilities, ObjectInfo, ObjectSource
from exitkit.verify.ordering import sorted_by

#: Report columns exitkit reads, by their CSV (``fileSchema``) and Parquet names.
CSV_COLUMNS = {"Key": "key", "VersionId": "version_id", "IsLatest": "is_latest",
               "IsDeleteMarker": "is_delete_marker", "Size": "size",
               "LastModifiedDate": "last_modified", "ETag": "etag",
               "StorageClass": "storage_class"}
PARQUET_COLUMNS = {"key": "key", "version_id": "version_id", "is_latest": "is_latest",
                   "is_delete_marker": "is_delete_marker", "size": "size",
                   "last_modified_date": "last_modified", "e_tag": "etag",
                   "storage_class": "storage_class"}
FORMATS = ("CSV", "Parquet")
_BATCH = 10_000


@dataclass(frozen=True)
class ReportLocation:
    """Where a manifest lives: ``s3://bucket/key`` in the source's endpoint."""

    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> "ReportLocation":
        """Parse ``s3://bucket/path/manifest.json``; raises ValueError."""
        parts = urlsplit(uri)
        if parts.scheme != "s3" or not parts.netloc or not parts.path.strip("/"):
            raise ValueError("must be s3://<bucket>/<path>/manifest.json")
        return cls(parts.netloc, parts.path.lstrip("/"))

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class DataFile:
    """One data file the manifest lists."""

    key: str
    size: int
    md5: str


@dataclass(frozen=True)
class Manifest:
    """What ``manifest.json`` says of a report."""

    location: ReportLocation
    source_bucket: str
    destination_bucket: str
    created: datetime
    file_format: str
    columns: tuple[str, ...]
    files: tuple[DataFile, ...]

    @property
    def versioned(self) -> bool:
        """True when the report lists every version (it has a version id column)."""
        return "version_id" in self.columns


def _bucket_of(destination: str) -> str:
    """The bucket name of a manifest's ``destinationBucket`` (an ARN or a name)."""
    return destination.rsplit(":", 1)[-1]


def parse_manifest(text: str, location: ReportLocation) -> Manifest:
    """Validate ``manifest.json`` text; raises SpecError naming the manifest and field."""
    where = str(location)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(where, exc.lineno, None, f"not JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise SpecError(where, None, None, "not a JSON object")

    def field(name: str, kind: type):
        if not isinstance(value.get(name), kind):
            raise SpecError(where, None, name, f"missing or not a {kind.__name__}")
        return value[name]

    file_format = field("fileFormat", str)
    if file_format not in FORMATS:
        raise SpecError(where, None, "fileFormat",
                        f"{file_format!r} is not supported (use CSV or Parquet)")
    columns = _columns(field("fileSchema", str), file_format)
    for needed in ("key", "size"):
        if needed not in columns:
            raise SpecError(where, None, "fileSchema", f"the report has no {needed} column; "
                            f"configure the inventory with the Size field")
    try:
        created = datetime.fromtimestamp(int(field("creationTimestamp", str)) / 1000, UTC)
    except ValueError:
        raise SpecError(where, None, "creationTimestamp",
                        "not epoch milliseconds") from None
    files = []
    for index, entry in enumerate(field("files", list)):
        try:
            files.append(DataFile(key=entry["key"], size=int(entry["size"]),
                                  md5=entry["MD5checksum"].lower()))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise SpecError(where, None, f"files[{index}]",
                            "needs key, size and MD5checksum") from None
    return Manifest(location=location, source_bucket=field("sourceBucket", str),
                    destination_bucket=_bucket_of(field("destinationBucket", str)),
                    created=created, file_format=file_format, columns=columns,
                    files=tuple(files))


def _columns(schema: str, file_format: str) -> tuple[str, ...]:
    """Our names of the report's columns, in file order (None-named columns skipped)."""
    if file_format == "CSV":
        return tuple(CSV_COLUMNS.get(name.strip(), name.strip()) for name in schema.split(","))
    # Parquet: "message s3.inventory { required binary bucket (UTF8); optional int64 size; ...}"
    body = schema[schema.find("{") + 1:schema.rfind("}")]
    names = []
    for declaration in filter(None, (part.strip() for part in body.split(";"))):
        words = declaration.split("(")[0].split()
        if words:
            names.append(PARQUET_COLUMNS.get(words[-1], words[-1]))
    return tuple(names)


class InventoryReport:
    """A report read through *reader*, the source endpoint's adapter on the report's
    destination bucket. Call :meth:`infos` to stream its rows."""

    def __init__(self, location: ReportLocation, reader: ObjectSource) -> None:
        self.location, self._reader = location, reader

    @cached_property
    def manifest(self) -> Manifest:
        """The parsed manifest (read once); raises SpecError or EndpointError."""
        return parse_manifest(self._download_text(self.location.key), self.location)

    def _download_text(self, key: str) -> str:
        with tempfile.TemporaryFile() as handle:
            self._download(key, handle)
            handle.seek(0)
            return handle.read().decode("utf-8", errors="replace")

    def _download(self, key: str, handle: IO[bytes]) -> str:
        """Copy *key* into *handle*; the MD5 (hex) of what was written."""
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with self._reader.open(key) as stream:
                for chunk in stream.chunks:
                    digest.update(chunk)
                    handle.write(chunk)
        except (TransientError, PermanentError) as exc:
            raise EndpointError(f"inventory report s3://{self.location.bucket}/{key}",
                                str(exc)) from None
        return digest.hexdigest()

    def infos(self) -> Iterator[ObjectInfo]:
        """Every row of every data file as an ObjectInfo, in report order."""
        manifest = self.manifest
        for data in manifest.files:
            with tempfile.TemporaryFile(prefix="exitkit-inventory-") as handle:
                md5 = self._download(data.key, handle)
                size = handle.tell()
                if (md5, size) != (data.md5, data.size):
                    raise EndpointError(
                        f"inventory report s3://{self.location.bucket}/{data.key}",
                        f"damaged: {size} bytes with MD5 {md5}, the manifest says "
                        f"{data.size} bytes with MD5 {data.md5}")
                handle.seek(0)
                rows = (_csv_rows(handle, manifest.columns) if manifest.file_format == "CSV"
                        else _parquet_rows(handle))
                for number, row in enumerate(rows, start=1):
                    try:
                        yield _info(row)
                    except (KeyError, ValueError) as exc:
                        raise SpecError(f"s3://{self.location.bucket}/{data.key}", number,
                                        None, f"bad inventory row ({exc})") from None


def _csv_rows(handle: IO[bytes], columns: tuple[str, ...]) -> Iterator[dict]:
    with gzip.open(handle, "rt", encoding="utf-8", newline="") as text:
        for values in csv.reader(text):
            row = dict(zip(columns, values))
            row["key"] = unquote_plus(row["key"])
            yield row


def _parquet_rows(handle: IO[bytes]) -> Iterator[dict]:
    import pyarrow.parquet  # imported here: only Parquet reports need it

    table = pyarrow.parquet.ParquetFile(handle)
    names = [name for name in table.schema_arrow.names if name in PARQUET_COLUMNS]
    for batch in table.iter_batches(batch_size=_BATCH, columns=names):
        for row in batch.to_pylist():
            yield {PARQUET_COLUMNS[name]: value for name, value in row.items()}


def _flag(value) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() == "true"


def _timestamp(value) -> str | None:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return value or None


def _info(row: dict) -> ObjectInfo:
    """One report row as a listing's ObjectInfo; raises KeyError or ValueError."""
    deleted = _flag(row.get("is_delete_marker") or False)
    size = row.get("size")
    return ObjectInfo(
        key=row["key"], size=0 if deleted and size in (None, "") else int(size),
        etag=(row.get("etag") or None), last_modified=_timestamp(row.get("last_modified")),
        version_id=row.get("version_id") or ("null" if "version_id" in row else None),
        is_latest=_flag(row["is_latest"]) if row.get("is_latest") not in (None, "") else True,
        is_delete_marker=deleted, storage_class=row.get("storage_class") or "STANDARD")


def _version_order(info: ObjectInfo) -> tuple[str, bool, float]:
    """Key, then the current version first, then newest first."""
    moment = info.last_modified
    seconds = datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp() if moment else 0
    return info.key, not info.is_latest, -seconds


class ReportListing:
    """The listing side of a source, from an inventory report: ``list`` and
    ``list_versions`` as the adapter would answer them (in key order; versions of a key
    newest first), without a LIST request."""

    def __init__(self, report: InventoryReport, label: str,
                 capabilities: Capabilities) -> None:
        self.report, self.label = report, label
        self.capabilities = replace(capabilities, lists_in_key_order=True)

    def _under(self, prefix: str) -> Iterator[ObjectInfo]:
        return (info for info in self.report.infos() if info.key.startswith(prefix))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Current objects under *prefix*, in key order."""
        current = (info._replace(version_id=None) for info in self._under(prefix)
                   if info.is_latest and not info.is_delete_marker)
        return sorted_by(current, key=_key_of)

    def list_versions(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every version and delete marker under *prefix*; needs a report of all versions."""
        if not self.report.manifest.versioned:
            raise SpecError(str(self.report.location), None, "fileSchema",
                            "verification.versions: all needs a report of all versions "
                            "(IncludedObjectVersions: All)")
        return sorted_by(self._under(prefix), key=_version_order)


def _key_of(info: ObjectInfo) -> str:
    return info.key
