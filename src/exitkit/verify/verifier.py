"""The verify phase: classify every key in scope and prove content equality per object.

Listings are merged in key order, never held as two maps. Each object present on both
sides with equal size is proven equal by the cheapest sound method:

* ``etag-md5``: both ETags are plain MD5s of the content and equal;
* ``sha256``: the target is streamed and its SHA-256 compared with the source's (taken
  from the copy when the source ETag is unchanged since, else streamed from the source).

Size alone never counts as verified. Content-type and user metadata are compared where
the target can hold them.
"""

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from exitkit.drill.concurrency import map_bounded
from exitkit.drill.copy import CopiedObject
from exitkit.drill.events import DrillObserver
from exitkit.drill.keys import KeyMap
from exitkit.errors import PermanentError, TransientError
from exitkit.evidence.record import VERIFICATION_CLASSES, Difference, Verification
from exitkit.measure.timing import PhaseClock
from exitkit.providers.contract import ObjectInfo, ObjectSource
from exitkit.providers.retry import with_retries
from exitkit.verify.digest import is_plain_md5, sha256_of
from exitkit.verify.merge import merge_listings
from exitkit.verify.ordering import in_key_order

DIFFERENCE_LIMIT = 1000


@dataclass(frozen=True)
class Check:
    """The outcome of checking one key present on both sides."""

    kind: str
    method: str | None
    detail: str = ""


@dataclass
class Tally:
    """Running counts for the verification summary."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VERIFICATION_CLASSES, 0))
    methods: dict[str, int] = field(default_factory=dict)
    source_objects: int = 0
    source_bytes: int = 0
    target_objects: int = 0
    verified_bytes: int = 0
    differences: list[Difference] = field(default_factory=list)

    def record(self, key: str, kind: str, size: int, method: str | None, detail: str) -> None:
        """Count one classified key."""
        self.counts[kind] += 1
        if method:
            self.methods[method] = self.methods.get(method, 0) + 1
        if kind == "matched":
            self.verified_bytes += size
        elif len(self.differences) < DIFFERENCE_LIMIT + 1:
            self.differences.append(Difference(key=key, kind=kind, detail=detail))


class PairChecker:
    """Proves one source/target pair equal in content and metadata."""

    def __init__(self, source: ObjectSource, target: ObjectSource, keys: KeyMap,
                 copied: Mapping[str, CopiedObject]) -> None:
        self.source, self.target, self.keys, self.copied = source, target, keys, copied
        caps = target.capabilities
        self.check_metadata = caps.user_metadata and caps.content_type

    def __call__(self, pair: tuple[str, ObjectInfo, ObjectInfo]) -> Check:
        relative, src, tgt = pair
        copied = self.copied.get(relative)
        if copied is not None and copied.source_etag != src.etag:
            copied = None  # the source changed since the copy: evidence from the copy is stale
        target_full = None
        if is_plain_md5(src.etag) and src.etag == tgt.etag:
            method = "etag-md5"
        else:
            method = "sha256"
            with self.target.open(tgt.key) as stream:
                target_digest = sha256_of(stream.chunks)
                target_full = stream.info
            source_digest = copied.sha256 if copied else self._source_digest(src.key)
            if source_digest != target_digest:
                return Check("content_differs", method,
                             f"sha256 {source_digest[:16]}… != {target_digest[:16]}…")
        if self.check_metadata:
            problem = self._metadata_problem(src, tgt, copied, target_full)
            if problem:
                return Check("metadata_differs", method, problem)
        return Check("matched", method)

    def _source_digest(self, key: str) -> str:
        with self.source.open(key) as stream:
            return sha256_of(stream.chunks)

    def _metadata_problem(self, src: ObjectInfo, tgt: ObjectInfo, copied: CopiedObject | None,
                          target_full: ObjectInfo | None) -> str:
        if copied is not None:
            source_type, source_meta = copied.content_type, copied.metadata
        else:
            head = self.source.head(src.key)
            if head is None:
                raise PermanentError(f"HEAD {src.key}: vanished from the source")
            source_type, source_meta = head.content_type, dict(head.metadata or {})
        target_full = target_full or self.target.head(tgt.key)
        if target_full is None:
            return "vanished from the target during verification"
        problems = []
        if (source_type or None) != (target_full.content_type or None):
            problems.append(f"content-type {source_type!r} != {target_full.content_type!r}")
        target_meta = dict(target_full.metadata or {})
        for name in sorted(set(source_meta) | set(target_meta)):
            if source_meta.get(name) != target_meta.get(name):
                problems.append(f"metadata {name}: {source_meta.get(name)!r} != "
                                f"{target_meta.get(name)!r}")
        return "; ".join(problems)


def verify_phase(source: ObjectSource, target: ObjectSource, keys: KeyMap,
                 copied: Mapping[str, CopiedObject], unrepresentable: Mapping[str, str],
                 concurrency: int, max_retries: int, clock: PhaseClock,
                 observer: DrillObserver) -> Verification:
    """Compare source and target in scope and return the verification summary."""
    tally = Tally()
    source_listing = in_key_order(source.list(keys.source_prefix), key=_key,
                                  already_sorted=source.capabilities.lists_in_key_order)
    target_listing = in_key_order(target.list(keys.target_prefix), key=_key,
                                  already_sorted=target.capabilities.lists_in_key_order)
    checker = PairChecker(source, target, keys, copied)

    def to_check() -> Iterator[tuple[str, ObjectInfo, ObjectInfo]]:
        for relative, src, tgt in merge_listings(source_listing, target_listing,
                                                  keys.source_prefix, keys.target_prefix):
            if src is not None:
                tally.source_objects += 1
                tally.source_bytes += src.size
            if tgt is not None:
                tally.target_objects += 1
            if src is None:
                tally.record(tgt.key, "extra", tgt.size, None, "on the target only")
            elif tgt is None:
                reason = unrepresentable.get(relative)
                kind = "unrepresentable" if reason else "missing"
                tally.record(src.key, kind, src.size, None, reason or "not on the target")
            elif src.size != tgt.size:
                tally.record(src.key, "size_differs", src.size, None,
                             f"source {src.size} bytes, target {tgt.size} bytes")
            else:
                yield relative, src, tgt
                continue
            clock.add(1, 0)
            observer.advanced("verify", 1, 0)

    def attempt(pair: tuple[str, ObjectInfo, ObjectInfo]) -> Check:
        return with_retries(lambda: checker(pair), max_retries, clock.retried)

    for (relative, src, _tgt), check, error in map_bounded(attempt, to_check(), concurrency):
        if error is not None:
            if not isinstance(error, (TransientError, PermanentError)):
                raise error
            check = Check("content_differs", None, f"could not be verified: {error}")
        tally.record(src.key, check.kind, src.size, check.method, check.detail)
        clock.add(1, src.size)
        observer.advanced("verify", 1, src.size)
    return _summary(tally, target)


def _key(info: ObjectInfo) -> str:
    return info.key


def _summary(tally: Tally, target: ObjectSource) -> Verification:
    matched = tally.counts["matched"]
    caps = target.capabilities
    gaps = []
    if not caps.user_metadata or not caps.content_type:
        gaps.append("the target keeps no content-type or user metadata; they were not verified")
    unrepresentable = tally.counts["unrepresentable"]
    if unrepresentable:
        gaps.append(f"{unrepresentable} keys cannot be represented on the target")
    return Verification(
        source_objects=tally.source_objects,
        source_bytes=tally.source_bytes,
        target_objects=tally.target_objects,
        counts=tally.counts,
        methods=tally.methods,
        objects_verified=matched,
        bytes_verified=tally.verified_bytes,
        completeness_objects_pct=_percent(matched, tally.source_objects),
        completeness_bytes_pct=_percent(tally.verified_bytes, tally.source_bytes),
        gaps=gaps,
        differences=tally.differences[:DIFFERENCE_LIMIT],
        differences_truncated=len(tally.differences) > DIFFERENCE_LIMIT,
    )


def _percent(part: int, whole: int) -> float:
    """Percentage rounded down to 4 decimals, so 99.99999% never shows as 100%."""
    return 100.0 if whole == 0 else math.floor(1_000_000 * part / whole) / 10_000
