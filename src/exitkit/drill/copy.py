"""The copy phase: stream every planned object (or version) from source to target.

Objects are copied concurrently; the versions of one key are copied in order, oldest
first, by one worker. Memory per worker is bounded by about two upload parts.
"""

import base64
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from itertools import groupby
from typing import TYPE_CHECKING

from exitkit.drill.concurrency import map_bounded
from exitkit.drill.events import DrillObserver
from exitkit.drill.keys import KeyMap
from exitkit.errors import PermanentError, TransientError
from exitkit.evidence.record import KeyProblem
from exitkit.measure.timing import PhaseClock
from exitkit.providers.contract import Attributes, ObjectSource, ObjectTarget
from exitkit.providers.retry import with_retries
from exitkit.verify.digest import DigestingStream, is_plain_md5, multipart_parts
from exitkit.verify.classes import unrepresentable_reason
from exitkit.verify.entries import Entry
from exitkit.verify.properties import PropertyPlan

if TYPE_CHECKING:
    from exitkit.drill.restore import ArchivedObjects

PROBLEM_LIMIT = 1000


@dataclass(frozen=True)
class CopiedObject:
    """What was read from the source and written to the target for one version."""

    size: int
    sha256: str
    source_etag: str | None
    attributes: Attributes
    checksums: dict[str, str]
    parts: int
    target_key: str = ""
    target_version_id: str | None = None
    validated: bool = False  # the bytes read matched the source's ETag or SHA-256 checksum
    engine: str = "exitkit"  # what copied it; only exitkit's copy read what it records


@dataclass
class CopyOutcome:
    """The copy phase's results, keyed by (relative key, age).

    ``copied`` holds everything on the target (a drill keeps it in its on-disk journal),
    including what an interrupted run had copied and a resumed run found still in place:
    ``resumed``, the size of each of those by (relative key, age).
    """

    copied: MutableMapping[tuple[str, int], CopiedObject] = field(default_factory=dict)
    failures: list[KeyProblem] = field(default_factory=list)
    unrepresentable: dict[tuple[str, int], str] = field(default_factory=dict)
    failed: int = 0
    unreadable: dict[str, int] = field(default_factory=dict)
    resumed: dict[tuple[str, int], int] = field(default_factory=dict)
    problems: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)
    archived: "ArchivedObjects | None" = None

    def fail(self, entry: Entry, kind: str, reason: str) -> None:
        """Record that *entry* was not copied: its class (``failed`` or one of
        UNREADABLE_CLASSES) and the reason, which verification shows for it."""
        self.failed += 1
        self.problems[entry.order] = (kind, reason)
        if kind != "failed":
            self.unreadable[kind] = self.unreadable.get(kind, 0) + 1
        if len(self.failures) < PROBLEM_LIMIT:
            self.failures.append(KeyProblem(key=entry.label, reason=reason,
                                            kind=None if kind == "failed" else kind))

    def known_classes(self) -> dict[tuple[str, int], tuple[str, str]]:
        """(class, reason) of every entry the copy did not put on the target."""
        known = {order: ("unrepresentable", reason)
                 for order, reason in self.unrepresentable.items()}
        known.update(self.problems)
        return known

    @property
    def multipart_objects(self) -> int:
        """How many objects went up as multipart uploads."""
        return sum(1 for obj in self.copied.values() if obj.parts > 1)


def _expected_sha256(checksums: dict[str, str]) -> str | None:
    value = checksums.get("sha256")
    return base64.b64decode(value).hex() if value else None


def _expected_md5(etag: str | None, checksums: dict[str, str]) -> str | None:
    """The hex MD5 the source states: a plain-MD5 ETag (S3), else the Content-MD5 the
    provider stored with the object (Azure)."""
    if is_plain_md5(etag):
        return etag
    value = checksums.get("md5")
    return base64.b64decode(value).hex() if value else None


def copy_one(entry: Entry, source: ObjectSource, target: ObjectTarget,
             target_key: str, plan: PropertyPlan) -> CopiedObject:
    """Copy one object version, streaming; raises TransientError or PermanentError.

    The bytes are checked against the source's size, plain-MD5 ETag or stored Content-MD5,
    and SHA-256 checksum (when it gives them) before the write completes, and against its
    other full-object checksum after. The copy gets every property the target holds, mapped by *plan*
    (retention, legal hold, redirect, encryption, storage class, checksum algorithm).
    """
    info = entry.info
    with source.open(info.key, info.version_id) as stream:
        got = stream.info
        attributes = got.attributes or Attributes()
        if got.tag_count:  # read even when the target cannot hold tags: the loss is reported
            tags = source.tags(info.key, info.version_id)
            attributes = replace(attributes, tags=tags)
        wanted = replace(attributes, properties=plan.for_target(attributes.properties,
                                                                target.capabilities))
        expected_md5 = _expected_md5(got.etag, dict(got.checksums or {}))
        expected_sha256 = _expected_sha256(dict(got.checksums or {}))
        expected_multipart = None
        if not expected_sha256 and multipart_parts(got.etag):
            part_size = source.first_part_size(info.key, info.version_id)
            expected_multipart = (got.etag, part_size) if part_size else None
        digests = DigestingStream(stream.chunks, expected_size=got.size,
                                  expected_md5=expected_md5, expected_sha256=expected_sha256,
                                  expected_multipart=expected_multipart, label=f"GET {info.key}")
        result = target.put(target_key, iter(digests), got.size, wanted)
    if is_plain_md5(result.etag) and result.parts == 1 and result.etag != digests.md5.hexdigest():
        raise TransientError(f"PUT {target_key}: target stored different bytes (ETag mismatch)")
    source_sums = dict(got.checksums or {})
    checked = sorted(set(source_sums) & set(result.checksums))
    for algorithm in checked:
        if source_sums[algorithm] != result.checksums[algorithm]:
            raise TransientError(f"GET {info.key}: the bytes read differ from the source's "
                                 f"{algorithm.upper()} checksum")
    return CopiedObject(size=digests.size, sha256=digests.sha256.hexdigest(),
                          source_etag=got.etag, attributes=attributes,
                          checksums=dict(got.checksums or {}), parts=result.parts,
                          target_key=target_key, target_version_id=result.version_id,
                          validated=bool(expected_md5 or expected_sha256 or expected_multipart
                                         or checked))


def _groups(plan: Iterable[Entry]) -> Iterator[list[Entry]]:
    """Each key's versions, oldest first."""
    for _relative, versions in groupby(plan, key=lambda entry: entry.relative):
        yield sorted(versions, key=lambda entry: -entry.age)


def copy_phase(plan: Iterable[Entry], source: ObjectSource, target: ObjectTarget, keys: KeyMap,
               concurrency: int, max_retries: int, clock: PhaseClock,
               observer: DrillObserver, outcome: CopyOutcome,
               properties: PropertyPlan | None = None) -> CopyOutcome:
    """Copy every entry of *plan* into *outcome* (filled as objects complete, so it holds
    what was written even when the phase is interrupted); per-object failures are
    collected, not raised, each with its class. With ``outcome.archived``, keys with
    archived versions wait for their restores (see :mod:`exitkit.drill.restore`)."""
    properties = properties or PropertyPlan()

    def representable(groups: Iterable[list[Entry]]) -> Iterator[list[Entry]]:
        for versions in groups:
            target_key = keys.on_target(versions[0].relative)
            keep = []
            for entry in versions:
                reason = unrepresentable_reason(target_key, entry.age, target.capabilities)
                if reason is None:
                    keep.append(entry)
                else:
                    outcome.unrepresentable[entry.order] = reason
            if keep:
                yield keep

    def copy_versions(versions: list[Entry]) -> list[tuple[Entry, CopiedObject | Exception]]:
        results = []
        for entry in versions:
            target_key = keys.on_target(entry.relative)
            try:
                copied = with_retries(lambda: copy_one(entry, source, target, target_key,
                                                       properties),
                                         max_retries, clock.retried)
            except (TransientError, PermanentError) as exc:
                results.append((entry, exc))
                break  # later versions would be written out of order
            results.append((entry, copied))
        return results

    def copy_groups(groups: Iterable[list[Entry]]) -> None:
        for versions, results, error in map_bounded(copy_versions, groups, concurrency):
            if error is not None:
                raise error
            for entry, copied in results:
                if isinstance(copied, CopiedObject):
                    outcome.copied[entry.order] = copied
                    clock.add(1, copied.size)
                    observer.advanced("copy", 1, copied.size)
                    continue
                outcome.fail(entry, getattr(copied, "kind", "failed"), str(copied))
                observer.advanced("copy", 1, 0)
            for entry in versions[len(results):]:
                outcome.fail(entry, "failed", "not copied: an older version of this key "
                                              "failed to copy, and versions are written in order")
                observer.advanced("copy", 1, 0)

    archived = outcome.archived
    groups = representable(_groups(plan))
    copy_groups(archived.readable(groups) if archived else groups)
    if archived:
        archived.wait(copy_groups)
        for entry, kind, reason in archived.not_copied():
            outcome.fail(entry, kind, reason)
            observer.advanced("copy", 1, 0)
    return outcome


def still_in_place(plan: Iterable[Entry], journaled: Mapping[tuple[str, int], CopiedObject],
                   on_target: Iterable[Entry], versions: bool) -> dict[tuple[str, int], int]:
    """The journaled copies a resumed run need not repeat, with their sizes: the source
    version is the one that was copied (same ETag and size) and the target still lists it
    with that size (and, when *versions* are listed, the version that was written)."""
    unchanged = {}
    for entry in plan:
        copied = journaled.get(entry.order)
        if copied and copied.source_etag == entry.info.etag and copied.size == entry.info.size:
            unchanged[entry.order] = (copied.size,
                                      copied.target_version_id if versions else None)
    return {entry.order: entry.info.size for entry in on_target
            if unchanged.get(entry.order) == (entry.info.size,
                                              entry.info.version_id if versions else None)}
