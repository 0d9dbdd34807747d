"""Projected exit time and cost of each asset, and of the estate.

Throughput comes, in this order, from the newest drill of the asset itself, from this
estate's drills together (bytes and objects over the time their copy phases took), or
from the stated default below, labelled as such. Costs are priced by the measure
module's cost model under every switching-charge regime; the restore of archived
objects is priced at the bulk tier and its longest latency is added to the time.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from exitkit.assess.coverage import LedgerEvidence
from exitkit.assess.model import AssetProjection, StorageClassSize, ThroughputBasis
from exitkit.evidence.record import CostEstimate
from exitkit.measure.cost import REGIMES, CostModel, Restores, Usage
from exitkit.measure.projection import restore_latency
from exitkit.providers.archive import needs_restore

#: stated default where no drill measured: a single host copying over the internet
DEFAULT_BYTES_PER_S = 50 * 2**20
DEFAULT_OBJECTS_PER_S = 100.0
RESTORE_TIER = "bulk"
DAY_S = 86400


@dataclass(frozen=True)
class Throughput:
    """The copy rate an asset's exit is projected at, and where it comes from."""

    bytes_per_s: float
    objects_per_s: float
    basis: ThroughputBasis
    detail: str


def default_throughput() -> Throughput:
    """The stated default, for assets and estates no drill measured."""
    return Throughput(DEFAULT_BYTES_PER_S, DEFAULT_OBJECTS_PER_S, "default", (
        f"stated default, not measured: {DEFAULT_BYTES_PER_S / 2**20:g} MiB/s and "
        f"{DEFAULT_OBJECTS_PER_S:g} objects/s on one host; run a drill to measure it"))


def estate_throughput(evidence: LedgerEvidence) -> Throughput:
    """This estate's measured rate: all drills' newest copy phases together."""
    copies = evidence.estate_copies()
    seconds = sum(copy.phase.duration_s for copy in copies)
    if not copies or seconds <= 0:
        return default_throughput()
    moved = sum(copy.phase.bytes for copy in copies)
    objects = sum(copy.phase.objects for copy in copies)
    names = ", ".join(f"{c.drill} (ledger entry {c.ledger_entry})" for c in copies)
    return Throughput(moved / seconds, objects / seconds, "measured: this estate", (
        f"measured in this estate's drills {names}: {moved / seconds / 2**20:.3g} MiB/s and "
        f"{objects / seconds:.3g} objects/s over their copy phases"))


def asset_throughput(asset_id: str, evidence: LedgerEvidence, estate: Throughput
                     ) -> Throughput:
    """The rate the asset's own newest drill measured, else the estate's."""
    copy = evidence.latest_copy(asset_id)
    if copy is None:
        return estate
    phase = copy.phase
    return Throughput(phase.bytes_per_s, phase.objects_per_s, "measured: this asset", (
        f"measured by drill {copy.drill}, run {copy.run_id} (ledger entry "
        f"{copy.ledger_entry}): {phase.bytes_per_s / 2**20:.3g} MiB/s and "
        f"{phase.objects_per_s:.3g} objects/s at concurrency {phase.concurrency or '?'}"))


def exit_usage(objects: int, size: int, classes: Mapping[str, StorageClassSize],
               duration_s: float) -> Usage:
    """What moving *objects* and *size* bytes uses: one GET per object at the source, a
    listing request per 1,000, a PUT per object at the target, and the data kept on the
    target while the exit lasts (at least a day); archived classes are restored at bulk."""
    restores = tuple(Restores(name, RESTORE_TIER, held.objects, held.bytes)
                     for name, held in classes.items() if needs_restore(name))
    return Usage(egress_bytes=size, source_reads=objects,
                 source_writes=math.ceil(objects / 1000), target_reads=0,
                 target_writes=objects, stored_bytes=size,
                 stored_days=max(1.0, duration_s / DAY_S), restores=restores)


def add_usage(left: Usage, right: Usage) -> Usage:
    """Two exits' usage together (kept for the longer of the two)."""
    return Usage(left.egress_bytes + right.egress_bytes, left.source_reads + right.source_reads,
                 left.source_writes + right.source_writes, left.target_reads + right.target_reads,
                 left.target_writes + right.target_writes, left.stored_bytes + right.stored_bytes,
                 max(left.stored_days, right.stored_days), left.restores + right.restores)


def price(model: CostModel, usage: Usage, on: date) -> list[CostEstimate]:
    """*usage* priced under every regime."""
    return [model.estimate(usage, regime, on) for regime in REGIMES]


def project_asset(objects: int, size: int, classes: Mapping[str, StorageClassSize],
                  exact: bool, rate: Throughput, model: CostModel, on: date
                  ) -> tuple[AssetProjection, Usage]:
    """The asset's projection and the usage it was priced from."""
    by_objects = objects / rate.objects_per_s if rate.objects_per_s else 0.0
    by_bytes = size / rate.bytes_per_s if rate.bytes_per_s else 0.0
    archived = [name for name in classes if needs_restore(name)]
    latency, _notes = restore_latency(archived, RESTORE_TIER) if archived else (0.0, [])
    duration = max(by_objects, by_bytes) + latency
    usage = exit_usage(objects, size, classes, duration)
    return AssetProjection(
        basis=rate.basis, basis_detail=rate.detail, bytes_per_s=round(rate.bytes_per_s, 3),
        objects_per_s=round(rate.objects_per_s, 3), duration_s=round(duration, 3),
        restore_latency_s=latency, costs=price(model, usage, on),
        cost_bound="exact" if exact else "lower bound"), usage
