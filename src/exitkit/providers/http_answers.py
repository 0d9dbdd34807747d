"""Readers of HTTP answers shared by the adapters that speak a store's REST API
(S3, Azure Blob Storage, rclone's remote-control daemon): dates, ETags, XML elements and
bodies streamed as stored."""

from collections.abc import Iterator
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from exitkit.measure.requests import RequestCounter
from exitkit.providers.failures import classify

READ_CHUNK = 1024 * 1024


_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


def http_date(value: str | None) -> str | None:
    """An HTTP date as ISO 8601; a value that is no HTTP date is returned as given. The
    form servers send (IMF-fixdate, ``Sun, 06 Nov 1994 08:49:37 GMT``) is read directly,
    the obsolete ones with the ``email`` package."""
    if not value:
        return None
    parts = value.split()
    if len(parts) == 6 and parts[5] == "GMT" and parts[2] in _MONTHS:
        try:
            hour, minute, second = parts[4].split(":")
            return datetime(int(parts[3]), _MONTHS[parts[2]], int(parts[1]), int(hour),
                            int(minute), int(second), tzinfo=timezone.utc).isoformat()
        except ValueError:
            pass
    try:
        return parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError):
        return value


def plain_etag(value: str | None) -> str | None:
    """An ETag without its quotes."""
    return value.strip('"') if value else None


def local_name(tag: str) -> str:
    """An XML element's tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


def child_texts(element) -> dict[str, str]:
    """The text of each child of *element* by its name (any namespace; the first child of
    each name), read in one pass."""
    texts: dict[str, str] = {}
    for child in element:
        texts.setdefault(local_name(child.tag), child.text or "")
    return texts


def child_text(element, name: str) -> str | None:
    """The text of *element*'s first child named *name* (any namespace), or None."""
    for child in element:
        if local_name(child.tag) == name:
            return child.text or ""
    return None


def stored_chunks(raw, key: str, requests: RequestCounter) -> Iterator[bytes]:
    """The body of *raw* as stored, counting its bytes: *raw* is urllib3's response or an
    S3 :class:`~exitkit.providers.s3_transport.Answer`, told not to decode Content-Encoding
    (requests' ``iter_content`` would gunzip or inflate it, changing bytes and length). A broken stream raises the classified error of GET *key*."""
    try:
        for chunk in raw.stream(READ_CHUNK, decode_content=False):
            requests.add_bytes(len(chunk))
            yield chunk
    except Exception as exc:
        raise classify(exc, f"GET {key}") from None
