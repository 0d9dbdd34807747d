"""Drill evidence from the ledger: which drills covered which asset, and the throughput
this estate's drills measured."""

import os
from dataclasses import dataclass, field

from exitkit.assess.model import DrillEvidence
from exitkit.evidence.ledger import read_entries
from exitkit.evidence.record import DrillRecord, PhaseRecord


@dataclass(frozen=True)
class MeasuredCopy:
    """A copy phase a drill measured, with the ledger entry that holds it."""

    drill: str
    run_id: str
    ledger_entry: int
    phase: PhaseRecord


@dataclass
class LedgerEvidence:
    """Drill runs by asset id, and the copy phases measured, newest last."""

    runs: dict[str, list[DrillEvidence]] = field(default_factory=dict)
    copies: dict[str, list[MeasuredCopy]] = field(default_factory=dict)

    def drills_of(self, asset_id: str) -> list[DrillEvidence]:
        """The runs that covered *asset_id*, newest first."""
        return sorted(self.runs.get(asset_id, []), key=lambda run: run.started_at,
                      reverse=True)

    def latest_copy(self, asset_id: str) -> MeasuredCopy | None:
        """The newest copy phase measured on *asset_id*."""
        copies = self.copies.get(asset_id)
        return copies[-1] if copies else None

    def estate_copies(self) -> list[MeasuredCopy]:
        """The newest copy phase of each drill of this estate."""
        newest: dict[str, MeasuredCopy] = {}
        for copies in self.copies.values():
            for copy in copies:
                newest[copy.drill] = copy
        return list(newest.values())


def asset_ids(record: DrillRecord) -> list[str]:
    """The assets a drill covered: its source bucket (a directory source covers none) and
    the VMs its plan judged."""
    ids = [f"s3://{record.source.bucket}"] if record.source.provider != "local" else []
    if record.vms:
        ids += [f"ec2:{vm.id}" for vm in record.vms.vms]
    return ids


def read_ledger(path: str | os.PathLike[str] | None) -> LedgerEvidence:
    """Every run in the ledger at *path* by the assets it covered (empty without one)."""
    evidence = LedgerEvidence()
    if path is None:
        return evidence
    for entry in read_entries(path):
        record = entry.record
        run = DrillEvidence(drill=record.drill.name, run_id=record.run_id,
                            verdict=record.verdict, started_at=record.started_at,
                            ledger=str(path), ledger_entry=entry.number,
                            entry_sha256=entry.sha256)
        copy = next((phase for phase in record.phases
                     if phase.name == "copy" and phase.objects and phase.duration_s > 0), None)
        for asset_id in asset_ids(record):
            evidence.runs.setdefault(asset_id, []).append(run)
            if copy is not None and asset_id.startswith("s3://"):
                evidence.copies.setdefault(asset_id, []).append(
                    MeasuredCopy(record.drill.name, record.run_id, entry.number, copy))
    return evidence
