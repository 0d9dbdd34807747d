"""The library API: everything the CLI does, callable from Python.

>>> from exitkit.api import run_drill
>>> result = run_drill("drills/demo.yaml", results_dir="results")   # doctest: +SKIP
>>> result.record.verdict, result.path                               # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from exitkit.drill.events import DrillObserver
from exitkit.drill.runner import DrillRun
from exitkit.drill.status import RestoreProgress, restore_progress
from exitkit.drill.spec import DrillSpec
from exitkit.drill.spec_file import load_spec
from exitkit.errors import ExitkitError
from exitkit.evidence.record import DrillRecord
from exitkit.evidence.store import record_filename, write_atomically, write_record

# What only some commands need (assessment, probes, scans, Dask, ledgers, evidence
# stores, cloud SDKs) is imported where it is used, so that a drill starts light.
if TYPE_CHECKING:
    from exitkit.assess.model import Assessment
    from exitkit.assess.run import AssessOptions
    from exitkit.drill.probe import ProbeReport
    from exitkit.drill.scan import ScanReport
    from exitkit.evidence.ledger import LedgerEntry
    from exitkit.evidence.signing import Signer
    from exitkit.evidence.timestamps import TimestampAuthority

#: The public API, re-exported by the ``exitkit`` package (pinned by tests/test_imports.py).
__all__ = ["AssessOptions", "AssessResult", "DrillResult", "RestoreProgress", "assess_estate",
           "probe_target", "restore_progress", "run_drill", "scan_source"]


@dataclass(frozen=True)
class DrillResult:
    """A finished run: its record and where the record was written."""

    record: DrillRecord
    path: Path
    ledger_entry: LedgerEntry | None = None

    @property
    def exit_code(self) -> int:
        """0 passed, 1 an expectation failed, 2 the drill could not reach a verdict."""
        return self.record.exit_code


def run_drill(spec_path: str | os.PathLike[str], results_dir: str | os.PathLike[str] = "results",
              observer: DrillObserver | None = None, verify_only: bool = False,
              environ: Mapping[str, str] | None = None,
              ledger: str | os.PathLike[str] | None = None,
              signer: Signer | None = None, resume: bool = False,
              scheduler: str | None = None, tsa_url: str | None = None) -> DrillResult:
    """Load *spec_path*, run the drill (or only its verification) and write the record.

    With *ledger*, the record is appended there, signed by *signer* (default: the key
    named by ``EXITKIT_SIGNING_KEY_FILE`` or held in ``EXITKIT_SIGNING_KEY``). With an
    evidence store in the spec, the record and its side files are also stored there.
    With *resume*, an interrupted run of the same drill and spec is continued: what its
    checkpoint journal shows is still in place on the target is not copied again.
    With *scheduler* (or the spec's ``distributed.scheduler``), a Dask scheduler's
    address, the copy and the verification run shard by shard on its workers (see
    docs/distributed.md); the record is the one a drill in one process writes, plus
    ``distributed``.
    The ledger entry is stamped by the RFC 3161 TSA at *tsa_url* (default: the spec's
    ``evidence.timestamps``); when the TSA cannot be reached, the record and the entry are
    kept and :attr:`DrillResult.ledger_entry` says why the entry is untimestamped.

    Raises :class:`exitkit.errors.ExitkitError` for bad specs, missing keys and
    unreachable endpoints; all of these are found before the drill starts copying.
    """
    loaded = load_spec(spec_path, environ)
    if ledger is not None and signer is None:
        from exitkit.evidence.signing import load_signer

        signer = load_signer(environ=environ)
        if signer is None:
            raise ExitkitError(f"{ledger}: appending to a ledger needs a signing key: pass "
                               f"--signing-key or set EXITKIT_SIGNING_KEY_FILE (create one "
                               f"with 'exitkit keys generate')")
    store_spec = loaded.spec.evidence.store
    store = None
    if store_spec:
        from exitkit.evidence.bucket_store import BucketEvidenceStore

        store = BucketEvidenceStore(store_spec, loaded.store_keys)
        store.check()
    distributed = loaded.spec.distributed
    scheduler = scheduler or (distributed.scheduler if distributed else None)
    if scheduler:
        from exitkit.drill.distributed import DistributedDrillRun

        record = DistributedDrillRun(loaded, results_dir, scheduler, observer=observer,
                                     verify_only=verify_only, resume=resume).execute()
    else:
        record = DrillRun(loaded, results_dir, observer=observer, verify_only=verify_only,
                          resume=resume).execute()
    if store:
        side_files = [Path(results_dir) / name for name in record.side_files()]
        record = record.model_copy(update={"evidence_store": store.store_side_files(
            side_files, record_filename(record))})
    path = write_record(record, results_dir)
    entry = None
    if ledger is not None:
        from exitkit.evidence import ledger as drill_ledger

        entry = drill_ledger.append(ledger, record, path, signer, _tsa(loaded.spec, tsa_url))
    if store:
        store.store_record(path, record.evidence_store)
    return DrillResult(record=record, path=path, ledger_entry=entry)


def _tsa(spec: DrillSpec, tsa_url: str | None) -> TimestampAuthority | None:
    """The TSA named by the caller, else by the spec; None for none."""
    configured = spec.evidence.timestamps
    url = tsa_url or (configured.tsa_url if configured else None)
    if url is None:
        return None
    from exitkit.evidence.timestamps import TimestampAuthority

    timeout = configured.timeout.total_seconds() if configured else 10.0
    return TimestampAuthority(url, timeout)


def scan_source(spec_path: str | os.PathLike[str],
                environ: Mapping[str, str] | None = None) -> tuple[ScanReport, dict[str, str]]:
    """Count what the spec's source holds and what its target would lose; copy nothing.

    Returns the report and the losses the spec accepts (property -> reason). Raises
    :class:`exitkit.errors.ExitkitError` for bad specs and unreachable sources.
    """
    from exitkit.drill.property_setup import accepted_gaps, property_plan, target_capabilities
    from exitkit.drill.scan import scan
    from exitkit.providers.registry import open_source
    from exitkit.providers.retrying import RetryingSource

    loaded = load_spec(spec_path, environ)
    capabilities, origin = target_capabilities(loaded)
    plan = property_plan(loaded, capabilities)
    source = open_source(loaded.spec.source, loaded.source_keys)
    source = RetryingSource(source, loaded.spec.options.max_retries, source.requests.retried)
    return scan(loaded, source, capabilities, origin, plan), accepted_gaps(loaded)


def probe_target(spec_path: str | os.PathLike[str], output: str | os.PathLike[str],
                 environ: Mapping[str, str] | None = None) -> ProbeReport:
    """Measure what the spec's target holds under a scratch prefix (cleaned up, proven
    by listing) and save the report to *output* (JSON, usable as
    ``target.capabilities_file``). A missing bucket is created (with Object Lock) when the
    spec allows it; an existing one is probed as it is.
    """
    from exitkit.drill.probe import run_probe
    from exitkit.providers.contract import Capabilities
    from exitkit.providers.properties import CHECKSUM_ALGORITHMS
    from exitkit.providers.registry import label_of, open_target, profile_capabilities

    loaded = load_spec(spec_path, environ)
    endpoint = loaded.spec.target
    # the adapter sends and reads every checksum, so that they can be measured
    probing = Capabilities(additional_checksums=frozenset(CHECKSUM_ALGORITHMS),
                           object_lock=True, legal_hold=True)
    target = open_target(endpoint, loaded.target_keys, loaded.spec.options.part_size, probing)
    try:
        target.check()
        exists = True
    except ExitkitError:
        exists = False
    target.prepare(create=endpoint.create_bucket, versioned=False, object_lock=not exists)
    target.capabilities = probing
    kms_key_id = endpoint.encryption.kms_key_id if endpoint.encryption else None
    report = run_probe(target, label_of(endpoint), endpoint.prefix,
                       profile_capabilities(endpoint), kms_key_id)
    write_atomically(Path(output), report.model_dump_json(indent=2) + "\n")
    return report


def assess_estate(options: AssessOptions, environ: Mapping[str, str] | None = None,
                  output_dir: str | os.PathLike[str] | None = None) -> AssessResult:
    """Assess the estate *options* name (``exitkit assess``); with *output_dir*, write the
    assessment (``assessment.json``) and the exit plan (``exit-plan.html``,
    ``exit-plan.md``) there, each atomically.

    Raises :class:`exitkit.errors.ExitkitError` for bad input (a state file's error names
    file, line and field) and unreachable endpoints.
    """
    from exitkit.assess.plan import PLAN_FORMATS, render_plan
    from exitkit.assess.run import assess

    assessment = assess(options, environ)
    written: list[Path] = []
    if output_dir is not None:
        directory = Path(output_dir)
        documents = {"assessment.json": assessment.model_dump_json(indent=2) + "\n",
                     **{f"exit-plan.{fmt}": render_plan(assessment, fmt)
                        for fmt in PLAN_FORMATS}}
        for name, text in documents.items():
            write_atomically(directory / name, text)
            written.append(directory / name)
    return AssessResult(assessment, written)


@dataclass(frozen=True)
class AssessResult:
    """An assessment and the files written for it."""

    assessment: Assessment
    files: list[Path]

    @property
    def exit_code(self) -> int:
        """0 when no asset is blocked, 1 when one is."""
        return self.assessment.exit_code


def __getattr__(name: str):
    """:class:`~exitkit.assess.run.AssessOptions`, imported on first use (it brings the
    assessment's cloud SDKs)."""
    if name == "AssessOptions":
        from exitkit.assess.run import AssessOptions

        return AssessOptions
    raise AttributeError(f"module 'exitkit.api' has no attribute {name!r}")
