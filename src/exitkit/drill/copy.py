"""The copy phase: stream every planned object from source to target, concurrently.

Memory per worker is bounded by about two upload parts, whatever the object size.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from exitkit.drill.concurrency import map_bounded
from exitkit.drill.events import DrillObserver
from exitkit.drill.keys import KeyMap
from exitkit.errors import PermanentError, TransientError
from exitkit.evidence.record import KeyProblem
from exitkit.measure.timing import PhaseClock
from exitkit.providers.contract import ObjectInfo, ObjectSource, ObjectTarget, key_problem
from exitkit.providers.retry import with_retries
from exitkit.verify.digest import DigestingStream, is_plain_md5

PROBLEM_LIMIT = 1000


@dataclass(frozen=True)
class CopiedObject:
    """What was read from the source and written to the target for one key."""

    size: int
    sha256: str
    source_etag: str | None
    content_type: str | None
    metadata: dict[str, str]
    parts: int


@dataclass
class CopyOutcome:
    """The copy phase's results, keyed by relative key."""

    copied: dict[str, CopiedObject] = field(default_factory=dict)
    failures: list[KeyProblem] = field(default_factory=list)
    unrepresentable: dict[str, str] = field(default_factory=dict)
    failed: int = 0

    @property
    def multipart_objects(self) -> int:
        """How many objects went up as multipart uploads."""
        return sum(1 for obj in self.copied.values() if obj.parts > 1)


def copy_one(info: ObjectInfo, source: ObjectSource, target: ObjectTarget,
             target_key: str) -> CopiedObject:
    """Copy one object, streaming; raises TransientError or PermanentError."""
    with source.open(info.key) as stream:
        got = stream.info
        expected_md5 = got.etag if is_plain_md5(got.etag) else None
        digests = DigestingStream(stream.chunks, expected_size=got.size,
                                  expected_md5=expected_md5, label=f"GET {info.key}")
        metadata = dict(got.metadata or {})
        result = target.put(target_key, iter(digests), got.size, got.content_type, metadata)
    if is_plain_md5(result.etag) and result.parts == 1 and result.etag != digests.md5.hexdigest():
        raise TransientError(f"PUT {target_key}: target stored different bytes (ETag mismatch)")
    return CopiedObject(size=digests.size, sha256=digests.sha256.hexdigest(),
                        source_etag=got.etag, content_type=got.content_type,
                        metadata=metadata, parts=result.parts)


def copy_phase(plan: Iterable[ObjectInfo], source: ObjectSource, target: ObjectTarget,
               keys: KeyMap, concurrency: int, max_retries: int, clock: PhaseClock,
               observer: DrillObserver) -> CopyOutcome:
    """Copy every object of *plan*; per-object failures are collected, not raised."""
    outcome = CopyOutcome()

    def representable(plan_items: Iterable[ObjectInfo]) -> Iterable[ObjectInfo]:
        for info in plan_items:
            reason = key_problem(keys.on_target(keys.relative(info.key)), target.capabilities)
            if reason is None:
                yield info
            else:
                outcome.unrepresentable[keys.relative(info.key)] = reason

    def attempt(info: ObjectInfo) -> CopiedObject:
        target_key = keys.on_target(keys.relative(info.key))
        return with_retries(lambda: copy_one(info, source, target, target_key),
                            max_retries, clock.retried)

    for info, copied, error in map_bounded(attempt, representable(plan), concurrency):
        if error is None:
            outcome.copied[keys.relative(info.key)] = copied
            clock.add(1, copied.size)
            observer.advanced("copy", 1, copied.size)
            continue
        if not isinstance(error, (TransientError, PermanentError)):
            raise error
        outcome.failed += 1
        if len(outcome.failures) < PROBLEM_LIMIT:
            outcome.failures.append(KeyProblem(key=info.key, reason=str(error)))
        observer.advanced("copy", 1, 0)
    return outcome
