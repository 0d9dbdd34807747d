"""Project the duration of a full exit from measured throughput.

Assumptions are written into the record: the full estate moves at the throughput the
drill's copy phase measured, per object and per byte (the slower of the two governs),
and scales linearly with parallel hosts (each with the drill's concurrency), until
provider rate limits or network capacity say otherwise.
"""

from datetime import timedelta

from exitkit.evidence.record import PhaseRecord, Projection

DATA_ACT_TRANSITION = timedelta(days=30)
DATA_ACT_EXTENDED = timedelta(days=213)  # extendable once; total at most 7 months


def project(copy: PhaseRecord, estate_objects: int, estate_bytes: int, concurrency: int,
            hosts: int) -> Projection | None:
    """The projection, or None when the copy phase moved too little to measure a rate."""
    if copy.duration_s <= 0 or copy.objects == 0:
        return None
    by_objects = estate_objects / copy.objects_per_s if copy.objects_per_s else 0.0
    by_bytes = estate_bytes / copy.bytes_per_s if copy.bytes_per_s else 0.0
    duration = max(by_objects, by_bytes)
    on_hosts = duration / hosts
    return Projection(
        estate_objects=estate_objects, estate_bytes=estate_bytes,
        basis_bytes_per_s=copy.bytes_per_s, basis_objects_per_s=copy.objects_per_s,
        concurrency=concurrency, hosts=hosts,
        duration_s=round(duration, 3), duration_on_hosts_s=round(on_hosts, 3),
        fits_transition=on_hosts <= DATA_ACT_TRANSITION.total_seconds(),
        fits_extended=on_hosts <= DATA_ACT_EXTENDED.total_seconds(),
        assumptions=[
            f"throughput as measured in this drill's copy phase: {copy.objects_per_s:g} "
            f"objects/s and {copy.bytes_per_s:g} bytes/s at concurrency {concurrency}",
            "the slower of the per-object and per-byte rates governs",
            f"linear scaling over {hosts} host(s), each at the drill's concurrency",
            "no provider throttling or network limit beyond what the drill met",
            "EU Data Act: transition period of 30 days, extendable once to at most 7 months "
            "(taken as 213 days); the notice period of at most 2 months comes before it",
        ])
