"""What a sample proves: per-stratum tallies turned into exact upper bounds.

The population of a stratum is its objects present on both sides with equal size (missing
or resized objects are found by the listings, for every object). Each stratum gets a
Clopper-Pearson bound and an exact hypergeometric bound at the spec's confidence. The
combined bound adds the strata's hypergeometric bounds, each taken at ``1 - alpha/k`` for
``k`` strata (Bonferroni), so all hold together at the spec's confidence at least. Byte
bounds assume the differing objects are the stratum's largest.
"""

import math
from dataclasses import dataclass

from exitkit.evidence.record import SampleRecord, StratumRecord
from exitkit.verify.bounds import binomial_upper, hypergeometric_upper
from exitkit.verify.sampling import Sampler


@dataclass
class StratumTally:
    """Counts of one stratum during verification."""

    objects: int = 0
    bytes: int = 0
    sampled: int = 0
    failed: int = 0


def _pct_up(part: float, whole: float) -> float:
    """A bound as a percentage rounded UP to 4 decimals, so it never understates."""
    return 0.0 if whole == 0 else min(100.0, math.ceil(1_000_000 * part / whole) / 10_000)


def _largest_bytes(sampler: Sampler, name: str, count: int, population_bytes: int) -> int:
    """Bytes of the *count* largest objects of the stratum (from the inventory, a superset
    of the population, so never less); every byte when the inventory did not hold it."""
    if count == 0:
        return 0
    largest = sampler.largest_bytes(name, count)
    return population_bytes if largest is None else min(population_bytes, largest)


def sample_record(sampler: Sampler, tallies: dict[str, StratumTally]) -> SampleRecord:
    """The sample's record: its draw, each stratum's bounds and the combined bound."""
    sample = sampler.sample
    confidence = sample.confidence / 100
    joint = 1 - (1 - confidence) / max(1, len(tallies))
    strata, bound_objects, bound_bytes = [], 0, 0
    for name in sorted(tallies):
        tally = tallies[name]
        known = sampler.strata.get(name)
        defects = hypergeometric_upper(tally.failed, tally.sampled, tally.objects, confidence)
        defect_bytes = _largest_bytes(sampler, name, defects, tally.bytes)
        strata.append(StratumRecord(
            name=name, objects=tally.objects, bytes=tally.bytes,
            planned_objects=known.planned if known else None,
            sampled_objects=tally.sampled, failed_objects=tally.failed,
            binomial_bound_pct=_pct_up(binomial_upper(tally.failed, tally.sampled,
                                                      confidence), 1),
            bound_objects=defects, bound_objects_pct=_pct_up(defects, tally.objects),
            bound_bytes_pct=_pct_up(defect_bytes, tally.bytes)))
        joint_defects = hypergeometric_upper(tally.failed, tally.sampled, tally.objects, joint)
        bound_objects += joint_defects
        bound_bytes += _largest_bytes(sampler, name, joint_defects, tally.bytes)
    objects = sum(t.objects for t in tallies.values())
    total_bytes = sum(t.bytes for t in tallies.values())
    record = SampleRecord(
        fraction=sample.fraction, count=sample.count, seed=sample.seed,
        sampled_objects=sum(t.sampled for t in tallies.values()),
        max_defect_rate_pct=sample.max_defect_rate, confidence_pct=sample.confidence,
        large_object_bytes=sampler.large_object_size,
        verifies_everything=sample.max_defect_rate is not None and sampler.verifies_everything,
        strata=strata, bound_objects=bound_objects,
        bound_objects_pct=_pct_up(bound_objects, objects),
        bound_bytes_pct=_pct_up(bound_bytes, total_bytes),
        bound_method=f"exact hypergeometric per stratum; combined over {len(tallies)} "
                     f"{'stratum' if len(tallies) == 1 else 'strata (Bonferroni)'}; "
                     "Clopper-Pearson per stratum for comparison")
    return record.model_copy(update={"statement": statement(record)})


def statement(record: SampleRecord) -> str:
    """The combined bound in one sentence an auditor can quote."""
    objects = sum(s.objects for s in record.strata)
    failed = sum(s.failed_objects for s in record.strata)
    head = ("The plan needed every object, so all were checked: " if record.verifies_everything
            else "")
    return (f"{head}{record.sampled_objects} of {objects} present objects had their content "
            f"checked ({failed} failed); with {record.confidence_pct:g}% confidence at most "
            f"{record.bound_objects} objects ({record.bound_objects_pct:g}% of objects, "
            f"{record.bound_bytes_pct:g}% of bytes) differ from the source.")
