"""Run a drill: preflight, inventory, copy, verify, judge, and produce its record.

Data flows one way: spec -> plan (inventory) -> copy -> verify -> measure -> record.
The source is opened through the read-only contract; nothing here can write to it.
"""

from __future__ import annotations

import getpass
import socket
import uuid
from dataclasses import replace
from datetime import date, timedelta
from itertools import islice
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from exitkit import __version__
from exitkit.concurrency import in_background, prefetched
from exitkit.drill.census import Census, head_all
from exitkit.drill.property_setup import accepted_gaps, property_plan, target_capabilities
from exitkit.drill.cleanup import cleanup_phase
from exitkit.drill.copy import PROBLEM_LIMIT, CopyOutcome, copy_phase, still_in_place
from exitkit.drill.rclone_engine import (ENGINE_METADATA, rclone_copy_phase,
                                         refuse_unsupported_engine)
from exitkit.drill.restore import ArchivedObjects
from exitkit.drill.journal import CopyJournal, JournalHeader, journal_path, read_problems
from exitkit.drill.events import DrillObserver, SilentObserver
from exitkit.drill.expectations import (bucket_config_expectation, evaluate,
                                        vm_move_expectations, workload_expectations)
from exitkit.drill.keys import KeyMap
from exitkit.drill.spec import Endpoint
from exitkit.drill.spec_file import LoadedSpec
from exitkit.drill.spill import PlanFilling, PlanStore, SpillMap
from exitkit.drill.inventory_report import InventoryReport, ReportListing, ReportLocation
from exitkit.drill.staleness import check_staleness
from exitkit.errors import EndpointError, PermanentError, SpecError, TransientError
from exitkit.evidence.manifest import ManifestWriter
from exitkit.catalog.load import Catalog, load_catalog
from exitkit.catalog.model import CatalogEntry
from exitkit.evidence.record import (CleanupRecord, CopySummary, CostReport, DrillIdentity, DrillRecord,
                                     EndpointIdentity, Inventory, KeyProblem, PhaseRecord,
                                     Projection, RequestCounts, RunOptions, Verification)
from exitkit.measure.cost import CostModel, Restores, Usage, cost_report, scaled_usage
from exitkit.measure.projection import project
from exitkit.measure.workload_cost import WorkloadPricing
from exitkit.evidence.listing_record import ListingRecord
from exitkit.evidence.properties_record import PropertiesRecord, StorageClassMapping
from exitkit.evidence.sidefiles import SideFile
from exitkit.evidence.store import record_stem
from exitkit.evidence.provenance import provenance
from exitkit.evidence.scope_record import ScopeRecord
from exitkit.evidence.vm_move_record import VmMoveRecord
from exitkit.evidence.vm_record import VmPlan
from exitkit.evidence.workload_record import WorkloadRecord
from exitkit.measure.timing import BatchedProgress, PhaseClock, utc_now
from exitkit.providers.archive import needs_restore
from exitkit.providers.contract import ObjectSource, ObjectTarget
from exitkit.providers.registry import (endpoint_url, open_restorer, open_settings_reader,
                                        open_settings_writer, open_source, open_target,
                                        region_of)
from exitkit.providers.retrying import RetryingRestorer, RetryingSource, RetryingTarget
from exitkit.providers.rclone_config import rclone_version
from exitkit.redaction import scrub
from exitkit.verify.entries import Entry, current_entries, version_entries
from exitkit.verify.sampling import Sampler
from exitkit.verify.storage_classes import StorageClassTally, count_classes
from exitkit.verify.properties import PropertyPlan
from exitkit.verify.verifier import VerifyScope, verify_phase

# Bucket settings (boto3), workloads and VM moves (container runtimes, EC2, libvirt) are
# imported when a spec has them, so that a drill of buckets alone starts light.
if TYPE_CHECKING:
    from exitkit.drill.bucket_config import CarriedSettings
    from exitkit.drill.vm_moves import VmMovesPhase
    from exitkit.drill.workloads import WorkloadsPhase


def identity(endpoint: Endpoint, entry: CatalogEntry | None) -> EndpointIdentity:
    """The record's description of an endpoint (never its credentials), with the
    jurisdiction and data location of its catalog entry when there is one."""
    return EndpointIdentity(provider=endpoint.provider, endpoint=endpoint_url(endpoint),
                            region=region_of(endpoint), bucket=endpoint.bucket,
                            prefix=endpoint.prefix, catalog=entry and entry.name,
                            jurisdiction=entry and entry.jurisdiction,
                            data_location=entry and entry.data_location)


def _refuse_overlap(loaded: LoadedSpec) -> None:
    source, target = loaded.spec.source, loaded.spec.target
    same_bucket = (endpoint_url(source) == endpoint_url(target) and source.bucket == target.bucket
                   and source.provider == target.provider)
    if same_bucket and (source.prefix.startswith(target.prefix)
                        or target.prefix.startswith(source.prefix)):
        raise SpecError(loaded.path, None, "target",
                        "target overlaps the source (same endpoint, bucket and prefix)")


class DrillRun:
    """One execution of a loaded spec; call :meth:`execute` once.

    Side files (differences, manifest) are written into *results_dir* beside the record.
    """

    def __init__(self, loaded: LoadedSpec, results_dir: str | Path,
                 observer: DrillObserver | None = None, verify_only: bool = False,
                 resume: bool = False) -> None:
        self.loaded = loaded
        self.spec = loaded.spec
        self.results_dir = Path(results_dir)
        self.observer = observer or SilentObserver()
        self.verify_only = verify_only
        self.keys = KeyMap(self.spec.source.prefix, self.spec.target.prefix)
        self.resume = resume
        self.run_id = str(uuid.uuid4())
        self.resumed_from: str | None = None
        self.phases: list[PhaseRecord] = []
        self.errors: list[str] = []
        self.workloads: list[WorkloadRecord] = []
        self.vm_plan: VmPlan | None = None
        self.vm_moves: list[VmMoveRecord] = []
        self.estate_classes = {}
        self.restore_book = {}
        self.census: Census | None = None
        self._clock: PhaseClock | None = None
        self.property_plan = PropertyPlan()
        self.capabilities_source = ""
        self.bucket_settings: CarriedSettings | None = None
        self.source_restorable = True
        self.listed: ObjectSource | ReportListing | None = None
        self.listing: ListingRecord | None = None
        self.provenance: Future | None = None  # of ProvenanceRecord, once the run starts

    def execute(self) -> DrillRecord:
        """Preflight (raises EndpointError), then run every phase and return the record."""
        _refuse_overlap(self.loaded)
        refuse_unsupported_engine(self.loaded)
        spec, options = self.spec, self.spec.options
        source = RetryingSource(open_source(spec.source, self.loaded.source_keys),
                                options.max_retries, self._retried)
        self.source_restorable = open_restorer(source.inner) is not None
        spec_dir = Path(self.loaded.path).parent
        capabilities, self.capabilities_source = target_capabilities(self.loaded)
        target = RetryingTarget(open_target(spec.target, self.loaded.target_keys,
                                            options.part_size, capabilities,
                                            options.concurrency),
                                options.max_retries, self._retried)
        self.property_plan = property_plan(self.loaded, capabilities)
        catalog = load_catalog([spec_dir / directory for directory in spec.cost.catalog_dirs])
        prices = self.price_entries = self._price_entries(catalog)
        started_at = utc_now()
        # the host's clock, code and dependencies, probed while the drill runs
        self.provenance = in_background(provenance, spec.evidence.retention_class)
        source.check()
        self.listed = self._listing_source(source, started_at)
        versioned = spec.verification.versions == "all" and target.capabilities.versioning
        if self.verify_only:
            target.check()
        else:
            target.prepare(create=spec.target.create_bucket, versioned=versioned,
                           object_lock=self._needs_object_lock(source))
            self._refuse_foreign_data(target)
        workloads = self._workloads_phase(catalog, target)
        if spec.vms is not None and spec.vms.target_catalog not in catalog.entries:
            raise SpecError(self.loaded.path, None, "vms.target_catalog",
                            f"no provider {spec.vms.target_catalog!r} in the catalog")
        vm_moves = self._vm_moves_phase(target)
        stem = record_stem(spec.name, started_at, self.run_id)
        plan = verification = estate = cleanup = None
        journal = None if self.verify_only else self._open_journal(started_at)
        copied = CopyOutcome() if journal is None else CopyOutcome(
            copied=journal, unrepresentable=SpillMap(), resumed=SpillMap(), problems=SpillMap())
        self.restore_book = {} if journal is None else journal.restores
        passed = False
        try:
            try:
                if self._streams_inventory():
                    plan, estate = self._inventory_and_copy(source, target, copied)
                else:
                    plan, estate = self._inventory(source)
                    if not self.verify_only:
                        self._copy(plan, source, target, copied)
                verification = self._verify(source, target, plan, copied, stem)
                if spec.bucket_config is not None:
                    self._carry_bucket_config(target)
                if workloads is not None:
                    self._run_workloads(workloads)
                if spec.vms is not None:
                    self._plan_vms(catalog, started_at.date())
                if vm_moves is not None:
                    self._move_vms(vm_moves)
            except (TransientError, PermanentError, EndpointError) as exc:
                self.errors.append(scrub(str(exc)))
            finally:
                if spec.cleanup and not self.verify_only:
                    self._restore_bucket_config()
                    cleanup = self._cleanup(target, copied)
            ended_at = utc_now()
            projection = self._projection(estate)
            cost = self._cost(catalog, prices, source, target, plan, copied, estate, projection,
                              started_at.date())
            requests = {"source": source.requests.snapshot(),
                        "target": target.requests.snapshot()}
            record = self._record(started_at, ended_at, plan, copied, verification, requests,
                                  projection, cost, cleanup, self._properties_record(target))
            passed = record.verdict == "passed"
            return record
        finally:
            if journal is not None:
                journal.close(remove=passed)
            if plan is not None:
                plan.close()
            for spilled in (copied.unrepresentable, copied.resumed, copied.problems):
                if isinstance(spilled, SpillMap):
                    spilled.close()

    def _listing_source(self, source: ObjectSource, started_at) -> ObjectSource | ReportListing:
        """What the source is listed from: the adapter (LIST), or the spec's inventory
        report, whose manifest is read and checked here (raises SpecError or
        EndpointError)."""
        settings = self.spec.listing
        if settings.source == "list":
            self.listing = ListingRecord(source="list")
            return source
        if self.spec.source.provider == "local":
            raise SpecError(self.loaded.path, None, "listing.source",
                            "inventory reports need an S3 source")
        location = ReportLocation.parse(settings.manifest)
        reader = open_source(self.spec.source.model_copy(update={"bucket": location.bucket,
                                                                 "prefix": ""}),
                             self.loaded.source_keys)
        report = InventoryReport(location, reader)
        manifest = report.manifest
        if manifest.source_bucket != self.spec.source.bucket:
            raise SpecError(self.loaded.path, None, "listing.manifest",
                            f"the report lists bucket {manifest.source_bucket!r}, not the "
                            f"source bucket {self.spec.source.bucket!r}")
        self.listing = ListingRecord(
            source="inventory-report", manifest=str(location), report_date=manifest.created,
            report_age_days=round((started_at - manifest.created) / timedelta(days=1), 3),
            file_format=manifest.file_format, data_files=len(manifest.files))
        return ReportListing(report, source.label, source.capabilities)

    def _check_staleness(self, source: ObjectSource, plan: PlanStore, clock: PhaseClock) -> None:
        """Compare the report with the bucket (sampled HEADs, a few prefix LISTs)."""
        settings, options = self.spec.listing.staleness, self.spec.options
        sample = self.spec.verification.sample

        def reported() -> Iterator:
            return (entry.info for entry in plan
                    if entry.age == 0 and not entry.info.deleted_after)

        staleness = check_staleness(reported, source, settings.heads, settings.prefixes,
                                    sample.seed if sample else 0, options.concurrency,
                                    options.max_retries, clock.retried,
                                    self.keys.source_prefix)
        self.listing = self.listing.model_copy(update={"staleness": staleness})

    def _accepted_gaps(self) -> dict[str, str]:
        return accepted_gaps(self.loaded)

    def _carry_bucket_config(self, target: ObjectSource) -> None:
        """Carry (or, verifying only, compare) the source bucket's settings."""
        from exitkit.drill.bucket_config import carry_settings
        from exitkit.drill.bucket_translation import TranslationContext

        spec = self.spec
        clock = self._phase("bucket-config", None, None)
        context = TranslationContext(
            source_bucket=spec.source.bucket, target_bucket=spec.target.bucket, keys=self.keys,
            principals=spec.bucket_config.principals,
            storage_classes=spec.target.storage_classes,
            held_classes=target.capabilities.storage_classes,
            target_kms_key=spec.target.encryption.kms_key_id if spec.target.encryption else None)
        self.bucket_settings = carry_settings(
            open_settings_reader(spec.source, self.loaded.source_keys),
            open_settings_writer(spec.target, self.loaded.target_keys), context,
            self._accepted_gaps(), write=not self.verify_only)
        clock.add(len(self.bucket_settings.record.settings), 0)
        self._end(clock)

    def _restore_bucket_config(self) -> None:
        """Before cleanup deletes the copies: put the target's earlier settings back (a
        carried policy could otherwise refuse the deletes)."""
        carried = self.bucket_settings
        if carried is None or not carried.earlier:
            return
        from exitkit.drill.bucket_config import restore_settings

        try:
            restore_settings(open_settings_writer(self.spec.target, self.loaded.target_keys),
                             carried)
        except (TransientError, PermanentError) as exc:
            self.errors.append(scrub(f"cleanup of bucket settings: {exc}"))
            carried.record.restored = False
        if not carried.record.restored and not self.errors:
            self.errors.append("cleanup could not put the target's bucket settings back: "
                               + "; ".join(carried.record.restore_problems))

    def _needs_object_lock(self, source: ObjectSource) -> bool:
        """Whether the target bucket must hold Object Lock: the source bucket has it, the
        drill verifies properties and the spec does not accept losing locks and holds."""
        if not self.spec.verification.properties:
            return False
        if {"object_lock", "legal_hold"} <= set(self._accepted_gaps()):
            return False
        try:
            return source.object_lock_enabled()
        except (TransientError, PermanentError) as exc:
            raise EndpointError(source.label, str(exc)) from None

    def _properties_record(self, target: ObjectSource) -> PropertiesRecord | None:
        if self.census is None:
            return None
        census = self.census.record()
        plan, capabilities = self.property_plan, target.capabilities
        mapping = [StorageClassMapping(
                       source=name, target=plan.storage_class(name), objects=count.objects,
                       held=plan.storage_class(name) in capabilities.storage_classes)
                   for name, count in census.storage_classes.items()]
        return PropertiesRecord(
            census=census,
            capabilities=self.capabilities_source,
            target_object_lock=capabilities.object_lock,
            target_encryption=plan.encryption and " ".join(
                filter(None, (plan.encryption, plan.kms_key_id))),
            storage_classes=mapping)

    def _workloads_phase(self, catalog: Catalog, target: ObjectSource) -> WorkloadsPhase | None:
        """The workloads phase, preflighted (raises EndpointError), or None without workloads."""
        settings = self.spec.workloads
        if settings is None or self.verify_only:
            return None
        from exitkit.drill.workloads import MigratedData, WorkloadsPhase, data_env

        secrets = self.loaded.workload_secrets
        phase = WorkloadsPhase(
            drill=self.spec.name, run_id=self.run_id, settings=settings,
            registry_logins=secrets.logins(), secret_env=secrets.env(),
            retries=self.spec.options.max_retries,
            price=WorkloadPricing(catalog, self._workload_entries(catalog)).price,
            observer=self.observer,
            data=MigratedData(target, self.keys.target_prefix,
                              data_env(settings.data_endpoint or endpoint_url(self.spec.target),
                                       self.spec.target.bucket, self.keys.target_prefix)))
        phase.preflight()
        return phase

    def _workload_entries(self, catalog: Catalog) -> tuple[CatalogEntry | None,
                                                           CatalogEntry | None]:
        """The catalog entries pricing workloads where they run now and on the target."""
        settings, found = self.spec.workloads, []
        for field, name, default in (
                ("source_catalog", settings.source_catalog, self.price_entries[0]),
                ("runtime.catalog", settings.runtime.catalog, None)):
            if name is not None and name not in catalog.entries:
                raise SpecError(self.loaded.path, None, f"workloads.{field}",
                                f"no provider {name!r} in the catalog")
            found.append(catalog.entries[name] if name is not None else default)
        return found[0], found[1]

    def _run_workloads(self, phase: WorkloadsPhase) -> None:
        clock = PhaseClock("workloads", None)
        self.workloads = phase.run()
        self.errors += [f"workload {w.name}: {error}" for w in self.workloads for error in w.errors]
        clock.add(len(self.workloads), sum(w.image.bytes for w in self.workloads))
        self.phases.append(clock.finish())

    def _plan_vms(self, catalog: Catalog, on: date) -> None:
        from exitkit.drill.vm_plan import plan_vms

        clock = PhaseClock("vm-plan", None)
        self.vm_plan = plan_vms(self.spec.vms, self.loaded.vm_keys, catalog, on)
        clock.add(self.vm_plan.totals.vms, 0)
        self.phases.append(clock.finish())

    def _vm_moves_phase(self, target: ObjectSource) -> VmMovesPhase | None:
        """The VM moves phase, preflighted (raises EndpointError), or None without moves."""
        section = self.spec.vms
        if section is None or not section.move or self.verify_only:
            return None
        from exitkit.drill.vm_moves import VmMovesPhase
        from exitkit.drill.workloads import MigratedData, data_env

        phase = VmMovesPhase(
            drill=self.spec.name, run_id=self.run_id, section=section,
            spec_dir=Path(self.loaded.path).parent, keys=self.loaded.vm_keys,
            observer=self.observer,
            data=MigratedData(target, self.keys.target_prefix, data_env(
                section.target.data_endpoint or endpoint_url(self.spec.target),
                self.spec.target.bucket, self.keys.target_prefix)))
        phase.preflight()
        return phase

    def _move_vms(self, phase: VmMovesPhase) -> None:
        clock = PhaseClock("vm-moves", None)
        self.vm_moves = phase.run(self.vm_plan)
        self.errors += [f"vm {vm.vm}: {error}" for vm in self.vm_moves for error in vm.errors]
        clock.add(len(self.vm_moves), 0)
        self.phases.append(clock.finish())

    def _open_journal(self, started_at) -> CopyJournal:
        """Start this run's copy journal, or continue the interrupted run's on resume."""
        path = journal_path(self.results_dir, self.spec.name)
        if not (self.resume and path.exists()):
            return CopyJournal(path, JournalHeader(
                drill=self.spec.name, spec_sha256=self.loaded.sha256, run_id=self.run_id,
                started_at=started_at.isoformat()))
        journal = CopyJournal(path, None)
        if journal.header.spec_sha256 != self.loaded.sha256:
            journal.close(remove=False)
            raise SpecError(self.loaded.path, None, None,
                            f"the spec changed since the interrupted run "
                            f"{journal.header.run_id} ({path}); run without --resume to "
                            f"start over")
        self.resumed_from = journal.header.run_id
        return journal

    def _journaled_problems(self) -> dict[tuple[str, int], tuple[str, str]]:
        """For ``verify``: what the last unfinished run of this spec could not copy, with
        class and reason (empty when there is none)."""
        path = journal_path(self.results_dir, self.spec.name)
        if not path.exists():
            return {}
        header, problems = read_problems(path)
        return problems if header.spec_sha256 == self.loaded.sha256 else {}

    def _price_entries(self, catalog: Catalog) -> tuple[CatalogEntry | None, CatalogEntry | None]:
        """The catalog entries that price each side (None for a side without one)."""
        found = []
        for side, endpoint in (("source", self.spec.source), ("target", self.spec.target)):
            if endpoint.catalog:
                if endpoint.catalog not in catalog.entries:
                    raise SpecError(self.loaded.path, None, f"{side}.catalog",
                                    f"no provider {endpoint.catalog!r} in the catalog")
                found.append(catalog.entries[endpoint.catalog])
            else:
                found.append(catalog.for_endpoint(endpoint.provider, region_of(endpoint)))
        return found[0], found[1]

    def _projection(self, estate: tuple[int, int] | None) -> Projection | None:
        copy_phase_record = next((p for p in self.phases if p.name == "copy"), None)
        if copy_phase_record is None or estate is None:
            return None
        restore = self.spec.restore
        archived = self.estate_classes if self.source_restorable else {}  # GCS needs none
        return project(copy_phase_record, *estate, self.spec.options.concurrency,
                       self.spec.projection.hosts, archived,
                       restore.tier if restore else None)

    def _cost(self, catalog: Catalog, prices, source: ObjectSource, target: ObjectSource,
              plan: PlanStore | None, copied: CopyOutcome | None,
              estate: tuple[int, int] | None, projection: Projection | None,
              on: date) -> CostReport | None:
        if None in prices or plan is None or copied is None or estate is None:
            return None
        counted_source, counted_target = source.requests.snapshot(), target.requests.snapshot()
        drill = Usage(egress_bytes=counted_source.bytes_read, source_reads=counted_source.reads,
                      source_writes=counted_source.writes, target_reads=counted_target.reads,
                      target_writes=counted_target.writes,
                      stored_bytes=_copied_bytes(copied),
                      stored_days=self.spec.cost.keep_days,
                      class_reads=tuple((name, count.bytes) for name, count in count_classes(
                          entry.info for entry in plan if entry.order in copied.copied).items()))
        archived = copied.archived
        drill = replace(drill, restores=tuple(
            Restores(storage_class, tier, requests, size) for (storage_class, tier),
            (requests, size) in sorted(archived.restored_bytes().items())) if archived else ())
        tier = projection.restore_tier if projection else None
        days = projection.duration_on_hosts_s / 86400 if projection else 0.0
        full_exit = scaled_usage(drill, len(plan), *estate, stored_days=days, restores=tuple(
            Restores(name, tier, count.objects, count.bytes)
            for name, count in self.estate_classes.items()
            if tier and needs_restore(name, self.source_restorable)),
            class_reads=tuple((name, count.bytes) for name, count in self.estate_classes.items()))
        return cost_report(CostModel(catalog, *prices), drill, full_exit, on,
                           [f"the drill copy is kept {self.spec.cost.keep_days:g} days"])

    def _refuse_foreign_data(self, target: ObjectTarget) -> None:
        """A drill writing under a prefix must not share its bucket with other data
        unless the spec says so: cleanup and verification would be ambiguous."""
        prefix = self.spec.target.prefix
        if not prefix or self.spec.target.allow_foreign_data:
            return
        try:
            foreign = next((info.key for info in target.list("")
                            if not info.key.startswith(prefix)), None)
        except (TransientError, PermanentError) as exc:
            raise EndpointError(target.label, str(exc)) from None
        if foreign is not None:
            raise EndpointError(target.label, f"the bucket already holds data outside the "
                                f"drill's prefix {prefix!r} (for example {foreign!r}); set "
                                f"target.allow_foreign_data: true to run anyway")

    def _entries(self, store: ObjectSource, prefix: str):
        if self.spec.verification.versions == "all":
            return version_entries(store, prefix)
        return current_entries(store, prefix)

    def _phase(self, name: str, total_objects: int | None, total_bytes: int | None,
               concurrency: int | None = None) -> PhaseClock:
        self.observer.phase_started(name, total_objects, total_bytes)
        self._clock = PhaseClock(name, concurrency)
        return self._clock

    def _retried(self) -> None:
        """Count a retry of an adapter's request in the phase that is running."""
        if self._clock is not None:
            self._clock.retried()

    def _end(self, clock: PhaseClock) -> None:
        self.phases.append(clock.finish())
        self.observer.phase_finished(clock.name)

    #: Whether the copy may start on the first listed entries (a distributed drill shards
    #: the whole plan first).
    streams_listing = True

    def _streams_inventory(self) -> bool:
        """Whether inventory and copy run at once: a live listing (an inventory report is
        checked for staleness first), copied by exitkit, not resumed (a resumed run
        compares the whole plan with its journal)."""
        return (self.streams_listing and not self.verify_only and not self.resumed_from
                and not isinstance(self.listed, ReportListing)
                and self.spec.options.engine != "rclone")

    def _inventory(self, source: ObjectSource) -> tuple[PlanStore, tuple[int, int]]:
        """The plan (entries in scope, on disk) and the estate: objects and bytes of the
        whole bucket, listed separately when the drill covers only a prefix."""
        clock = self._phase("inventory", None, None)
        progress = BatchedProgress(clock, self.observer, "inventory")

        def counted(entries: Iterable[Entry]) -> Iterator[Entry]:
            for entry in entries:
                progress.add(entry.info.size)
                yield entry

        plan = PlanStore()
        try:
            plan.extend(counted(self._entries(self.listed, self.keys.source_prefix)))
            if isinstance(self.listed, ReportListing):
                self._check_staleness(source, plan, clock)
        except BaseException:
            plan.close()
            raise
        progress.flush()
        if self.spec.verification.properties:
            self.census = Census()
            if self.verify_only:  # else the copy counts what its GETs read
                self._count_properties(source, plan)
        estate = self._estate(plan)
        self._end(clock)
        return plan, estate

    def _inventory_and_copy(self, source: ObjectSource, target: ObjectTarget,
                            outcome: CopyOutcome) -> tuple[PlanStore, tuple[int, int]]:
        """Inventory and copy at once: the listing fills the plan on a thread of its own
        and the copy starts on its first page. The inventory phase ends when the last
        entry is listed; the plan and estate are those of :meth:`_inventory`."""
        clock = self._phase("inventory", None, None)
        progress = BatchedProgress(clock, self.observer, "inventory")
        plan = PlanStore()
        estate: list[tuple[int, int]] = []

        def counted(entries: Iterable[Entry]) -> Iterator[Entry]:
            for entry in entries:
                progress.add(entry.info.size)
                yield entry

        def inventory_done() -> None:
            progress.flush()
            estate.append(self._estate(plan))
            self._end(clock)

        if self.spec.verification.properties:
            self.census = Census()
        filling = PlanFilling(plan, counted(self._entries(self.listed, self.keys.source_prefix)),
                              then=inventory_done)
        try:
            self._copy(plan, source, target, outcome, filling.entries())
            filling.wait()
        except BaseException:
            filling.close()
            raise
        return plan, estate[0]

    def _estate(self, plan: PlanStore) -> tuple[int, int]:
        """Objects and bytes of the whole bucket: the plan's, or when the drill covers only
        a prefix, those of a listing of the bucket (``estate_classes`` too)."""
        estate = (plan.objects, plan.bytes)
        self.estate_classes = plan.storage_classes()
        if self.keys.source_prefix:
            objects = size = 0
            tally = StorageClassTally()
            for info in self.listed.list(""):
                objects, size = objects + 1, size + info.size
                tally.add("estate", info)
            estate = (objects, size)
            self.estate_classes = tally.summary().get("estate", {})
        return estate

    def _count_properties(self, source: ObjectSource, entries: Iterable[Entry]) -> None:
        """Count in the census the properties of *entries*, read with one HEAD each."""
        for head in head_all(source, (entry.info for entry in entries
                                      if not entry.info.is_delete_marker),
                             self.spec.options.concurrency, self.census):
            self.census.add(head)

    def _left_to_copy(self, plan: PlanStore, target: ObjectTarget,
                      outcome: CopyOutcome) -> tuple[int, int]:
        """Objects and bytes of the plan still to copy. On resume, what the journal shows is
        still in place on the target goes into ``outcome.resumed``, with the versions the
        interrupted run wrote but did not journal (journaled now), and journaled copies no
        longer in place are dropped from the journal (they are copied again)."""
        objects, size = plan.objects, plan.bytes
        if self.resumed_from:
            on_target = self._entries(target, self.keys.target_prefix)
            resumed = still_in_place(plan, outcome.copied, on_target,
                                     self.spec.verification.versions == "all",
                                     into=outcome.resumed, adopted=outcome.copied)
            for order in outcome.copied:  # the journal pages in key order: deleting is safe
                if order not in resumed:
                    del outcome.copied[order]  # no longer in place: copied again below
            objects -= len(resumed)
            size -= sum(resumed.values())
        return objects, size

    def _copy(self, plan: PlanStore, source: ObjectSource, target: ObjectTarget,
              outcome: CopyOutcome, listed: Iterable[Entry] | None = None) -> None:
        """Copy the plan, except what a resumed run's journal shows is already on the target.
        With *listed*, the plan's entries come from there as the inventory lists them (the
        plan is whole once they run out)."""
        if listed is None:
            objects, size = self._left_to_copy(plan, target, outcome)
            to_copy: Iterable[Entry] = plan if not self.resumed_from else (
                entry for entry in plan if entry.order not in outcome.resumed)
        else:
            objects = size = None
            to_copy = listed
        clock = self._phase("copy", objects, size, self.spec.options.concurrency)
        options = self.spec.options
        if options.engine == "rclone":
            spec, loaded = self.spec, self.loaded
            rclone_copy_phase(to_copy, spec.source, loaded.source_keys, spec.target,
                              loaded.target_keys, target.capabilities, self.keys,
                              options.concurrency, options.max_retries, clock, self.observer,
                              outcome)
        else:
            restorer = open_restorer(source.inner)
            outcome.archived = ArchivedObjects(
                restorer and RetryingRestorer(restorer, options.max_retries, self._retried),
                self.spec.restore, self.restore_book, self.observer)
            outcome.census = self.census
            copy_phase(to_copy, source, target, self.keys, options.concurrency,
                       options.max_retries, clock, self.observer, outcome, self.property_plan,
                       self.spec.verification.reads_target_attributes)
        if self.census is not None:  # what the copy did not read: one HEAD each
            read_by_copy = outcome.census is not None
            self._count_properties(source, (entry for entry in plan if not read_by_copy
                                            or entry.order in outcome.resumed
                                            or entry.order not in outcome.copied))
        if isinstance(outcome.copied, CopyJournal):
            outcome.copied.record_problems(outcome.problems)
        self._end(clock)

    def _cleanup(self, target: ObjectTarget, outcome: CopyOutcome) -> CleanupRecord:
        clock = self._phase("cleanup", len(outcome.copied), None, self.spec.options.concurrency)
        options = self.spec.options
        try:
            record = cleanup_phase(target, outcome, self.keys.target_prefix, options.concurrency,
                                   clock, self.observer)
        except (TransientError, PermanentError) as exc:
            self.errors.append(scrub(f"cleanup: {exc}"))
            record = CleanupRecord(requested=len(outcome.copied), deleted=0, failures=[],
                                   remaining=len(outcome.copied), verified=False)
        self._end(clock)
        if not record.verified and not self.errors:
            self.errors.append(f"cleanup left {record.remaining} written objects on the target")
        return record

    def _verify(self, source: ObjectSource, target: ObjectSource, plan: PlanStore,
                copied: CopyOutcome, stem: str) -> Verification:
        clock = self._phase("verify", len(plan), None, self.spec.options.concurrency)
        options = self.spec.options
        known = self._journaled_problems() if self.verify_only else copied.known_classes()
        scope = self._verify_scope(plan, copied, stem, self._listed_entries(plan),
                                   prefetched(self._entries(target, self.keys.target_prefix)),
                                   known)
        try:
            verification = verify_phase(source, target, scope, options.concurrency,
                                        options.max_retries, clock, self.observer)
        except BaseException:
            scope.differences.discard()
            scope.manifest.discard()
            raise
        self._end(clock)
        return self._with_staleness_gap(verification)

    def _listed_entries(self, plan: PlanStore) -> Iterable[Entry]:
        """The source entries in scope as verification reads them: the plan's own rows when
        the listing came from an inventory report, else a fresh listing (read ahead on a
        thread of its own, as the target's is)."""
        if isinstance(self.listed, ReportListing):
            return iter(plan)
        return prefetched(self._entries(self.listed, self.keys.source_prefix))

    def _verify_scope(self, plan: PlanStore, copied: CopyOutcome, stem: str,
                      source_entries: Iterable[Entry], target_entries: Iterable[Entry],
                      known) -> VerifyScope:
        """What the verify phase compares, and where its evidence goes."""
        settings, options = self.spec.verification, self.spec.options
        return VerifyScope(
            source_entries=source_entries, target_entries=target_entries,
            copied=copied.copied, known=known, keys=self.keys,
            sampler=Sampler(settings.sample, plan, options.part_size),
            versions=settings.versions, compare_metadata=settings.metadata,
            differences=SideFile(self.results_dir, f"{stem}.differences.jsonl"),
            manifest=ManifestWriter(self.results_dir, f"{stem}.manifest.jsonl"),
            properties=self.property_plan if settings.properties else None,
            accepted_gaps=self._accepted_gaps(),
            engine_metadata=ENGINE_METADATA if options.engine == "rclone" else frozenset(),
            source_restorable=self.source_restorable)

    def _with_staleness_gap(self, verification: Verification) -> Verification:
        """*verification*, with a gap when the inventory report it covered was stale."""
        staleness = self.listing and self.listing.staleness
        if staleness and staleness.stale:
            found = ", ".join(f"{count} {kind}" for kind, count in staleness.counts.items()
                              if count)
            verification = verification.model_copy(update={"gaps": [
                *verification.gaps, f"the inventory report is stale ({found} among "
                f"{staleness.heads} HEADs and {staleness.listed_objects} listed objects); "
                f"the drill's scope is the report's"]})
        return verification

    def _record(self, started_at, ended_at, plan: PlanStore | None,
                copied: CopyOutcome | None, verification: Verification | None,
                requests: dict[str, RequestCounts], projection: Projection | None,
                cost: CostReport | None, cleanup: CleanupRecord | None,
                properties: PropertiesRecord | None = None) -> DrillRecord:
        spec, options = self.spec, self.spec.options
        duration = ended_at - started_at
        expectations = evaluate(spec.expectations, verification, duration, projection, cost)
        if spec.workloads is not None:
            expectations += workload_expectations(
                spec.expectations, self.workloads,
                {service.name for service in spec.workloads.services if service.data})
        if self.bucket_settings is not None:
            expectations.append(bucket_config_expectation(self.bucket_settings.record))
        if spec.vms is not None and spec.vms.move and not self.verify_only:
            expectations += vm_move_expectations(
                spec.expectations, self.vm_moves, {move.vm for move in spec.vms.move if move.data})
        if self.errors:
            verdict = "error"
        else:
            verdict = "passed" if all(e.passed for e in expectations) else "failed"
        return DrillRecord(
            run_id=self.run_id,
            exitkit_version=__version__,
            drill=DrillIdentity(name=spec.name, description=spec.description,
                                spec_path=self.loaded.path, spec_sha256=self.loaded.sha256),
            host=socket.gethostname(),
            operator=_operator(),
            started_at=started_at,
            ended_at=ended_at,
            duration_s=round(duration / timedelta(seconds=1), 6),
            source=identity(spec.source, self.price_entries[0]),
            target=identity(spec.target, self.price_entries[1]),
            options=RunOptions(concurrency=options.concurrency, part_size=options.part_size,
                               max_retries=options.max_retries, verify_only=self.verify_only),
            phases=self.phases,
            inventory=Inventory(objects=plan.objects, bytes=plan.bytes,
                                storage_classes=plan.storage_classes())
            if plan is not None else None,
            copy=None if self.verify_only else _copy_summary(copied, self.resumed_from,
                                                             options.engine),
            verification=verification,
            requests=requests,
            cleanup=cleanup,
            projection=projection,
            cost=cost,
            expectations=expectations,
            verdict=verdict,
            errors=self.errors,
            workloads=self.workloads,
            vms=self.vm_plan,
            vm_moves=self.vm_moves,
            properties=properties,
            bucket_config=self.bucket_settings.record if self.bucket_settings else None,
            listing=self.listing,
            scope=ScopeRecord.model_validate(spec.scope.model_dump()) if spec.scope else None,
            provenance=self.provenance.result(),
        )


def _copied_bytes(outcome: CopyOutcome) -> int:
    """Bytes of everything on the target (summed by the journal when it holds them)."""
    if isinstance(outcome.copied, CopyJournal):
        return outcome.copied.total_size()
    return sum(obj.size for obj in outcome.copied.values())


def _multipart_objects(outcome: CopyOutcome) -> int:
    """Objects on the target written as multipart uploads (counted by the journal when it
    holds them)."""
    if isinstance(outcome.copied, CopyJournal):
        return outcome.copied.multipart_count()
    return sum(1 for obj in outcome.copied.values() if obj.parts > 1)


def _copy_summary(outcome: CopyOutcome, resumed_from: str | None,
                  engine: str = "exitkit") -> CopySummary:
    return CopySummary(
        engine=engine,
        engine_version=rclone_version() if engine == "rclone" else None,
        resumed_from=resumed_from,
        resumed_objects=len(outcome.resumed),
        resumed_bytes=sum(outcome.resumed.values()),
        objects_copied=len(outcome.copied),
        bytes_copied=_copied_bytes(outcome),
        multipart_objects=_multipart_objects(outcome),
        failed=outcome.failed,
        unreadable=outcome.unreadable,
        failures=outcome.failures,
        unrepresentable=[KeyProblem(key=key if age == 0 else f"{key} ({age} older)",
                                    reason=reason)
                         for (key, age), reason in islice(outcome.unrepresentable.items(),
                                                          PROBLEM_LIMIT)],
        restore=outcome.archived.record(outcome.copied)
        if outcome.archived and (outcome.archived.entries or outcome.archived.requests) else None,
    )


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
