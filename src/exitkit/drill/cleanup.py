"""The cleanup phase: delete everything the drill wrote on the target, and prove it."""

from collections.abc import Iterable, Iterator
from operator import attrgetter

from exitkit.concurrency import map_bounded
from exitkit.drill.copy import CopiedObject, CopyOutcome
from exitkit.drill.events import DrillObserver
from exitkit.errors import PermanentError, TransientError
from exitkit.evidence.record import CleanupRecord, KeyProblem
from exitkit.measure.timing import PhaseClock
from exitkit.providers.contract import ObjectInfo, ObjectTarget
from exitkit.verify.ordering import in_key_order

PROBLEM_LIMIT = 1000


def cleanup_phase(target: ObjectTarget, outcome: CopyOutcome, prefix: str, concurrency: int,
                  clock: PhaseClock, observer: DrillObserver) -> CleanupRecord:
    """Delete every object (version) the copy wrote, then list the prefix to prove it
    (deletes are retried by the target, where it is opened).

    On a versioned target each written version, and each delete marker the copy wrote
    after one, is deleted by its id, so no delete marker is left in its place. The written
    objects are streamed from ``outcome.copied`` (the journal) and the proof is a merge of
    the sorted written keys with the sorted listing: nothing per object is held in memory.
    """
    versioned = target.capabilities.versioning
    requested = 0

    def written() -> Iterator[CopiedObject]:
        nonlocal requested
        for copied in outcome.copied.values():
            requested += 1
            yield copied

    def delete(copied: CopiedObject) -> None:
        version = copied.target_version_id if versioned else None
        target.remove(copied.target_key, version)
        if copied.marker_version_id:  # the delete marker written after it (versioned)
            target.remove(copied.target_key, copied.marker_version_id)

    failures: list[KeyProblem] = []
    failed = 0
    for copied, _result, error in map_bounded(delete, written(), concurrency):
        if error is not None:
            if not isinstance(error, (TransientError, PermanentError)):
                raise error
            failed += 1
            if len(failures) < PROBLEM_LIMIT:
                failures.append(KeyProblem(key=copied.target_key, reason=str(error)))
            continue
        clock.add(1, copied.size)
        observer.advanced("cleanup", 1, copied.size)
    listing = target.list_versions(prefix) if versioned else target.list(prefix)
    remaining = _still_listed(
        in_key_order((copied.target_key for copied in outcome.copied.values()), key=str,
                     already_sorted=False),
        in_key_order(listing, key=attrgetter("key"),
                     already_sorted=target.capabilities.lists_in_key_order))
    return CleanupRecord(requested=requested, deleted=requested - failed,
                         failures=failures, remaining=remaining,
                         verified=remaining == 0 and not failed)


def _still_listed(written: Iterable[str], listed: Iterable[ObjectInfo]) -> int:
    """How many listed objects (not delete markers) carry a written key; both in key
    order."""
    keys = iter(written)
    key = next(keys, None)
    remaining = 0
    for info in listed:
        while key is not None and key < info.key:
            key = next(keys, None)
        if key is None:
            break
        remaining += key == info.key and not info.is_delete_marker
    return remaining
