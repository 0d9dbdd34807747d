"""Object properties with legal or operational weight beyond bytes and metadata.

S3 reports them as response headers on HEAD and GET, and takes them as request headers on
PUT and CreateMultipartUpload: Object Lock retention (mode and retain-until date), legal
hold, website redirect, server-side encryption (with the KMS key id), storage class and
the additional checksum's algorithm and type (full-object or composite).
"""

from collections.abc import Mapping
from dataclasses import dataclass

LOCK_MODE = "x-amz-object-lock-mode"
RETAIN_UNTIL = "x-amz-object-lock-retain-until-date"
LEGAL_HOLD = "x-amz-object-lock-legal-hold"
REDIRECT = "x-amz-website-redirect-location"
SSE = "x-amz-server-side-encryption"
SSE_KMS_KEY = "x-amz-server-side-encryption-aws-kms-key-id"
SSE_C = "x-amz-server-side-encryption-customer-algorithm"
STORAGE_CLASS = "x-amz-storage-class"
CHECKSUM_TYPE = "x-amz-checksum-type"
CHECKSUM_PREFIX = "x-amz-checksum-"
#: The additional checksum algorithms S3 defines, by their header suffix.
CHECKSUM_ALGORITHMS = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")
#: Algorithms a multipart upload can carry as one full-object checksum (the CRCs combine).
FULL_OBJECT_MULTIPART = ("crc32", "crc32c", "crc64nvme")
#: The storage class an object has when S3 names none.
DEFAULT_STORAGE_CLASS = "STANDARD"


@dataclass(frozen=True)
class ObjectProperties:
    """What one object version holds beyond bytes and metadata; the defaults mean "none".

    ``encryption`` is ``none``, ``AES256`` (SSE-S3), ``aws:kms``, ``aws:kms:dsse`` or
    ``SSE-C``; ``checksum_type`` is ``FULL_OBJECT`` or ``COMPOSITE`` when
    ``checksum_algorithm`` is set.
    """

    lock_mode: str | None = None
    retain_until: str | None = None
    legal_hold: bool = False
    redirect: str | None = None
    encryption: str = "none"
    kms_key_id: str | None = None
    storage_class: str = DEFAULT_STORAGE_CLASS
    checksum_algorithm: str | None = None
    checksum_type: str | None = None


NO_PROPERTIES = ObjectProperties()


def checksum_type_of(headers: Mapping[str, str], etag: str | None) -> str:
    """FULL_OBJECT or COMPOSITE. Without ``x-amz-checksum-type`` (stores that predate it,
    moto) a multipart object's checksum is composite, as S3's always were before 2025."""
    stated = headers.get(CHECKSUM_TYPE)
    if stated:
        return stated.upper()
    multipart = bool(etag) and "-" in etag.strip('"')
    return "COMPOSITE" if multipart else "FULL_OBJECT"


def properties_from_headers(headers: Mapping[str, str], etag: str | None) -> ObjectProperties:
    """The properties a HEAD or GET response states (lower-case header names)."""
    algorithm = next((name for name in CHECKSUM_ALGORITHMS
                      if f"{CHECKSUM_PREFIX}{name}" in headers), None)
    encryption = headers.get(SSE) or ("SSE-C" if SSE_C in headers else "none")
    properties = ObjectProperties(
        lock_mode=(headers.get(LOCK_MODE) or "").upper() or None,
        retain_until=headers.get(RETAIN_UNTIL) or None,
        legal_hold=(headers.get(LEGAL_HOLD) or "").upper() == "ON",
        redirect=headers.get(REDIRECT) or None,
        encryption=encryption,
        kms_key_id=headers.get(SSE_KMS_KEY) if encryption.startswith("aws:kms") else None,
        storage_class=(headers.get(STORAGE_CLASS) or DEFAULT_STORAGE_CLASS).upper(),
        checksum_algorithm=algorithm,
        checksum_type=checksum_type_of(headers, etag) if algorithm else None)
    return NO_PROPERTIES if properties == NO_PROPERTIES else properties


def write_headers(properties: ObjectProperties) -> dict[str, str]:
    """The request headers that give a new object *properties* (checksums excepted: the
    writer computes those from the bytes)."""
    headers = {}
    if properties.lock_mode and properties.retain_until:
        headers[LOCK_MODE] = properties.lock_mode
        headers[RETAIN_UNTIL] = properties.retain_until
    if properties.legal_hold:
        headers[LEGAL_HOLD] = "ON"
    if properties.redirect:
        headers[REDIRECT] = properties.redirect
    if properties.encryption in ("AES256", "aws:kms", "aws:kms:dsse"):
        headers[SSE] = properties.encryption
        if properties.kms_key_id and properties.encryption != "AES256":
            headers[SSE_KMS_KEY] = properties.kms_key_id
    if properties.storage_class != DEFAULT_STORAGE_CLASS:
        headers[STORAGE_CLASS] = properties.storage_class
    return headers
