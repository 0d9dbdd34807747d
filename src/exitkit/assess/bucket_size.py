"""How many objects and bytes a bucket holds, per storage class, and how that was found.

Three ways, in this order of preference:

* an **inventory report** (S3 Inventory, CSV): when the bucket has an enabled inventory
  configuration and a report was delivered, its latest ``manifest.json`` and data files
  are read (streamed, gzip) and summed. Exact as of the report's date.
* a **listing** (ListObjectsV2, or ListObjectVersions on a versioned bucket, where every
  version is counted): exact when it finishes; memory stays bounded (only sums are kept).
* a **sample** (``--quick``): the first page of the listing only (1,000 keys in key
  order); when the bucket holds more, objects and bytes are lower bounds.
"""

import csv
import gzip
import json
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from exitkit.assess.model import SizeMeasure, StorageClassSize
from exitkit.errors import EndpointError

SAMPLE_KEYS = 1000


@dataclass
class BucketSize:
    """What a bucket holds and how it was measured."""

    measure: SizeMeasure
    storage_classes: dict[str, StorageClassSize] = field(default_factory=dict)
    noncurrent_versions: int = 0


def _add(classes: dict[str, list[int]], storage_class: str | None, size: int) -> None:
    totals = classes.setdefault(storage_class or "STANDARD", [0, 0])
    totals[0] += 1
    totals[1] += size


def _classes(classes: dict[str, list[int]]) -> dict[str, StorageClassSize]:
    return {name: StorageClassSize(objects=count, bytes=size)
            for name, (count, size) in sorted(classes.items())}


def measure_bucket(s3, bucket: str, versioned: bool, quick: bool) -> BucketSize:
    """Size *bucket* by inventory report if one was delivered, else by listing (a sample
    with *quick*). Raises EndpointError when the bucket cannot be listed."""
    try:
        report = _latest_inventory_manifest(s3, bucket)
        if report is not None:
            return _from_inventory(s3, *report)
        return _from_listing(s3, bucket, versioned, quick)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise EndpointError(f"s3://{bucket}", f"cannot be listed ({code})") from None
    except BotoCoreError as exc:
        raise EndpointError(f"s3://{bucket}", f"cannot be listed ({type(exc).__name__})") \
            from None


def _from_listing(s3, bucket: str, versioned: bool, quick: bool) -> BucketSize:
    classes: dict[str, list[int]] = {}
    noncurrent, truncated = 0, False
    operation, entries = (("list_object_versions", "Versions") if versioned
                          else ("list_objects_v2", "Contents"))
    pages = s3.get_paginator(operation).paginate(Bucket=bucket,
                                                 PaginationConfig={"PageSize": SAMPLE_KEYS})
    for page in pages:
        for entry in page.get(entries, []):
            _add(classes, entry.get("StorageClass"), entry.get("Size", 0))
            noncurrent += versioned and not entry.get("IsLatest", True)
        if quick and page.get("IsTruncated"):
            truncated = True
            break
    objects = sum(count for count, _ in classes.values())
    size = sum(total for _, total in classes.values())
    what = "every version" if versioned else "every current object"
    if truncated:
        measure = SizeMeasure(objects=objects, bytes=size, method="sample", exact=False,
                              caveat=f"--quick: the first {SAMPLE_KEYS:,} keys of the listing "
                                     f"only; the bucket holds more, so objects and bytes are "
                                     f"lower bounds")
    else:
        measure = SizeMeasure(objects=objects, bytes=size, method="listing", exact=True,
                              caveat=f"{what} listed at assessment time"
                                     + (f" ({noncurrent} noncurrent)" if versioned else "")
                                     + "; incomplete multipart uploads are not counted")
    return BucketSize(measure, _classes(classes), noncurrent)


def _latest_inventory_manifest(s3, bucket: str) -> tuple[str, str, dict] | None:
    """(destination bucket, manifest key, manifest) of the newest CSV inventory report of
    *bucket*, or None when it has no enabled CSV inventory with a delivered report."""
    try:
        configs = s3.list_bucket_inventory_configurations(Bucket=bucket).get(
            "InventoryConfigurationList", [])
    except ClientError:
        return None
    for config in configs:
        destination = config.get("Destination", {}).get("S3BucketDestination", {})
        if not config.get("IsEnabled") or destination.get("Format") != "CSV":
            continue
        target = destination.get("Bucket", "").removeprefix("arn:aws:s3:::")
        prefix = "/".join(filter(None, [destination.get("Prefix", "").strip("/"), bucket,
                                        config.get("Id", "")])) + "/"
        manifests = [entry["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
                     Bucket=target, Prefix=prefix) for entry in page.get("Contents", [])
                     if entry["Key"].endswith("/manifest.json")]
        if manifests:
            key = max(manifests)  # the folders are named by delivery time, YYYY-MM-DDTHH-MMZ
            body = s3.get_object(Bucket=target, Key=key)["Body"].read()
            return target, key, json.loads(body)
    return None


def _from_inventory(s3, target: str, manifest_key: str, manifest: dict) -> BucketSize:
    columns = [name.strip() for name in manifest.get("fileSchema", "").split(",")]
    if "Size" not in columns:
        raise EndpointError(f"s3://{target}/{manifest_key}", "inventory report has no Size "
                                                             "column")
    size_at = columns.index("Size")
    class_at = columns.index("StorageClass") if "StorageClass" in columns else None
    latest_at = columns.index("IsLatest") if "IsLatest" in columns else None
    classes: dict[str, list[int]] = {}
    noncurrent = 0
    for data_file in manifest.get("files", []):
        body = s3.get_object(Bucket=target, Key=data_file["key"])["Body"]
        with gzip.open(body, "rt", encoding="utf-8", newline="") as rows:
            for row in csv.reader(rows):
                _add(classes, row[class_at] if class_at is not None else None,
                     int(row[size_at] or 0))
                noncurrent += latest_at is not None and row[latest_at] == "false"
    taken = manifest_key.rsplit("/", 2)[-2]
    measure = SizeMeasure(
        objects=sum(count for count, _ in classes.values()),
        bytes=sum(total for _, total in classes.values()), method="inventory report",
        exact=False, caveat=f"S3 Inventory report of {taken} (s3://{target}/{manifest_key}): "
                            f"objects written or deleted since are not counted")
    return BucketSize(measure, _classes(classes), noncurrent)

