"""A drill run on a Dask cluster: this process lists and plans, workers copy and verify.

The coordinator is a :class:`~exitkit.drill.runner.DrillRun` whose copy and verify
phases hand key ranges (:mod:`exitkit.drill.shards`) to Dask workers
(:mod:`exitkit.drill.shard_worker`) and merge what comes back into the one journal, one
manifest, one Merkle root and one record a drill in one process produces for the same data.

Dask's scheduler reassigns the task of a worker that dies; the new attempt continues the
shard's checkpoint journal (on storage the workers share), so nothing is lost and nothing
already in place on the target is copied again. At most twice as many shards as there are
workers are in flight, so the coordinator's memory stays bounded by the shard size.
"""

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from exitkit.drill.copy import PROBLEM_LIMIT, CopyOutcome
from exitkit.drill.journal import CopyJournal, read_journal
from exitkit.drill.runner import DrillRun
from exitkit.drill.shard_worker import (ShardContext, ShardCopy, ShardVerification, copy_shard,
                                        verify_shard)
from exitkit.drill.shards import Shard, bounds_of, shard_journal_path, shards_of, split_by_shard
from exitkit.drill.spec import Distributed
from exitkit.drill.spec_file import LoadedSpec
from exitkit.drill.spill import PlanStore
from exitkit.errors import EndpointError, SpecError
from exitkit.evidence.record import (DistributedRecord, DrillRecord, Projection,
                                     RequestCounts, ShardRecord, Verification,
                                     WorkerThroughput)
from exitkit.measure.projection import WorkerRate, project
from exitkit.providers.contract import ObjectSource, ObjectTarget
from exitkit.redaction import scrub
from exitkit.verify.entries import Entry
from exitkit.verify.tally_merge import merge_tallies
from exitkit.verify.verifier import VerifyScope, summarize


@dataclass
class _WorkerTotals:
    shards: int = 0
    objects: int = 0
    bytes: int = 0
    busy_s: float = 0.0


class DistributedDrillRun(DrillRun):
    """A drill whose copy and verification run on the Dask cluster at *scheduler*."""

    streams_listing = False

    def __init__(self, loaded: LoadedSpec, results_dir: str | Path, scheduler: str,
                 **options) -> None:
        super().__init__(loaded, results_dir, **options)
        self.scheduler = scheduler
        self.settings = loaded.spec.distributed or Distributed()
        self.work_dir = Path(self.settings.work_dir or results_dir).absolute()
        self.client = None
        self.workers = 0
        self.shards: list[ShardRecord] = []
        self.bounds: list[str] | None = None
        self.per_worker: dict[str, _WorkerTotals] = {}
        self.reassigned = 0
        self.target_capabilities = None

    def execute(self) -> DrillRecord:
        """Connect to the scheduler (EndpointError when it does not answer), then run."""
        if self.spec.restore is not None:
            raise SpecError(self.loaded.path, None, "restore", "restores of archived objects "
                            "are not supported on a Dask cluster yet; run this drill without "
                            "a scheduler")
        if self.spec.options.engine != "exitkit":
            raise SpecError(self.loaded.path, None, "options.engine", "a Dask cluster copies "
                            "with engine exitkit only; run this drill without a scheduler")
        from distributed import Client

        timeout = self.settings.connect_timeout.total_seconds()
        try:
            self.client = Client(self.scheduler, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise EndpointError(f"Dask scheduler {self.scheduler}",
                                scrub(f"cannot connect ({exc})")) from None
        try:
            try:
                self.client.wait_for_workers(1, timeout=timeout)
            except TimeoutError:
                raise EndpointError(f"Dask scheduler {self.scheduler}",
                                    f"no worker joined within {timeout:g} s") from None
            self.workers = len(self.client.scheduler_info()["workers"])
            return super().execute()
        finally:
            self.client.close()

    def _context(self) -> ShardContext:
        return ShardContext(spec=self.spec, spec_sha256=self.loaded.sha256, run_id=self.run_id,
                            capabilities=self.target_capabilities,
                            property_plan=self.property_plan,
                            accepted_gaps=self._accepted_gaps(), work_dir=str(self.work_dir),
                            source_restorable=self.source_restorable)

    def _copy(self, plan: PlanStore, source: ObjectSource, target: ObjectTarget,
              outcome: CopyOutcome) -> None:
        """Copy the plan shard by shard on the workers; merge each shard's journal. The
        plan streams from disk into shards; at most twice the workers' shards are held."""
        self.target_capabilities = target.capabilities
        objects, size = self._left_to_copy(plan, target, outcome)
        todo = (entry for entry in plan if entry.order not in outcome.resumed)
        clock = self._phase("copy", objects, size, self.spec.options.concurrency)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        context, shards = self._context(), {}

        def submit(shard: Shard):
            shards[shard.index] = shard
            return self.client.submit(copy_shard, context, shard.index, shard.entries,
                                      key=f"exitkit-copy-{self.run_id}-{shard.index}",
                                      pure=False)

        first_keys = []
        for result in self._bounded(submit, shards_of(todo, self.settings.shard_objects)):
            shard = shards.pop(result.index)
            first_keys.append((shard.index, shard.first_key))
            self._merge_copy(result, shard, outcome)
            clock.add(result.objects + result.skipped_in_place,
                      result.bytes + result.skipped_bytes)
            clock.retries += result.retries
            _add_requests(result.requests, source, target)
            self.observer.advanced("copy", len(shard.entries), shard.bytes)
        self.bounds = bounds_of(key for _index, key in sorted(first_keys))
        if self.census is not None:  # the shards' GETs were read on the workers
            self._count_properties(source, plan)
        if isinstance(outcome.copied, CopyJournal):
            outcome.copied.record_problems(outcome.problems)
        self._end(clock)

    def _merge_copy(self, result: ShardCopy, shard: Shard, outcome: CopyOutcome) -> None:
        """Take one finished shard into the drill's journal and outcome."""
        path = shard_journal_path(self.work_dir, self.spec.name, result.index)
        _header, copied = read_journal(path)
        for order, obj in copied.items():
            outcome.copied[order] = obj
        _remove_journal(path)
        room = PROBLEM_LIMIT - len(outcome.failures)
        outcome.failures.extend(result.failures[:max(0, room)])
        outcome.failed += result.failed
        for kind, count in result.unreadable.items():
            outcome.unreadable[kind] = outcome.unreadable.get(kind, 0) + count
        outcome.unrepresentable.update(result.unrepresentable)
        outcome.problems.update(result.problems)
        self.shards.append(ShardRecord(
            index=shard.index, first_key=shard.first_key, last_key=shard.last_key,
            objects=len(shard.entries), bytes=shard.bytes, worker=result.worker,
            skipped_in_place=result.skipped_in_place))
        totals = self.per_worker.setdefault(result.worker, _WorkerTotals())
        totals.shards += 1
        totals.objects += result.objects
        totals.bytes += result.bytes
        totals.busy_s += result.busy_s
        self.reassigned += result.reassigned

    def _verify(self, source: ObjectSource, target: ObjectSource, plan: PlanStore,
                copied: CopyOutcome, stem: str) -> Verification:
        """Verify each shard's key range on the workers; merge tallies and evidence in
        key order."""
        self.target_capabilities = target.capabilities
        clock = self._phase("verify", len(plan), None, self.spec.options.concurrency)
        known = self._journaled_problems() if self.verify_only else copied.known_classes()
        scope = self._verify_scope(plan, copied, stem, iter(()), iter(()), known)
        bounds = self.bounds or bounds_of(
            shard.first_key for shard in shards_of(plan, self.settings.shard_objects))
        context = self._context()
        sampler = self.client.scatter(scope.sampler, broadcast=True, hash=False)

        def submit(part: tuple[int, list[Entry], list[Entry]]):
            index, sources, targets = part
            facts = ((entry.order, copied.copied.get(entry.order)) for entry in sources)
            return self.client.submit(
                verify_shard, context, sampler, index, sources, targets,
                {order: obj for order, obj in facts if obj is not None},
                {e.order: known[e.order] for e in sources if e.order in known},
                key=f"exitkit-verify-{self.run_id}-{index}", pure=False)

        tallies = []
        try:
            parts = split_by_shard(self._listed_entries(plan),
                                   self._entries(target, self.keys.target_prefix), bounds)
            for result in self._bounded(submit, parts, in_order=True):
                tallies.append(result.tally)
                clock.retries += result.retries
                _add_requests(result.requests, source, target)
                _write_evidence(result, scope)
                objects = sum(result.tally.counts.values())
                clock.add(objects, result.tally.verified_bytes)
                self.observer.advanced("verify", objects, result.tally.verified_bytes)
            verification = summarize(merge_tallies(tallies), target, scope)
        except BaseException:
            scope.differences.discard()
            scope.manifest.discard()
            raise
        self._end(clock)
        return self._with_staleness_gap(verification)

    def _bounded(self, submit: Callable, items: Iterable, in_order: bool = False) -> Iterator:
        """Submit a task per item, at most twice the workers in flight (finished results
        waiting for their turn included); yield results as they finish, or in submission
        order with *in_order*."""
        from distributed import as_completed

        limit, items = 2 * max(1, self.workers), iter(items)
        positions, waiting, next_position = {}, {}, 0

        def submit_next() -> object | None:
            item = next(items, None)
            if item is None:
                return None
            future = submit(item)
            positions[future.key] = len(positions)
            return future

        first = [future for future in (submit_next() for _ in range(limit)) if future]
        running = as_completed(first, loop=self.client.loop)
        for future in running:
            result = self._result(future)
            if in_order:
                waiting[positions[future.key]] = result
                while next_position in waiting:
                    yield waiting.pop(next_position)
                    next_position += 1
            else:
                yield result
            while running.count() + len(waiting) < limit:
                new = submit_next()
                if new is None:
                    break
                running.add(new)

    def _result(self, future):
        from distributed import KilledWorker

        try:
            return future.result()
        except KilledWorker as exc:
            raise EndpointError(f"Dask scheduler {self.scheduler}",
                                f"workers died running {exc.task!r} again and again; "
                                f"see the workers' logs") from None

    def _projection(self, estate: tuple[int, int] | None) -> Projection | None:
        copy_record = next((p for p in self.phases if p.name == "copy"), None)
        busy = sum(totals.busy_s for totals in self.per_worker.values())
        if copy_record is None or estate is None or busy <= 0:
            return super()._projection(estate)
        rate = WorkerRate(
            objects_per_s=sum(t.objects for t in self.per_worker.values()) / busy,
            bytes_per_s=sum(t.bytes for t in self.per_worker.values()) / busy,
            workers=len(self.per_worker))
        restore = self.spec.restore
        return project(copy_record, *estate, self.spec.options.concurrency,
                       self.spec.projection.hosts, self.estate_classes,
                       restore.tier if restore else None, per_worker=rate)

    def _record(self, *args, **kwargs) -> DrillRecord:
        record = super()._record(*args, **kwargs)
        per_worker = [WorkerThroughput(
            worker=worker, shards=t.shards, objects=t.objects, bytes=t.bytes,
            busy_s=round(t.busy_s, 6),
            objects_per_s=round(t.objects / t.busy_s, 3) if t.busy_s else 0.0,
            bytes_per_s=round(t.bytes / t.busy_s, 1) if t.busy_s else 0.0)
            for worker, t in sorted(self.per_worker.items())]
        return record.model_copy(update={"distributed": DistributedRecord(
            scheduler=scrub(self.scheduler), workers=self.workers,
            shard_objects=self.settings.shard_objects,
            shards=sorted(self.shards, key=lambda shard: shard.index),
            reassigned_shards=self.reassigned, per_worker=per_worker)})


def _write_evidence(result: ShardVerification, scope: VerifyScope) -> None:
    """Append a shard's manifest and differences lines (shards arrive in key order)."""
    for line in result.manifest_lines:
        entry = json.loads(line)
        scope.manifest.add(entry["key"], entry["size"], entry["digest"], entry["method"],
                           entry.get("version_id"), entry.get("version_age"))
    for line in result.difference_lines:
        scope.differences.write_line(line)


def _add_requests(requests: dict[str, RequestCounts], source: ObjectSource,
                  target: ObjectSource) -> None:
    """Count a shard's requests, made on a worker, in the drill's record."""
    source.requests.add(requests["source"])
    target.requests.add(requests["target"])


def _remove_journal(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
