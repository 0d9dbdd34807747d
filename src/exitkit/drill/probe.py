"""``exitkit probe``: measure what a target holds instead of believing its profile.

Writes small test objects under a scratch prefix (``<target prefix>exitkit-probe-<id>/``),
reads each back with HEAD, GET and listings, then deletes every version it wrote and
proves by listing that none is left. Object Lock is probed with GOVERNANCE retention of
one day, deleted with the governance bypass; a legal hold is released before deletion.
A property counts as held only when it reads back as written (and, for retention, when
the store also refuses to delete the locked version without the bypass).
"""

import hashlib
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta

from pydantic import Field

from exitkit.errors import EndpointError, PermanentError, TransientError
from exitkit.evidence.record_base import Model
from exitkit.providers.checksums import checksum_of
from exitkit.providers.contract import Attributes, Capabilities, ObjectTarget
from exitkit.providers.measured import capabilities_to_json
from exitkit.providers.properties import CHECKSUM_ALGORITHMS, ObjectProperties

PROBE_CLASSES = ("STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR",
                 "REDUCED_REDUNDANCY")
KEY_LENGTHS = (1024, 512, 255)
BODY = b"exitkit probe object\n"


class ProbeCheck(Model):
    """One measurement: what was written, whether it read back, and what was seen."""

    name: str
    held: bool
    detail: str


class ProbeDifference(Model):
    """A capability where the measurement and the provider profile disagree."""

    capability: str
    profile: object
    measured: object


class ProbeReport(Model):
    """The measured capability table of one target, saved for drills to use."""

    target: str
    measured_at: datetime
    prefix: str
    capabilities: dict = Field(description="every Capabilities field, as measured")
    checks: list[ProbeCheck]
    differences_from_profile: list[ProbeDifference]
    deleted_versions: int
    remaining_after_cleanup: int = Field(description="probe objects still listed (0 = proven "
                                                     "clean)")


class _Probe:
    def __init__(self, target: ObjectTarget, prefix: str) -> None:
        self.target, self.prefix = target, prefix
        self.checks: list[ProbeCheck] = []
        self.written: list[str] = []

    def put(self, name: str, body: bytes = BODY, **attributes) -> str | None:
        """Write one probe object; its version id, '' without one, None when refused."""
        key = self.prefix + name
        self.written.append(key)
        try:
            result = self.target.put(key, iter([body]), len(body), Attributes(**attributes))
        except (TransientError, PermanentError):
            return None
        return result.version_id or ""

    def head(self, name: str):
        try:
            return self.target.head(self.prefix + name)
        except (TransientError, PermanentError):
            return None

    def check(self, name: str, held: bool, detail: str) -> bool:
        self.checks.append(ProbeCheck(name=name, held=held, detail=detail))
        return held


def _attribute_checks(probe: _Probe) -> dict[str, object]:
    found: dict[str, object] = {}
    metadata = {"mixed-case": "Mixed Case Value", "owner": "exitkit"}
    headers = {"cache-control": "max-age=60", "content-disposition": "attachment",
               "content-language": "nl", "content-encoding": "gzip",
               "expires": "Thu, 01 Jan 2037 00:00:00 GMT"}
    probe.put("meta", metadata={"Mixed-Case": metadata["mixed-case"], "owner": metadata["owner"]},
              content_type="text/x-exitkit-probe; charset=utf-8", headers=headers)
    head = probe.head("meta")
    attributes = head.attributes if head and head.attributes else Attributes()
    seen = {name.lower(): value for name, value in attributes.metadata.items()}
    found["user_metadata"] = probe.check("user_metadata", seen == metadata,
                                         f"mixed-case metadata read back as {seen}")
    found["content_type"] = probe.check(
        "content_type", attributes.content_type == "text/x-exitkit-probe; charset=utf-8",
        f"read back {attributes.content_type!r}")
    found["system_headers"] = probe.check(
        "system_headers", dict(attributes.headers) == headers,
        f"read back {dict(attributes.headers)}")
    unicode = {"city": "Zürich"}
    written = probe.put("meta-unicode", metadata=unicode) is not None
    head = probe.head("meta-unicode") if written else None
    seen = dict(head.attributes.metadata) if head and head.attributes else {}
    probe.check("unicode_metadata", seen == unicode,
                f"write {'accepted' if written else 'refused'}, read back {seen}")
    probe.put("tagged", tags={"probe": "ja", "Case": "Mixed"})
    try:
        tags = probe.target.tags(probe.prefix + "tagged")
    except (TransientError, PermanentError) as exc:
        tags = {"error": str(exc)}
    found["tags"] = probe.check("tags", tags == {"probe": "ja", "Case": "Mixed"},
                                f"read back {tags}")
    return found


def _key_checks(probe: _Probe, profile: Capabilities) -> dict[str, object]:
    found: dict[str, object] = {}
    longest = 0
    for length in KEY_LENGTHS:
        room = length - len(probe.prefix.encode())
        segments = ["k" * 200] * (room // 201) + ["k" * max(room - 201 * (room // 201), 1)]
        name = "/".join(segments)[:room]
        if probe.put(name) is not None and probe.head(name) is not None:
            longest = length
            break
    probe.check("max_key_bytes", longest > 0, f"longest key written and read back: {longest} "
                                              f"bytes (tried {', '.join(map(str, KEY_LENGTHS))})")
    found["max_key_bytes"] = longest
    long_segment = probe.put("s" * 255) is not None and probe.head("s" * 255) is not None
    segment_limit = 255 if long_segment else 0
    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    probe.put(f"twin-{nfc}", b"nfc")
    probe.put(f"twin-{nfd}", b"nfd")
    probe.put("dir/", b"")
    probe.put("a//b")
    listed = [info.key[len(probe.prefix):] for info in probe.target.list(probe.prefix)]
    twins = {f"twin-{nfc}", f"twin-{nfd}"} <= set(listed)
    probe.check("nfc_nfd_twins", twins, "both normalisations of 'café' listed as two keys"
                if twins else "the NFC and NFD keys collapsed into one")
    found["directory_markers"] = probe.check("directory_markers", "dir/" in listed,
                                             "folder marker 'dir/' listed" if "dir/" in listed
                                             else "folder marker not listed")
    flat = "a//b" in listed
    probe.check("flat_keys", flat, "'a//b' kept as written" if flat
                else "'a//b' rewritten or refused: keys are paths")
    found["path_keys"] = not flat
    found["max_segment_bytes"] = 0 if flat else segment_limit
    in_order = listed == sorted(listed, key=str.encode)
    found["lists_in_key_order"] = probe.check(
        "lists_in_key_order", in_order and profile.lists_in_key_order,
        ("listed in UTF-8 byte order; a small listing cannot prove order, so the "
         f"profile's claim ({profile.lists_in_key_order}) is kept") if in_order
        else "listing not in key order")
    return found


def _property_checks(probe: _Probe, kms_key_id: str | None) -> dict[str, object]:
    found: dict[str, object] = {}
    until = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    version = probe.put("locked", properties=ObjectProperties(lock_mode="GOVERNANCE",
                                                              retain_until=until))
    head = probe.head("locked")
    props = head.attributes.properties if head and head.attributes else ObjectProperties()
    refused = False
    if props.lock_mode == "GOVERNANCE" and version:
        try:
            probe.target.remove(probe.prefix + "locked", version)
        except (TransientError, PermanentError):
            refused = True
    found["object_lock"] = probe.check(
        "object_lock", props.lock_mode == "GOVERNANCE" and refused,
        f"GOVERNANCE until {until} (one day): read back {props.lock_mode or 'none'}, "
        f"deletion without bypass {'refused' if refused else 'allowed'}")
    probe.put("held", properties=ObjectProperties(legal_hold=True))
    head = probe.head("held")
    held = bool(head and head.attributes and head.attributes.properties.legal_hold)
    found["legal_hold"] = probe.check("legal_hold", held, "legal hold ON read back" if held
                                      else "legal hold not kept")
    probe.put("redirect", properties=ObjectProperties(redirect="/exitkit/probe.html"))
    head = probe.head("redirect")
    redirect = head.attributes.properties.redirect if head and head.attributes else None
    found["website_redirect"] = probe.check("website_redirect", redirect == "/exitkit/probe.html",
                                            f"read back {redirect!r}")
    for name, wanted in (("sse_s3", ObjectProperties(encryption="AES256")),
                         ("sse_kms", ObjectProperties(encryption="aws:kms",
                                                      kms_key_id=kms_key_id))):
        if name == "sse_kms" and not kms_key_id:
            found[name] = probe.check(name, False, "not measured: needs target.encryption "
                                                   "with a kms_key_id")
            continue
        written = probe.put(name, properties=wanted) is not None
        head = probe.head(name) if written else None
        seen = head.attributes.properties.encryption if head and head.attributes else "none"
        found[name] = probe.check(name, seen == wanted.encryption,
                                  f"write {'accepted' if written else 'refused'}, read back "
                                  f"{seen}")
    classes = {"STANDARD"}
    for storage_class in PROBE_CLASSES:
        probe.put(f"class-{storage_class}",
                  properties=ObjectProperties(storage_class=storage_class))
        head = probe.head(f"class-{storage_class}")
        if head and head.attributes and head.attributes.properties.storage_class == storage_class:
            classes.add(storage_class)
    found["storage_classes"] = frozenset(classes)
    probe.check("storage_classes", True, f"held: {', '.join(sorted(classes))}")
    algorithms = set()
    for algorithm in CHECKSUM_ALGORITHMS:
        probe.put(f"checksum-{algorithm}", properties=ObjectProperties(
            checksum_algorithm=algorithm, checksum_type="FULL_OBJECT"))
        head = probe.head(f"checksum-{algorithm}")
        if head and (head.checksums or {}).get(algorithm) == checksum_of(algorithm, BODY):
            algorithms.add(algorithm)
    found["additional_checksums"] = frozenset(algorithms)
    probe.check("additional_checksums", bool(algorithms),
                f"held: {', '.join(sorted(algorithms)) or 'none'}")
    probe.put("versioned", b"one")
    probe.put("versioned", b"two")
    versions = [info for info in probe.target.list_versions(probe.prefix + "versioned")
                if info.key == probe.prefix + "versioned" and not info.is_delete_marker]
    found["versioning"] = probe.check("versioning", len(versions) == 2,
                                      f"{len(versions)} versions listed after two writes")
    return found


def _cleanup(probe: _Probe) -> tuple[int, int]:
    """Delete every probe version (releasing holds, bypassing governance); count what is
    left by listing."""
    target, deleted = probe.target, 0
    release: Callable | None = getattr(target, "release_legal_hold", None)
    for info in list(target.list_versions(probe.prefix)):
        version = None if info.version_id in (None, "null") else info.version_id
        try:
            if release and info.key == probe.prefix + "held" and not info.is_delete_marker:
                release(info.key, version)
            if release:  # an S3 store: bypass the probe's own GOVERNANCE retention
                target.remove(info.key, version, bypass_governance=True)
            else:
                target.remove(info.key, version)
            deleted += 1
        except (TransientError, PermanentError):
            continue
    remaining = sum(1 for _ in target.list_versions(probe.prefix))
    return deleted, remaining


def run_probe(target: ObjectTarget, label: str, target_prefix: str, profile: Capabilities,
              kms_key_id: str | None = None) -> ProbeReport:
    """Measure *target* under a fresh scratch prefix and clean up after itself."""
    prefix = f"{target_prefix}exitkit-probe-{uuid.uuid4().hex[:8]}/"
    probe = _Probe(target, prefix)
    try:
        check = probe.put("bytes")
        with target.open(prefix + "bytes") as stream:
            digest = hashlib.sha256(b"".join(stream.chunks)).digest()
        probe.check("bytes", check is not None and digest == hashlib.sha256(BODY).digest(),
                    "written and read back byte for byte")
        found = {**_attribute_checks(probe), **_key_checks(probe, profile),
                 **_property_checks(probe, kms_key_id)}
    except (TransientError, PermanentError) as exc:
        raise EndpointError(label, f"probe: {exc}") from None
    finally:
        deleted, remaining = _cleanup(probe)
    measured = replace(Capabilities(), **found)
    differences = [ProbeDifference(capability=item.name,
                                   profile=_plain(getattr(profile, item.name)),
                                   measured=_plain(getattr(measured, item.name)))
                   for item in fields(Capabilities)
                   if getattr(profile, item.name) != getattr(measured, item.name)]
    return ProbeReport(target=label, measured_at=datetime.now(UTC), prefix=prefix,
                       capabilities=capabilities_to_json(measured), checks=probe.checks,
                       differences_from_profile=differences, deleted_versions=deleted,
                       remaining_after_cleanup=remaining)


def _plain(value: object) -> object:
    return sorted(value) if isinstance(value, frozenset) else value
