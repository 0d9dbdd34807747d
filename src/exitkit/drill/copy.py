"""The copy phase: stream every planned object (or version) from source to target.

Objects are copied concurrently; the versions of one key are copied in order, oldest
first, by one worker. Memory per worker is bounded by about two upload parts.
"""

import base64
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from itertools import groupby
from typing import TYPE_CHECKING

from exitkit.concurrency import map_bounded
from exitkit.drill.events import DrillObserver
from exitkit.drill.keys import KeyMap
from exitkit.errors import PermanentError, TransientError
from exitkit.evidence.record import KeyProblem
from exitkit.measure.timing import PhaseClock
from exitkit.providers.contract import Attributes, ObjectInfo, ObjectSource, ObjectTarget
from exitkit.providers.retry import with_retries
from exitkit.verify.digest import DigestingStream, is_plain_md5, multipart_parts
from exitkit.verify.classes import unrepresentable_reason
from exitkit.verify.entries import Entry
from exitkit.verify.properties import PropertyPlan

if TYPE_CHECKING:
    from exitkit.drill.census import Census
    from exitkit.drill.restore import ArchivedObjects

PROBLEM_LIMIT = 1000
#: The engine of a version an interrupted run wrote but did not journal (see
#: :func:`still_in_place`).
UNJOURNALED = "unjournaled"


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
    #: What copied it; only exitkit's copy read what it records (a version a resumed run
    #: found on the target unjournaled is :data:`UNJOURNALED`: its size and ids only).
    engine: str = "exitkit"
    #: The target's multipart ETag when it equals the one predicted from the MD5s of the
    #: parts the copy sent (so it names exactly the bytes read and hashed), else None.
    target_etag: str | None = None
    #: The target's HEAD right after the write, when it showed nothing that can change
    #: without a new write (see :func:`read_back`), else None.
    read_back: ObjectInfo | None = None
    #: The version id of the delete marker written after this version, as on the source
    #: (``deleted_after``), where the target gave one.
    marker_version_id: str | None = None


@dataclass
class CopyOutcome:
    """The copy phase's results, keyed by (relative key, age).

    ``copied`` holds everything on the target (a drill keeps it in its on-disk journal),
    including what an interrupted run had copied and a resumed run found still in place:
    ``resumed``, the size of each of those by (relative key, age). A drill passes
    disk-backed mappings (:class:`exitkit.drill.spill.SpillMap`) for the per-object ones.
    With a ``census``, every object copied is counted there from its GET's headers.
    """

    copied: MutableMapping[tuple[str, int], CopiedObject] = field(default_factory=dict)
    failures: list[KeyProblem] = field(default_factory=list)
    unrepresentable: MutableMapping[tuple[str, int], str] = field(default_factory=dict)
    failed: int = 0
    unreadable: dict[str, int] = field(default_factory=dict)
    resumed: MutableMapping[tuple[str, int], int] = field(default_factory=dict)
    problems: MutableMapping[tuple[str, int], tuple[str, str]] = field(default_factory=dict)
    archived: "ArchivedObjects | None" = None
    census: "Census | None" = None

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

    def known_classes(self) -> Mapping[tuple[str, int], tuple[str, str]]:
        """(class, reason) of every entry the copy did not put on the target: a view
        over ``problems`` and ``unrepresentable``, which may live on disk."""
        return KnownClasses(self.problems, self.unrepresentable)


class KnownClasses(Mapping[tuple[str, int], tuple[str, str]]):
    """(class, reason) by (relative key, age): the copy's problems, else ``unrepresentable``
    with the reason the target cannot hold the key."""

    def __init__(self, problems: Mapping[tuple[str, int], tuple[str, str]],
                 unrepresentable: Mapping[tuple[str, int], str]) -> None:
        self._problems, self._unrepresentable = problems, unrepresentable

    def __getitem__(self, order: tuple[str, int]) -> tuple[str, str]:
        found = self._problems.get(order)
        if found is not None:
            return found
        return "unrepresentable", self._unrepresentable[order]

    def __iter__(self) -> Iterator[tuple[str, int]]:
        yield from self._problems
        yield from (order for order in self._unrepresentable if order not in self._problems)

    def __len__(self) -> int:
        return sum(1 for _order in self)


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
             target_key: str, plan: PropertyPlan,
             on_read: Callable[[ObjectInfo], None] | None = None,
             reads_back: bool = False,
             transfer: AbstractContextManager = nullcontext()) -> CopiedObject:
    """Copy one object version, streaming; raises TransientError or PermanentError.

    The bytes are checked against the source's size, plain-MD5 ETag or stored Content-MD5,
    and SHA-256 checksum (when it gives them) before the write completes, and against its
    other full-object checksum after. The copy gets every property the target holds,
    mapped by *plan* (retention, legal hold, redirect, encryption, storage class, checksum
    algorithm).
    Once the copy succeeded, *on_read* gets what the GET's headers said of the object (the
    same a HEAD says, so the property census needs no HEAD of its own). With *reads_back*,
    the target is HEADed right after the write (:func:`read_back`). *transfer* is held
    from the GET to the end of the write, not during the read-back: the copy phase's
    bound on transfers in flight (and so on part buffers).
    """
    info = entry.info
    with transfer, source.open(info.key, info.version_id) as stream:
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
        result = target.put(target_key, digests, got.size, wanted)
    if (digests.md5 is not None and is_plain_md5(result.etag) and result.parts == 1
            and result.etag != digests.md5.hexdigest()):
        raise TransientError(f"PUT {target_key}: target stored different bytes (ETag mismatch)")
    source_sums = dict(got.checksums or {})
    checked = sorted(set(source_sums) & set(result.checksums))
    for algorithm in checked:
        if source_sums[algorithm] != result.checksums[algorithm]:
            raise TransientError(f"GET {info.key}: the bytes read differ from the source's "
                                 f"{algorithm.upper()} checksum")
    if on_read is not None:
        on_read(got)
    proven_etag = (result.etag if result.parts > 1 and result.content_etag
                   and result.etag == result.content_etag else None)
    head = (read_back(target, target_key, result.version_id)
            if reads_back and not changes_without_writing(wanted) else None)
    return CopiedObject(size=digests.size, sha256=digests.sha256.hexdigest(),
                          source_etag=got.etag, attributes=attributes,
                          checksums=dict(got.checksums or {}), parts=result.parts,
                          target_key=target_key, target_version_id=result.version_id,
                          validated=bool(expected_md5 or expected_sha256 or expected_multipart
                                         or checked),
                          target_etag=proven_etag, read_back=head)


def changes_without_writing(attributes: Attributes) -> bool:
    """Whether *attributes* hold what a store changes in place, without a new write (and
    so without a new Last-Modified): tags, retention, a legal hold."""
    properties = attributes.properties
    return bool(attributes.tags or properties.lock_mode or properties.retain_until
                or properties.legal_hold)


def read_back(target: ObjectTarget, key: str, version_id: str | None) -> ObjectInfo | None:
    """The target's HEAD of what was just written, for verification to reuse while the
    target's listing still shows that same write (:mod:`exitkit.verify.writes`); None
    when the HEAD fails or shows what can change without a new write (tags, retention,
    a legal hold): verification reads those again."""
    try:
        head = target.head(key, version_id)
    except (TransientError, PermanentError):
        return None
    if head is None or head.tag_count or changes_without_writing(
            head.attributes or Attributes()):
        return None
    return head


class CopyStopped(Exception):
    """A transfer that had not begun when the copy phase stopped (an interrupt, an error)."""


class TransferSlots:
    """At most *limit* transfers at once, a context manager held for each; once
    ``stopped`` is set, a transfer not yet begun raises :class:`CopyStopped` instead."""

    def __init__(self, limit: int) -> None:
        self._free = threading.BoundedSemaphore(limit)
        self.stopped = threading.Event()

    def __enter__(self) -> None:
        self._free.acquire()
        if self.stopped.is_set():
            self._free.release()
            raise CopyStopped("the copy phase stopped before this transfer began")

    def __exit__(self, *exc_info: object) -> None:
        self._free.release()


def _groups(plan: Iterable[Entry]) -> Iterator[list[Entry]]:
    """Each key's versions, oldest first."""
    for _relative, versions in groupby(plan, key=lambda entry: entry.relative):
        yield sorted(versions, key=lambda entry: -entry.age)


def copy_phase(plan: Iterable[Entry], source: ObjectSource, target: ObjectTarget, keys: KeyMap,
               concurrency: int, max_retries: int, clock: PhaseClock,
               observer: DrillObserver, outcome: CopyOutcome,
               properties: PropertyPlan | None = None, reads_back: bool = False) -> CopyOutcome:
    """Copy every entry of *plan* into *outcome* (filled as objects complete, so it holds
    what was written even when the phase is interrupted); per-object failures are
    collected, not raised, each with its class. With ``outcome.archived``, keys with
    archived versions wait for their restores (see :mod:`exitkit.drill.restore`). A
    version that a delete marker follows on the source (``deleted_after``) is followed by
    one on the target, written right after it, so the key's history, and whether it is
    deleted now, arrive as they are.

    At most *concurrency* transfers (GET to completed write) run at once. With
    *reads_back*, each object is HEADed on the target once written, for verification to
    reuse (:func:`read_back`); that HEAD holds no transfer slot, and as many workers again
    make it, so a worker's next GET need not wait for the read-back of its last write
    (like rclone's checkers beside its transfers). When the phase stops (Ctrl-C, an
    error), the transfers in flight finish and no new one begins."""
    properties = properties or PropertyPlan()
    census, counting = outcome.census, threading.Lock()
    transfers = TransferSlots(concurrency)
    workers = 2 * concurrency if reads_back else concurrency

    def count(info: ObjectInfo) -> None:
        with counting:
            census.add(info)

    def representable(groups: Iterable[list[Entry]]) -> Iterator[list[Entry]]:
        for versions in groups:
            target_key = keys.on_target(versions[0].relative)
            keep = []
            for entry in versions:
                reason = unrepresentable_reason(target_key, entry.age, target.capabilities,
                                                entry.info.deleted_after)
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
                                                       properties,
                                                       count if census is not None else None,
                                                       reads_back, transfers),
                                         max_retries, clock.retried)
                if entry.info.deleted_after:  # deleted after this version, as on the source
                    copied = replace(copied, marker_version_id=target.remove(target_key))
            except (TransientError, PermanentError) as exc:
                results.append((entry, exc))
                break  # later versions would be written out of order
            results.append((entry, copied))
        return results

    def copy_groups(groups: Iterable[list[Entry]]) -> None:
        for versions, results, error in map_bounded(copy_versions, groups, workers,
                                                    transfers.stopped):
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
                   on_target: Iterable[Entry], versions: bool,
                   into: MutableMapping[tuple[str, int], int] | None = None,
                   adopted: MutableMapping[tuple[str, int], CopiedObject] | None = None
                   ) -> MutableMapping[tuple[str, int], int]:
    """The copies a resumed run need not repeat, with their sizes, put *into* a mapping (a
    new dict by default).

    A journaled copy is in place while the source version is the one that was copied
    (same ETag and size) and the target still lists it with that size (and, when
    *versions* are listed, the version that was written, followed by a delete marker
    where the source's is).

    With *versions*, each key's histories are compared oldest first, and the first
    version not in place ends the key's run: the versions after it are copied again, in
    order, on top of what the target holds. Given *adopted* (the journal), a target
    version the journal does not name is in place when it is the source's version at the
    same place in the history (same plain-MD5 ETag, size and delete marker after it): the
    interrupted run wrote it, and stopped before journaling it (versions of one key are
    journaled together, after the last, and a killed run loses the journal's last
    second). Copied again, it would stand twice in the key's history on the target. It
    goes into *adopted* as :data:`UNJOURNALED` (its size and ids, for the record and
    cleanup; verification reads both sides), replacing what the journal held at its
    place (the journal is keyed by age, so that names another version once the source's
    history grew).

    *plan* and *on_target* come in (relative key, age) order and are merged as they
    stream; the journal is asked per planned entry the target still lists.
    """
    found = {} if into is None else into
    if versions:
        _versions_in_place(plan, journaled, on_target, found, adopted)
        return found
    targets = iter(on_target)
    target = next(targets, None)
    for entry in plan:
        while target is not None and target.order < entry.order:
            target = next(targets, None)
        if target is None:
            break
        if target.order != entry.order:
            continue
        copied = journaled.get(entry.order)
        if (copied and copied.source_etag == entry.info.etag
                and copied.size == entry.info.size == target.info.size):
            found[entry.order] = entry.info.size
    return found


def _versions_in_place(plan: Iterable[Entry],
                       journaled: Mapping[tuple[str, int], CopiedObject],
                       on_target: Iterable[Entry],
                       found: MutableMapping[tuple[str, int], int],
                       adopted: MutableMapping[tuple[str, int], CopiedObject] | None) -> None:
    """:func:`still_in_place` with every version listed: key by key, oldest first."""
    target_keys = groupby(on_target, key=lambda entry: entry.relative)
    target_key = next(target_keys, None)
    for relative, planned in groupby(plan, key=lambda entry: entry.relative):
        while target_key is not None and target_key[0] < relative:
            target_key = next(target_keys, None)
        if target_key is None:
            return
        if target_key[0] != relative:
            continue
        on_key = list(target_key[1])
        for source, target in zip(reversed(list(planned)), reversed(on_key)):
            info, held = source.info, target.info
            if held.size != info.size or held.deleted_after != info.deleted_after:
                break
            copied = journaled.get(source.order)
            if not (copied is not None and copied.source_etag == info.etag
                    and copied.size == info.size
                    and copied.target_version_id == held.version_id):
                if adopted is None or not is_plain_md5(info.etag) or held.etag != info.etag:
                    break
                adopted[source.order] = CopiedObject(
                    size=info.size, sha256="", source_etag=info.etag, attributes=Attributes(),
                    checksums={}, parts=1, target_key=held.key,
                    target_version_id=held.version_id, engine=UNJOURNALED)
            found[source.order] = info.size
