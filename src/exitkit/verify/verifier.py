"""The verify phase: classify every key (or version) in scope and prove content equality.

Listings are merged in (key, age) order, never held as two maps. Each object present on
both sides with equal size, and in the sample, is proven equal by the cheapest sound
method, recorded per object in the manifest:

* ``etag-md5``: both ETags are plain MD5s of the content and equal;
* ``checksum-<algorithm>``: both providers report the same full-object checksum (S3
  additional checksums), or the target's SHA-256 checksum equals the SHA-256 computed
  while the bytes were read from the source;
* ``etag-multipart``: where no checksum proves it, the target's multipart ETag equals the
  one the copy predicted from the MD5s of the parts it sent, so the target holds the bytes
  the copy read, validated against the source and hashed with SHA-256 (the copy's facts
  count only while the source ETag is unchanged);
* ``sha256``: the target is streamed and its SHA-256 compared with the source's (from the
  copy when the source ETag is unchanged since, else from a streamed read).

Size alone never counts as verified. Metadata is compared field by field where the
target holds it. With properties verified, an object whose bytes arrived without a
property the source holds (retention, legal hold, redirect, encryption, storage class,
checksum, or tags and metadata a target cannot hold) is ``property_lost``, or
``property_lost_accepted`` when the spec accepts every property it lost.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from operator import and_, attrgetter, eq
from typing import TYPE_CHECKING, NamedTuple

from exitkit.concurrency import map_bounded
from exitkit.errors import PermanentError, TransientError
from exitkit.evidence.manifest import ManifestWriter
from exitkit.evidence.properties_record import AcceptedGapRecord
from exitkit.evidence.record import (VERIFICATION_CLASSES, Difference, ManifestRecord,
                                     Verification)
from exitkit.evidence.sidefiles import SideFile
from exitkit.measure.timing import BatchedProgress, PhaseClock
from exitkit.providers.contract import Attributes, ObjectInfo, ObjectSource
from exitkit.providers.retry import with_retries
from exitkit.verify.attributes import attribute_differences, unheld_fields
from exitkit.verify.digest import are_plain_md5, is_plain_md5, sha256_of
from exitkit.verify.classes import absent_class, deletion_difference
from exitkit.verify.entries import Entry
from exitkit.verify.storage_classes import StorageClassTally
from exitkit.verify.writes import same_write
from exitkit.verify.merge import Run, merge_runs
from exitkit.verify.properties import PROPERTY_NAMES, PropertyPlan, property_losses
from exitkit.verify.sample_evidence import StratumTally, sample_record
from exitkit.verify.sampling import Sampler

if TYPE_CHECKING:  # what the drill hands over; verify/ imports nothing from drill/
    from exitkit.drill.copy import CopiedObject
    from exitkit.drill.events import DrillObserver
    from exitkit.drill.keys import KeyMap

DIFFERENCE_LIMIT = 1000


class Check(NamedTuple):
    """The outcome of checking one entry present on both sides; *lost* names the
    properties a ``property_lost*`` object lost."""

    kind: str
    method: str | None = None
    detail: str = ""
    digest: str | None = None
    lost: tuple[str, ...] = ()
    #: The target's attributes came from the copy's read-back, not a HEAD now.
    read_back: bool = False


@dataclass
class Tally:
    """Running counts for the verification summary."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VERIFICATION_CLASSES, 0))
    methods: dict[str, int] = field(default_factory=dict)
    source_objects: int = 0
    source_bytes: int = 0
    target_objects: int = 0
    verified_bytes: int = 0
    present_bytes: int = 0
    strata: dict[str, StratumTally] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    truncated: bool = False
    storage_classes: StorageClassTally = field(default_factory=StorageClassTally)
    property_losses: dict[str, int] = field(default_factory=dict)
    read_back: int = 0


class SourceView:
    """What is known of a source entry: from the copy if still current, else asked lazily."""

    def __init__(self, source: ObjectSource, entry: Entry, copied: CopiedObject | None) -> None:
        self._source, self._entry = source, entry
        self.copied = (copied if copied and copied.engine == "exitkit"
                       and copied.source_etag == entry.info.etag else None)
        self._head: ObjectInfo | None = None

    def head(self) -> ObjectInfo:
        """The source's HEAD of this version (asked once)."""
        if self._head is None:
            info = self._entry.info
            self._head = self._source.head(info.key, info.version_id)
            if self._head is None:
                raise PermanentError(f"HEAD {info.key}: vanished from the source")
        return self._head

    def checksums(self) -> Mapping[str, str]:
        """Full-object checksums the source provider reports."""
        return self.copied.checksums if self.copied else (self.head().checksums or {})

    def sha256(self) -> str:
        """SHA-256 (hex) of the source bytes.

        The copy's digest counts only when the copy validated what it read against the
        source's own MD5 ETag or SHA-256 checksum; otherwise the source is read again, so
        a read damaged in transit during the copy cannot vouch for itself.
        """
        if self.copied and self.copied.validated:
            return self.copied.sha256
        info = self._entry.info
        with self._source.open(info.key, info.version_id) as stream:
            return sha256_of(stream.chunks)

    def attributes(self) -> Attributes:
        """Content-type, headers, user metadata and tags of the source version."""
        if self.copied:
            return self.copied.attributes
        head = self.head()
        attributes = head.attributes or Attributes()
        if head.tag_count:
            info = self._entry.info
            tags = self._source.tags(info.key, info.version_id)
            attributes = replace(attributes, tags=tags)
        return attributes


class PairChecker:
    """Proves one source/target pair equal in content (and metadata, when asked)."""

    def __init__(self, source: ObjectSource, target: ObjectSource,
                 copied: Mapping[tuple[str, int], CopiedObject], compare_metadata: bool,
                 plan: PropertyPlan | None = None, accepted: frozenset[str] = frozenset(),
                 engine_metadata: frozenset[str] = frozenset()) -> None:
        self.source, self.target, self.copied = source, target, copied
        self.compare_metadata = compare_metadata
        self.plan, self.accepted = plan, accepted
        self.engine_metadata = engine_metadata

    def view_of(self, src: Entry) -> SourceView:
        """What is known of *src*: the copy's record of it, while still current."""
        return SourceView(self.source, src, self.copied.get(src.order))

    def offline(self, src: Entry, tgt: Entry, view: SourceView) -> bool:
        """Whether :meth:`check` of this pair asks neither store anything: the copy's
        read-back still describes the target's object, and the copy's own record proves
        the content (equal plain-MD5 ETags, a checksum both hold, the target's stored
        SHA-256 or the multipart ETag the copy predicted)."""
        copied = view.copied
        read_back = copied.read_back if copied else None
        if read_back is None or not same_write(read_back, tgt.info):
            return False
        if _same_plain_md5(src, tgt):
            return True
        stored = read_back.checksums or {}
        if set(copied.checksums) & set(stored):
            return True
        return copied.validated and ("sha256" in stored
                                     or _proven_by_copied_etag(view, read_back.etag))

    def check(self, src: Entry, tgt: Entry, view: SourceView) -> Check:
        """The class of the pair, with the method and digest that proved it."""
        read_back = view.copied.read_back if view.copied else None
        if read_back is not None and not same_write(read_back, tgt.info):
            read_back = None
        target_head = None

        def head_now() -> ObjectInfo | None:
            """The target's HEAD: the copy's read-back while it still applies, else asked."""
            return read_back or self.target.head(tgt.info.key, tgt.info.version_id)

        if _same_plain_md5(src, tgt):
            method, digest = "etag-md5", f"md5:{src.info.etag}"
        else:
            target_head = head_now()
            if target_head is None:
                return Check("missing", detail="vanished from the target during verification")
            proven = self._by_checksum(view, target_head)
            if proven is None:
                proven = self._by_digest(view, tgt, target_head)
            if proven.kind != "matched":
                return proven._replace(read_back=target_head is read_back)
            method, digest = proven.method, proven.digest
        check = Check("matched", method, digest=digest)
        if self.compare_metadata or self.plan:
            target_head = target_head or head_now()
            if target_head is None:
                return Check("missing", detail="vanished from the target during verification")
            check = self._attribute_check(view, tgt, target_head, method, digest) or check
        return check._replace(read_back=target_head is not None and target_head is read_back)

    def _attribute_check(self, view: SourceView, tgt: Entry, target_head: ObjectInfo,
                         method: str, digest: str | None) -> Check | None:
        """``metadata_differs`` or ``property_lost*`` when the target's attributes or
        properties fall short of the source's; None when they do not."""
        source_attributes = view.attributes()
        target_attributes = _without_engine_metadata(
            self._attributes(tgt, target_head), source_attributes, self.engine_metadata)
        if self.compare_metadata:
            problems = attribute_differences(source_attributes, target_attributes,
                                             self.target.capabilities)
            if problems:
                return Check("metadata_differs", method, "; ".join(problems), digest)
        if self.plan:
            losses = property_losses(source_attributes.properties, source_attributes,
                                     target_attributes.properties, self.plan,
                                     self.target.capabilities)
            if losses:
                lost = tuple(loss.name for loss in losses)
                kind = ("property_lost_accepted" if set(lost) <= self.accepted
                        else "property_lost")
                detail = "; ".join(f"{loss.name}: {loss.detail}" for loss in losses)
                return Check(kind, method, detail, digest, lost)
        return None

    def _attributes(self, tgt: Entry, head: ObjectInfo) -> Attributes:
        attributes = head.attributes or Attributes()
        if head.tag_count and self.target.capabilities.tags:
            tags = self.target.tags(tgt.info.key, tgt.info.version_id)
            attributes = replace(attributes, tags=tags)
        return attributes

    @staticmethod
    def _by_checksum(view: SourceView, target_head: ObjectInfo) -> Check | None:
        """Both providers report the same full-object checksum: compare those."""
        target_sums = target_head.checksums or {}
        source_sums = view.checksums()
        for algorithm in sorted(set(source_sums) & set(target_sums)):
            return _compare(f"checksum-{algorithm}", algorithm, source_sums[algorithm],
                            target_sums[algorithm])
        return None

    def _by_digest(self, view: SourceView, tgt: Entry, target_head: ObjectInfo) -> Check:
        """The source's SHA-256 against the target's stored SHA-256 checksum, else the
        multipart ETag the copy predicted, else the target's bytes."""
        stored = (target_head.checksums or {}).get("sha256")
        source_digest = view.sha256()
        if stored:
            ours = base64.b64encode(bytes.fromhex(source_digest)).decode("ascii")
            return _compare("checksum-sha256", "sha256", ours, stored)
        if _proven_by_copied_etag(view, target_head.etag):
            return Check("matched", "etag-multipart", digest=f"sha256:{source_digest}")
        with self.target.open(tgt.info.key, tgt.info.version_id) as stream:
            target_digest = sha256_of(stream.chunks)
        return _compare("sha256", "sha256", source_digest, target_digest)


def _without_engine_metadata(target: Attributes, source: Attributes,
                             engine_metadata: frozenset[str]) -> Attributes:
    """*target* without the user metadata the copy engine wrote itself (keys the source
    does not have)."""
    added = engine_metadata & set(target.metadata) - set(source.metadata)
    if not added:
        return target
    return replace(target, metadata={name: value for name, value in target.metadata.items()
                                     if name not in added})


NOT_SAMPLED = Check("not_sampled")
#: Classes whose content is proven (and entered in the manifest).
CONTENT_PROVEN = frozenset({"matched", "property_lost", "property_lost_accepted"})
#: Classes that count as present for completeness.
PRESENT = frozenset({"matched", "not_sampled", "property_lost_accepted"})
_info = attrgetter("info")
_key, _size, _etag = attrgetter("key"), attrgetter("size"), attrgetter("etag")


def _proven_by_etags(sources: list[ObjectInfo], targets: list[ObjectInfo]) -> list[bool]:
    """For aligned sources and targets: which equal sizes and plain-MD5 ETags prove equal.

    Compared column by column in C loops; ETags are checked one by one only in a run
    that holds one that is not a plain MD5.
    """
    etags = list(map(_etag, sources))
    same_sizes = map(eq, map(_size, sources), map(_size, targets))
    proven = list(map(and_, map(eq, etags, map(_etag, targets)), same_sizes))
    if are_plain_md5(etags):
        return proven
    return list(map(and_, proven, map(is_plain_md5, etags)))


def _proven_by_copied_etag(view: SourceView, target_etag: str | None) -> bool:
    """The target shows the multipart ETag the copy predicted and saw (``target_etag``),
    and the copy validated what it read against the source (unchanged since), so its
    SHA-256 is the source's."""
    copied = view.copied
    return bool(copied and copied.validated and copied.target_etag
                and target_etag == copied.target_etag)


def _same_plain_md5(src: Entry, tgt: Entry) -> bool:
    etag = src.info.etag
    return etag == tgt.info.etag and is_plain_md5(etag)


def _compare(method: str, algorithm: str, source_value: str, target_value: str) -> Check:
    if source_value == target_value:
        return Check("matched", method, digest=f"{algorithm}:{source_value}")
    return Check("content_differs", method, f"{algorithm} {source_value[:16]}… != "
                                            f"{target_value[:16]}…")


@dataclass
class VerifyScope:
    """What the verify phase compares and where it writes its evidence."""

    source_entries: Iterator[Entry]
    target_entries: Iterator[Entry]
    copied: Mapping[tuple[str, int], CopiedObject]
    known: Mapping[tuple[str, int], tuple[str, str]]
    keys: KeyMap
    sampler: Sampler
    versions: str
    compare_metadata: bool
    differences: SideFile
    manifest: ManifestWriter
    properties: PropertyPlan | None = None
    accepted_gaps: Mapping[str, str] = field(default_factory=dict)
    engine_metadata: frozenset[str] = frozenset()
    source_restorable: bool = True


def verify_phase(source: ObjectSource, target: ObjectSource, scope: VerifyScope,
                 concurrency: int, max_retries: int, clock: PhaseClock,
                 observer: DrillObserver) -> Verification:
    """Compare source and target in scope and return the verification summary."""
    tally = verify_tally(source, target, scope, concurrency, max_retries, clock, observer)
    return summarize(tally, target, scope)


def verify_tally(source: ObjectSource, target: ObjectSource, scope: VerifyScope,
                 concurrency: int, max_retries: int, clock: PhaseClock,
                 observer: DrillObserver) -> Tally:
    """Compare source and target in scope, writing manifest and differences entries, and
    return the running counts (a distributed drill verifies shards this way and merges
    their tallies before :func:`summarize`)."""
    tally = Tally()
    checker = PairChecker(source, target, scope.copied, scope.compare_metadata,
                          scope.properties, frozenset(scope.accepted_gaps),
                          scope.engine_metadata)
    with_versions = scope.versions == "all"
    progress = BatchedProgress(clock, observer, "verify")
    sampling = scope.sampler.sample is not None
    etag_suffices = not scope.compare_metadata and scope.properties is None

    def record(entry: Entry, check: Check) -> None:
        kind, info = check.kind, entry.info
        tally.counts[kind] += 1
        tally.read_back += check.read_back
        for name in check.lost:
            tally.property_losses[name] = tally.property_losses.get(name, 0) + 1
        proven = kind in CONTENT_PROVEN
        if proven:
            tally.methods[check.method] = tally.methods.get(check.method, 0) + 1
        if kind in PRESENT:
            tally.present_bytes += info.size
        if proven:
            tally.verified_bytes += info.size
            if with_versions:
                scope.manifest.add(info.key, info.size, check.digest, check.method,
                                   info.version_id, entry.age)
            else:
                scope.manifest.add(info.key, info.size, check.digest, check.method)
        if kind not in ("matched", "not_sampled"):
            version = ({"version_id": info.version_id, "version_age": entry.age}
                       if with_versions else {})
            difference = Difference(key=info.key, kind=kind, detail=check.detail, **version)
            scope.differences.write(difference.model_dump(exclude_none=True))
            if len(tally.differences) < DIFFERENCE_LIMIT:
                tally.differences.append(difference)
            else:
                tally.truncated = True
        progress.add(info.size if check.method else 0)

    def triage(src: Entry | None, tgt: Entry | None) -> bool:
        """Record what the listings alone decide; True when the pair needs a content check."""
        if src is not None:
            tally.source_objects += 1
            tally.source_bytes += src.info.size
            tally.storage_classes.add("source", src.info)
        if tgt is not None:
            tally.target_objects += 1
            tally.storage_classes.add("target", tgt.info)
        if src is None:
            record(tgt, Check("extra", detail="on the target only"))
        elif tgt is None:
            kind, reason = absent_class(src, scope.keys.on_target(src.relative),
                                        target.capabilities, scope.known,
                                        scope.source_restorable)
            record(src, Check(kind, detail=reason))
        elif (deletion := deletion_difference(src, tgt)) is not None:
            record(src, Check(deletion[0], detail=deletion[1]))
        elif src.info.size != tgt.info.size:
            record(src, Check("size_differs", detail=f"source {src.info.size} bytes, "
                                                     f"target {tgt.info.size} bytes"))
        elif sampling and not drawn(src):
            record(src, NOT_SAMPLED)
        elif etag_suffices and _same_plain_md5(src, tgt):
            record(src, Check("matched", "etag-md5", "", "md5:" + src.info.etag))
        else:
            return True
        return False

    def drawn(src: Entry) -> bool:
        """Count a present object in its stratum; True when the sample draws it."""
        name = scope.sampler.stratum_of(src.relative, src.info)
        stratum = tally.strata.setdefault(name, StratumTally())
        stratum.objects += 1
        stratum.bytes += src.info.size
        if scope.sampler.drawn(src.relative, name):
            stratum.sampled += 1
            return True
        return False

    def record_etag_run(sources: list[ObjectInfo], targets: list[ObjectInfo]) -> None:
        """Record objects already proven by equal sizes and plain-MD5 ETags, in one go."""
        tally.storage_classes.add_run("source", sources)
        tally.storage_classes.add_run("target", targets)
        sizes = list(map(_size, sources))
        count, total = len(sizes), sum(sizes)
        tally.source_objects += count
        tally.target_objects += count
        tally.source_bytes += total
        tally.present_bytes += total
        tally.verified_bytes += total
        tally.counts["matched"] += count
        tally.methods["etag-md5"] = tally.methods.get("etag-md5", 0) + count
        scope.manifest.add_etag_run(list(map(_key, sources)), sizes, list(map(_etag, sources)))
        progress.add_many(count, total)

    def etag_run_leftovers(run: Run) -> Iterator[tuple[Entry, Entry]]:
        """Record the stretches of an aligned run that ETags prove; yield the other pairs."""
        sources, targets = list(map(_info, run.source)), list(map(_info, run.target))
        proven = _proven_by_etags(sources, targets)
        start, count = 0, len(sources)
        while start < count:
            try:
                stop = proven.index(False, start)
            except ValueError:
                stop = count
            if stop > start:
                record_etag_run(sources[start:stop], targets[start:stop])
            if stop < count:
                yield run.source[stop], run.target[stop]
            start = stop + 1

    def to_check() -> Iterator[tuple[Entry, Entry, SourceView]]:
        """The pairs that need a check; the checks that ask no store are made here."""
        runs_by_etag = etag_suffices and not sampling and not with_versions
        for item in merge_runs(scope.source_entries, scope.target_entries):
            if isinstance(item, Run):
                pairs = etag_run_leftovers(item) if runs_by_etag else zip(item.source,
                                                                          item.target)
            else:
                pairs = (item,)
            for src, tgt in pairs:
                if triage(src, tgt):
                    view = checker.view_of(src)
                    if checker.offline(src, tgt, view):
                        settle(src, checker.check(src, tgt, view), None)
                    else:
                        yield src, tgt, view

    def attempt(pair: tuple[Entry, Entry, SourceView]) -> Check:
        return with_retries(lambda: checker.check(*pair), max_retries, clock.retried)

    def settle(src: Entry, check: Check | None, error: BaseException | None) -> None:
        if error is not None:
            if not isinstance(error, (TransientError, PermanentError)):
                raise error
            check = Check(getattr(error, "kind", "content_differs"),
                          detail=f"could not be verified: {error}")
        if sampling and check.kind not in CONTENT_PROVEN:
            tally.strata[scope.sampler.stratum_of(src.relative, src.info)].failed += 1
        record(src, check)

    for (src, _tgt, _view), check, error in map_bounded(attempt, to_check(), concurrency):
        settle(src, check, error)
    progress.flush()
    return tally


def summarize(tally: Tally, target: ObjectSource, scope: VerifyScope) -> Verification:
    """The verification summary of *tally*; commits the scope's manifest and differences."""
    present = sum(tally.counts[kind] for kind in PRESENT)
    gaps = []
    unheld = unheld_fields(target.capabilities, per_object=scope.properties is not None)
    if unheld and scope.compare_metadata:
        gaps.append(f"the target keeps no {', '.join(unheld)}; not verified")
    if scope.engine_metadata and scope.compare_metadata:
        gaps.append(f"user metadata the copy engine writes itself "
                    f"({', '.join(sorted(scope.engine_metadata))}) is not compared where the "
                    f"source has none")
    if tally.counts["unrepresentable"]:
        gaps.append(f"{tally.counts['unrepresentable']} objects or versions cannot be "
                    "represented on the target")
    for name in PROPERTY_NAMES:
        if tally.property_losses.get(name):
            accepted = " (accepted)" if name in scope.accepted_gaps else ""
            gaps.append(f"{tally.property_losses[name]} objects lost {name}{accepted}")
    sample = scope.sampler.sample
    verified = sum(tally.counts[kind] for kind in CONTENT_PROVEN)
    manifest = scope.manifest.commit()
    return Verification(
        versions=scope.versions,
        source_objects=tally.source_objects,
        source_bytes=tally.source_bytes,
        target_objects=tally.target_objects,
        counts=tally.counts,
        storage_classes=tally.storage_classes.summary(),
        methods=tally.methods,
        sample=sample_record(scope.sampler, tally.strata) if sample else None,
        objects_verified=verified,
        bytes_verified=tally.verified_bytes,
        objects_verified_pct=_percent(verified, tally.source_objects),
        bytes_verified_pct=_percent(tally.verified_bytes, tally.source_bytes),
        objects_present=present,
        bytes_present=tally.present_bytes,
        completeness_objects_pct=_percent(present, tally.source_objects),
        completeness_bytes_pct=_percent(tally.present_bytes, tally.source_bytes),
        gaps=gaps,
        property_losses={name: tally.property_losses[name] for name in PROPERTY_NAMES
                         if name in tally.property_losses},
        accepted_gaps=[AcceptedGapRecord(property=name, reason=reason,
                                         objects=tally.property_losses.get(name, 0))
                       for name, reason in scope.accepted_gaps.items()],
        differences=tally.differences,
        differences_truncated=tally.truncated,
        read_back_objects=tally.read_back,
        differences_file=scope.differences.commit().name,
        manifest=ManifestRecord(file=manifest.file, entries=manifest.entries,
                                merkle_root=manifest.merkle_root),
    )


def _percent(part: int, whole: int) -> float:
    """Percentage rounded down to 4 decimals, so 99.99999% never shows as 100%."""
    return 100.0 if whole == 0 else math.floor(1_000_000 * part / whole) / 10_000
