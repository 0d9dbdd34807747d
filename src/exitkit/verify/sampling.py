"""Reproducible samples: the same seed over the same keys draws the same sample.

Each key gets a score from a keyed hash of (seed, key); a fraction keeps keys scoring
below it, a count keeps the ``count`` lowest-scoring keys of the inventory. Selection does
not depend on listing order, so a later run with the recorded seed draws the same keys.
"""

import hashlib
import heapq
from collections.abc import Iterable

from exitkit.drill.spec import Sample

_SCALE = float(2**64)


def score(seed: int, key: str) -> float:
    """A uniform pseudo-random number in [0, 1) for *key* under *seed*."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8,
                             key=seed.to_bytes(16, "big", signed=True)).digest()
    return int.from_bytes(digest, "big") / _SCALE


class Sampler:
    """Decides which relative keys have their content verified."""

    def __init__(self, sample: Sample | None, inventory_keys: Iterable[str]) -> None:
        self.sample = sample
        if sample is None:
            self.threshold = 1.0
        elif sample.fraction is not None:
            self.threshold = sample.fraction
        else:
            lowest = heapq.nsmallest(sample.count, {score(sample.seed, k) for k in inventory_keys})
            self.threshold = lowest[-1] if lowest else 0.0

    def __contains__(self, key: str) -> bool:
        if self.sample is None:
            return True
        value = score(self.sample.seed, key)
        return value < self.threshold if self.sample.fraction is not None else (
            value <= self.threshold)
