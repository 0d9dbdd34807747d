"""Project the duration of a full exit from measured throughput.

Assumptions are written into the record: the full estate moves at the throughput the
drill's copy phase measured, per object and per byte (the slower of the two governs),
and scales linearly with parallel hosts (each with the drill's concurrency), until
provider rate limits or network capacity say otherwise. The per-worker rate (one process,
or the mean of a distributed drill's Dask workers) gives the number of workers the whole
estate needs to fit the Data Act's 30-day transition.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from exitkit.evidence.record import PhaseRecord, Projection
from exitkit.providers.archive import needs_restore, restore_hours

DATA_ACT_TRANSITION = timedelta(days=30)
DATA_ACT_EXTENDED = timedelta(days=213)  # extendable once; total at most 7 months


def restore_latency(archived_classes: Iterable[str], tier: str) -> tuple[float, list[str]]:
    """The longest restore (seconds) of *archived_classes* at *tier*, with how it was set.

    A class that does not offer *tier* (Deep Archive has no expedited tier) is taken at
    its standard tier."""
    hours, notes = 0.0, []
    for storage_class in sorted(set(archived_classes)):
        taken = restore_hours(storage_class, tier)
        used = tier
        if taken is None:
            taken, used = restore_hours(storage_class, "standard"), "standard"
        if taken is None:
            continue
        hours = max(hours, taken)
        notes.append(f"{storage_class} restored at tier {used}: up to {taken:g} h (AWS)")
    return hours * 3600, notes


@dataclass(frozen=True)
class WorkerRate:
    """Copy throughput of one worker, measured over *workers* workers."""

    objects_per_s: float
    bytes_per_s: float
    workers: int = 1


def workers_needed(estate_objects: int, estate_bytes: int, rate: WorkerRate,
                   latency_s: float, window: timedelta = DATA_ACT_TRANSITION) -> int | None:
    """Workers at *rate* that copy the estate within *window* after *latency_s* of
    restores; None when no rate was measured or the latency alone exceeds the window."""
    budget = window.total_seconds() - latency_s
    if budget <= 0 or rate.objects_per_s <= 0 or rate.bytes_per_s <= 0:
        return None
    one_worker = max(estate_objects / rate.objects_per_s, estate_bytes / rate.bytes_per_s)
    return max(1, math.ceil(one_worker / budget))


def project(copy: PhaseRecord, estate_objects: int, estate_bytes: int, concurrency: int,
            hosts: int, archived_classes: Iterable[str] = (),
            restore_tier: str | None = None,
            per_worker: WorkerRate | None = None) -> Projection | None:
    """The projection, or None when the copy phase moved too little to measure a rate.

    When the estate holds archived objects, the longest restore of the tier used (the
    spec's, else ``standard``, AWS's default) is added: their copy cannot end before.
    *per_worker* is the measured rate of one worker (default: the copy phase's own rate,
    a drill in one process)."""
    if copy.duration_s <= 0 or copy.objects == 0:
        return None
    per_worker = per_worker or WorkerRate(copy.objects_per_s, copy.bytes_per_s)
    by_objects = estate_objects / copy.objects_per_s if copy.objects_per_s else 0.0
    by_bytes = estate_bytes / copy.bytes_per_s if copy.bytes_per_s else 0.0
    duration = max(by_objects, by_bytes)
    archived = [name for name in archived_classes if needs_restore(name)]
    tier = (restore_tier or "standard") if archived else None
    latency, restore_notes = restore_latency(archived, tier) if tier else (0.0, [])
    on_hosts = duration / hosts + latency
    needed = workers_needed(estate_objects, estate_bytes, per_worker, latency)
    return Projection(
        estate_objects=estate_objects, estate_bytes=estate_bytes,
        basis_bytes_per_s=copy.bytes_per_s, basis_objects_per_s=copy.objects_per_s,
        concurrency=concurrency, hosts=hosts,
        duration_s=round(duration, 3), duration_on_hosts_s=round(on_hosts, 3),
        restore_tier=tier, restore_latency_s=latency,
        fits_transition=on_hosts <= DATA_ACT_TRANSITION.total_seconds(),
        fits_extended=on_hosts <= DATA_ACT_EXTENDED.total_seconds(),
        workers_measured=per_worker.workers,
        per_worker_objects_per_s=round(per_worker.objects_per_s, 3),
        per_worker_bytes_per_s=round(per_worker.bytes_per_s, 1),
        workers_for_transition=needed,
        assumptions=[
            f"throughput as measured in this drill's copy phase: {copy.objects_per_s:g} "
            f"objects/s and {copy.bytes_per_s:g} bytes/s at concurrency {concurrency}",
            "the slower of the per-object and per-byte rates governs",
            f"linear scaling over {hosts} host(s), each at the drill's concurrency",
            "no provider throttling or network limit beyond what the drill met",
            "EU Data Act: transition period of 30 days, extendable once to at most 7 months "
            "(taken as 213 days); the notice period of at most 2 months comes before it",
            *(["archived objects: the longest restore is added to the duration on the "
               "hosts", *restore_notes] if tier else []),
            f"per-worker rate measured on {per_worker.workers} worker(s): "
            f"{per_worker.objects_per_s:g} objects/s and {per_worker.bytes_per_s:g} bytes/s; "
            f"workers for the 30-day transition assume they add up linearly",
        ])
