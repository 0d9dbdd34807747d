"""Add up the verification tallies of shards that partition one drill's key space.

Every count is a sum; the first differences are kept up to the record's limit, in shard
order. The merged tally summarises exactly as the tally of one process walking every
shard would.
"""

from collections import Counter
from collections.abc import Iterable

from exitkit.verify.sample_evidence import StratumTally
from exitkit.verify.verifier import DIFFERENCE_LIMIT, Tally


def merge_tallies(tallies: Iterable[Tally]) -> Tally:
    """One tally holding every count of *tallies* (in shard order)."""
    merged = Tally()
    for tally in tallies:
        for name, count in tally.counts.items():
            merged.counts[name] = merged.counts.get(name, 0) + count
        _add_counts(merged.methods, tally.methods)
        _add_counts(merged.property_losses, tally.property_losses)
        merged.source_objects += tally.source_objects
        merged.source_bytes += tally.source_bytes
        merged.target_objects += tally.target_objects
        merged.verified_bytes += tally.verified_bytes
        merged.present_bytes += tally.present_bytes
        merged.read_back += tally.read_back
        for name, stratum in tally.strata.items():
            into = merged.strata.setdefault(name, StratumTally())
            into.objects += stratum.objects
            into.bytes += stratum.bytes
            into.sampled += stratum.sampled
            into.failed += stratum.failed
        room = DIFFERENCE_LIMIT - len(merged.differences)
        merged.differences.extend(tally.differences[:room])
        merged.truncated |= tally.truncated or len(tally.differences) > room
        for side, counts in tally.storage_classes.objects.items():
            merged.storage_classes.objects.setdefault(side, Counter()).update(counts)
        for side, counts in tally.storage_classes.bytes.items():
            merged.storage_classes.bytes.setdefault(side, Counter()).update(counts)
    return merged


def _add_counts(into: dict[str, int], counts: dict[str, int]) -> None:
    for name, count in counts.items():
        into[name] = into.get(name, 0) + count
