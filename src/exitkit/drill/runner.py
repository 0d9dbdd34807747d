"""Run a drill: preflight, inventory, copy, verify, judge, and produce its record.

Data flows one way: spec -> plan (inventory) -> copy -> verify -> measure -> record.
The source is opened through the read-only contract; nothing here can write to it.
"""

import getpass
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta

from exitkit import __version__
from exitkit.drill.copy import CopyOutcome, copy_phase
from exitkit.drill.events import DrillObserver, SilentObserver
from exitkit.drill.expectations import evaluate
from exitkit.drill.keys import KeyMap
from exitkit.drill.spec import Endpoint
from exitkit.drill.spec_file import LoadedSpec
from exitkit.errors import PermanentError, SpecError, TransientError
from exitkit.evidence.record import (CopySummary, DrillIdentity, DrillRecord, EndpointIdentity,
                                     Inventory, PhaseRecord, RunOptions, Verification)
from exitkit.measure.timing import PhaseClock, utc_now
from exitkit.providers.contract import ObjectInfo, ObjectSource, ObjectTarget
from exitkit.providers.registry import endpoint_url, open_source, open_target, region_of
from exitkit.redaction import scrub
from exitkit.verify.ordering import in_key_order
from exitkit.verify.verifier import verify_phase


@dataclass
class Plan:
    """The inventory of the source in scope, in key order."""

    objects: list[ObjectInfo]

    @property
    def bytes(self) -> int:
        """Total bytes in scope."""
        return sum(info.size for info in self.objects)


def identity(endpoint: Endpoint) -> EndpointIdentity:
    """The record's description of an endpoint (never its credentials)."""
    return EndpointIdentity(provider=endpoint.provider, endpoint=endpoint_url(endpoint),
                            region=region_of(endpoint), bucket=endpoint.bucket,
                            prefix=endpoint.prefix)


def _refuse_overlap(loaded: LoadedSpec) -> None:
    source, target = loaded.spec.source, loaded.spec.target
    same_bucket = (endpoint_url(source) == endpoint_url(target) and source.bucket == target.bucket
                   and source.provider == target.provider)
    if same_bucket and (source.prefix.startswith(target.prefix)
                        or target.prefix.startswith(source.prefix)):
        raise SpecError(loaded.path, None, "target",
                        "target overlaps the source (same endpoint, bucket and prefix)")


class DrillRun:
    """One execution of a loaded spec; call :meth:`execute` once."""

    def __init__(self, loaded: LoadedSpec, observer: DrillObserver | None = None,
                 verify_only: bool = False) -> None:
        self.loaded = loaded
        self.spec = loaded.spec
        self.observer = observer or SilentObserver()
        self.verify_only = verify_only
        self.keys = KeyMap(self.spec.source.prefix, self.spec.target.prefix)
        self.phases: list[PhaseRecord] = []
        self.errors: list[str] = []

    def execute(self) -> DrillRecord:
        """Preflight (raises EndpointError), then run every phase and return the record."""
        _refuse_overlap(self.loaded)
        options = self.spec.options
        source = open_source(self.spec.source, self.loaded.source_keys)
        target = open_target(self.spec.target, self.loaded.target_keys, options.part_size)
        started_at = utc_now()
        source.check()
        target.prepare(create=self.spec.target.create_bucket and not self.verify_only)
        plan = copied = verification = None
        try:
            plan = self._inventory(source)
            copied = CopyOutcome() if self.verify_only else self._copy(plan, source, target)
            verification = self._verify(source, target, copied)
        except (TransientError, PermanentError) as exc:
            self.errors.append(scrub(str(exc)))
        ended_at = utc_now()
        return self._record(started_at, ended_at, plan, copied, verification)

    def _phase(self, name: str, total_objects: int | None, total_bytes: int | None) -> PhaseClock:
        self.observer.phase_started(name, total_objects, total_bytes)
        return PhaseClock(name)

    def _end(self, clock: PhaseClock) -> None:
        self.phases.append(clock.finish())
        self.observer.phase_finished(clock.name)

    def _inventory(self, source: ObjectSource) -> Plan:
        clock = self._phase("inventory", None, None)
        listing = in_key_order(source.list(self.keys.source_prefix), key=lambda i: i.key,
                               already_sorted=source.capabilities.lists_in_key_order)
        objects = []
        for info in listing:
            objects.append(info)
            clock.add(1, info.size)
            self.observer.advanced("inventory", 1, info.size)
        self._end(clock)
        return Plan(objects)

    def _copy(self, plan: Plan, source: ObjectSource, target: ObjectTarget) -> CopyOutcome:
        clock = self._phase("copy", len(plan.objects), plan.bytes)
        options = self.spec.options
        outcome = copy_phase(plan.objects, source, target, self.keys, options.concurrency,
                             options.max_retries, clock, self.observer)
        self._end(clock)
        return outcome

    def _verify(self, source: ObjectSource, target: ObjectTarget,
                copied: CopyOutcome) -> Verification:
        clock = self._phase("verify", None, None)
        options = self.spec.options
        verification = verify_phase(source, target, self.keys, copied.copied,
                                    copied.unrepresentable, options.concurrency,
                                    options.max_retries, clock, self.observer)
        self._end(clock)
        return verification

    def _record(self, started_at, ended_at, plan: Plan | None, copied: CopyOutcome | None,
                verification: Verification | None) -> DrillRecord:
        spec, options = self.spec, self.spec.options
        duration = ended_at - started_at
        expectations = evaluate(spec.expectations, verification, duration)
        if self.errors:
            verdict = "error"
        else:
            verdict = "passed" if all(e.passed for e in expectations) else "failed"
        return DrillRecord(
            run_id=str(uuid.uuid4()),
            exitkit_version=__version__,
            drill=DrillIdentity(name=spec.name, description=spec.description,
                                spec_path=self.loaded.path, spec_sha256=self.loaded.sha256),
            host=socket.gethostname(),
            operator=_operator(),
            started_at=started_at,
            ended_at=ended_at,
            duration_s=round(duration / timedelta(seconds=1), 6),
            source=identity(spec.source),
            target=identity(spec.target),
            options=RunOptions(concurrency=options.concurrency, part_size=options.part_size,
                               max_retries=options.max_retries, verify_only=self.verify_only),
            phases=self.phases,
            inventory=Inventory(objects=len(plan.objects), bytes=plan.bytes) if plan else None,
            copy=_copy_summary(copied) if copied and not self.verify_only else None,
            verification=verification,
            expectations=expectations,
            verdict=verdict,
            errors=self.errors,
        )


def _copy_summary(outcome: CopyOutcome) -> CopySummary:
    return CopySummary(
        objects_copied=len(outcome.copied),
        bytes_copied=sum(obj.size for obj in outcome.copied.values()),
        multipart_objects=outcome.multipart_objects,
        failed=outcome.failed,
        failures=outcome.failures,
        unrepresentable=[{"key": key, "reason": reason}
                         for key, reason in outcome.unrepresentable.items()],
    )


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
