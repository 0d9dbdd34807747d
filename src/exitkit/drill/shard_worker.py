"""What a Dask worker runs for a distributed drill: copy one shard, verify one shard.

Both reuse the drill's own engine (:func:`exitkit.drill.copy.copy_phase`,
:func:`exitkit.verify.verifier.verify_tally`) on one key range. Tasks carry the spec,
whose credentials are environment variable NAMES: each worker reads the values from its
own environment, so no secret travels in a task graph, a scheduler's memory or a log.

A shard's copy keeps its own checkpoint journal on storage the workers share. When the
scheduler hands a shard to another worker because the first one died, the new attempt
continues that journal: what it shows copied and the target still holds (one HEAD each)
is not copied again.
"""

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from exitkit.concurrency import map_bounded
from exitkit.drill.copy import CopiedObject, CopyOutcome, copy_phase, still_in_place
from exitkit.drill.events import SilentObserver
from exitkit.drill.journal import CopyJournal, JournalHeader
from exitkit.drill.keys import KeyMap
from exitkit.drill.restore import ArchivedObjects
from exitkit.drill.shards import shard_journal_path
from exitkit.drill.spec import DrillSpec, Endpoint
from exitkit.drill.spec_file import Keys
from exitkit.errors import ExitkitError, PermanentError, TransientError
from exitkit.evidence.manifest import ManifestWriter
from exitkit.evidence.record import KeyProblem, RequestCounts
from exitkit.evidence.sidefiles import SideFile
from exitkit.measure.timing import PhaseClock, utc_now
from exitkit.providers.contract import Capabilities
from exitkit.providers.registry import open_restorer, open_source, open_target
from exitkit.providers.retrying import RetryingRestorer, RetryingSource, RetryingTarget
from exitkit.redaction import register_secret
from exitkit.verify.entries import Entry
from exitkit.verify.properties import PropertyPlan
from exitkit.verify.sampling import Sampler
from exitkit.verify.verifier import Tally, VerifyScope, verify_tally

Order = tuple[str, int]


@dataclass(frozen=True)
class ShardContext:
    """What every shard task of one drill shares; holds no secret."""

    spec: DrillSpec
    spec_sha256: str
    run_id: str
    capabilities: Capabilities
    property_plan: PropertyPlan
    accepted_gaps: dict[str, str]
    work_dir: str
    source_restorable: bool = True


@dataclass
class ShardCopy:
    """The outcome of one shard's copy on one worker (the attempt that ran to the end)."""

    index: int
    worker: str
    objects: int  # copied by this attempt
    bytes: int
    busy_s: float
    retries: int
    reassigned: bool  # an earlier attempt (a worker that died) had started the journal
    skipped_in_place: int = 0
    skipped_bytes: int = 0
    failures: list[KeyProblem] = field(default_factory=list)
    failed: int = 0
    unreadable: dict[str, int] = field(default_factory=dict)
    unrepresentable: dict[Order, str] = field(default_factory=dict)
    problems: dict[Order, tuple[str, str]] = field(default_factory=dict)
    requests: dict[str, RequestCounts] = field(default_factory=dict)  # by side


@dataclass
class ShardVerification:
    """The outcome of one shard's verification: its tally and its evidence lines."""

    index: int
    tally: Tally
    manifest_lines: list[str]
    difference_lines: list[str]
    retries: int = 0
    requests: dict[str, RequestCounts] = field(default_factory=dict)  # by side


def _requests(source: RetryingSource, target: RetryingTarget) -> dict[str, RequestCounts]:
    """The requests this task's adapters made, for the coordinator's record."""
    return {"source": source.requests.snapshot(), "target": target.requests.snapshot()}


def worker_keys(endpoint: Endpoint, side: str) -> Keys | None:
    """The credentials *endpoint* names, read from this worker's environment."""
    if endpoint.credentials is None:
        return None
    values = []
    for name in ("access_key_env", "secret_key_env"):
        variable = getattr(endpoint.credentials, name)
        value = os.environ.get(variable)
        if not value:
            raise ExitkitError(f"Dask worker on {_host()}: environment variable {variable} "
                               f"({side}.credentials.{name}) is not set")
        register_secret(value)
        values.append(SecretStr(value))
    return Keys(*values)


def _open(context: ShardContext, clock: PhaseClock) -> tuple[RetryingSource, RetryingTarget]:
    """The drill's source and target as the runner opens them: wrapped so that every
    request is retried (counted in *clock*)."""
    spec, options = context.spec, context.spec.options
    source = open_source(spec.source, worker_keys(spec.source, "source"))
    target = open_target(spec.target, worker_keys(spec.target, "target"), options.part_size,
                         context.capabilities, options.concurrency)
    return (RetryingSource(source, options.max_retries, clock.retried),
            RetryingTarget(target, options.max_retries, clock.retried))


def copy_shard(context: ShardContext, index: int, entries: list[Entry]) -> ShardCopy:
    """Copy one shard's entries, continuing its journal when an earlier attempt left one."""
    spec, options = context.spec, context.spec.options
    clock = PhaseClock("copy", options.concurrency)
    source, target = _open(context, clock)
    path = shard_journal_path(context.work_dir, spec.name, index)
    journal, reassigned = _shard_journal(path, context)
    try:
        in_place = _still_in_place(entries, journal, target, spec) if reassigned else {}
        for order in [order for order in journal if order not in in_place]:
            del journal[order]  # no longer in place: copied again below
        outcome = CopyOutcome(copied=journal)
        restorer = open_restorer(source.inner)
        outcome.archived = ArchivedObjects(
            restorer and RetryingRestorer(restorer, options.max_retries, clock.retried),
            None, journal.restores, SilentObserver())
        copy_phase((entry for entry in entries if entry.order not in in_place), source,
                   target, KeyMap(spec.source.prefix, spec.target.prefix),
                   options.concurrency, options.max_retries, clock, SilentObserver(),
                   outcome, context.property_plan, spec.verification.reads_target_attributes)
        journal.record_problems(outcome.problems)
    finally:
        journal.close(remove=False)
    finished = clock.finish()
    return ShardCopy(
        index=index, worker=_worker_address(), objects=finished.objects,
        bytes=finished.bytes, busy_s=finished.duration_s, retries=finished.retries,
        reassigned=reassigned, skipped_in_place=len(in_place),
        skipped_bytes=sum(in_place.values()), failures=outcome.failures,
        failed=outcome.failed, unreadable=outcome.unreadable,
        unrepresentable=dict(outcome.unrepresentable), problems=dict(outcome.problems),
        requests=_requests(source, target))


def _shard_journal(path: Path, context: ShardContext) -> tuple[CopyJournal, bool]:
    """The shard's journal, and whether it continues an earlier attempt of this run."""
    if path.exists():
        journal = CopyJournal(path, None)
        if journal.header.run_id == context.run_id:
            return journal, True
        journal.close(remove=True)  # left by another run
    return CopyJournal(path, JournalHeader(drill=context.spec.name,
                                           spec_sha256=context.spec_sha256,
                                           run_id=context.run_id,
                                           started_at=utc_now().isoformat())), False


def _still_in_place(entries: list[Entry], journal: CopyJournal, target: RetryingTarget,
                    spec: DrillSpec) -> dict[Order, int]:
    """The journaled copies the target still holds as written (one HEAD each, retried by
    the target), with sizes."""
    journaled: dict[Order, CopiedObject] = dict(journal.items())
    versions = spec.verification.versions == "all"

    def head(order: Order) -> Entry | None:
        copied = journaled[order]
        info = target.head(copied.target_key, copied.target_version_id if versions else None)
        return None if info is None else Entry(order[0], order[1], info)

    on_target = []
    for _order, found, error in map_bounded(head, list(journaled), spec.options.concurrency):
        if error is not None and not isinstance(error, (TransientError, PermanentError)):
            raise error
        if found is not None:
            on_target.append(found)
    on_target.sort(key=lambda entry: entry.order)  # HEADs complete in any order
    return still_in_place(entries, journaled, on_target, versions)


def verify_shard(context: ShardContext, sampler: Sampler, index: int,
                 source_entries: list[Entry], target_entries: list[Entry],
                 copied: Mapping[Order, CopiedObject],
                 known: Mapping[Order, tuple[str, str]]) -> ShardVerification:
    """Verify one shard's key range as the drill's verify phase does, in one pass."""
    spec = context.spec
    settings, options = spec.verification, spec.options
    clock = PhaseClock("verify", options.concurrency)
    source, target = _open(context, clock)
    with tempfile.TemporaryDirectory(prefix="exitkit-shard-") as scratch:
        directory = Path(scratch)
        scope = VerifyScope(
            source_entries=iter(source_entries), target_entries=iter(target_entries),
            copied=copied, known=known, keys=KeyMap(spec.source.prefix, spec.target.prefix),
            sampler=sampler, versions=settings.versions, compare_metadata=settings.metadata,
            differences=SideFile(directory, "differences.jsonl"),
            manifest=ManifestWriter(directory, "manifest.jsonl"),
            properties=context.property_plan if settings.properties else None,
            accepted_gaps=context.accepted_gaps, source_restorable=context.source_restorable)
        tally = verify_tally(source, target, scope, options.concurrency, options.max_retries,
                             clock, SilentObserver())
        manifest = directory / scope.manifest.commit().file
        differences = scope.differences.commit()
        return ShardVerification(index=index, tally=tally,
                                 manifest_lines=manifest.read_text("utf-8").splitlines(),
                                 difference_lines=differences.read_text("utf-8").splitlines(),
                                 retries=clock.retries, requests=_requests(source, target))


def _worker_address() -> str:
    try:
        from distributed import get_worker
        return get_worker().address
    except ValueError:  # called outside a worker
        return f"{_host()}:{os.getpid()}"


def _host() -> str:
    return os.uname().nodename
