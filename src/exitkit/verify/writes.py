"""Whether a target listing still shows the write a HEAD read back.

The copy HEADs each object right after writing it (:func:`exitkit.drill.copy.read_back`);
verification reuses that HEAD instead of asking again while the target's listing shows
the same write: the same ETag, size, version, storage class and Last-Modified second.
S3 metadata, headers, encryption and checksums cannot change without a new write, and a
new write changes Last-Modified (and the version, where versioning is on); tags,
retention and legal holds can, so a read-back that shows them is never kept.
"""

from datetime import datetime

from exitkit.providers.contract import ObjectInfo


def same_write(head: ObjectInfo, listed: ObjectInfo) -> bool:
    """True when *listed* (a listing entry) shows the very write *head* describes; False
    when anything differs or cannot be compared (no Last-Modified on either side)."""
    if head.etag != listed.etag or head.size != listed.size:
        return False
    if listed.version_id is not None and head.version_id != listed.version_id:
        return False
    if (head.storage_class is not None and listed.storage_class is not None
            and head.storage_class != listed.storage_class):
        return False
    first, second = _second(head.last_modified), _second(listed.last_modified)
    return first is not None and first == second


def _second(value: str | None) -> int | None:
    """The Unix second an ISO 8601 timestamp names, or None when it is none."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return int(moment.timestamp())
