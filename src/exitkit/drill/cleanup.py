"""The cleanup phase: delete everything the drill wrote on the target, and prove it."""

from exitkit.concurrency import map_bounded
from exitkit.drill.copy import CopiedObject, CopyOutcome
from exitkit.drill.events import DrillObserver
from exitkit.errors import PermanentError, TransientError
from exitkit.evidence.record import CleanupRecord, KeyProblem
from exitkit.measure.timing import PhaseClock
from exitkit.providers.contract import ObjectTarget

PROBLEM_LIMIT = 1000


def cleanup_phase(target: ObjectTarget, outcome: CopyOutcome, prefix: str, concurrency: int,
                  clock: PhaseClock, observer: DrillObserver) -> CleanupRecord:
    """Delete every object (version) the copy wrote, then list the prefix to prove it
    (deletes are retried by the target, where it is opened).

    On a versioned target each written version is deleted by its id, so no delete
    marker is left in its place.
    """
    written = list(outcome.copied.values())
    versioned = target.capabilities.versioning

    def delete(copied: CopiedObject) -> None:
        version = copied.target_version_id if versioned else None
        target.remove(copied.target_key, version)

    failures: list[KeyProblem] = []
    for copied, _result, error in map_bounded(delete, written, concurrency):
        if error is not None:
            if not isinstance(error, (TransientError, PermanentError)):
                raise error
            if len(failures) < PROBLEM_LIMIT:
                failures.append(KeyProblem(key=copied.target_key, reason=str(error)))
            continue
        clock.add(1, copied.size)
        observer.advanced("cleanup", 1, copied.size)
    keys = {copied.target_key for copied in written}
    listing = target.list_versions(prefix) if versioned else target.list(prefix)
    remaining = sum(1 for info in listing if info.key in keys and not info.is_delete_marker)
    return CleanupRecord(requested=len(written), deleted=len(written) - len(failures),
                         failures=failures, remaining=remaining,
                         verified=remaining == 0 and not failures)
