"""Reproducible, stratified samples: the same seed over the same keys draws the same sample.

Each key gets a score from a keyed hash of (seed, key) (BLAKE2b, see docs/drill-spec.md).
Objects fall into strata: small or large (at ``large_object_size``), crossed with each
storage class and key prefix the spec names, so a few huge objects cannot hide among
millions of small ones. Within each stratum a fraction keeps keys scoring below it; a count
is spread over the strata in proportion to their size (at least one per stratum) and keeps
each stratum's lowest-scoring keys; ``max_defect_rate`` plans each stratum's size with
:func:`exitkit.verify.bounds.planned_size` at ``1 - alpha/strata`` (Bonferroni), or checks
the whole stratum where it is too small for sampling to help. Selection does not depend on
listing order, so a later run with the recorded seed draws the same keys.

The draw is planned from a private temporary SQLite table of (stratum, score, size), one
row per object, spilled to disk: memory stays flat however large the inventory.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exitkit.providers.contract import ObjectInfo
from exitkit.scratch import scratch_database
from exitkit.verify.bounds import planned_size
from exitkit.verify.entries import Entry

if TYPE_CHECKING:  # the spec's section; verify/ imports nothing from drill/
    from exitkit.drill.spec import Sample

_SCALE = float(2**64)
_EVERY = 2.0  # a cutoff above every score: the whole stratum is drawn


def score(seed: int, key: str) -> float:
    """A uniform pseudo-random number in [0, 1) for *key* under *seed*."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8,
                             key=seed.to_bytes(16, "big", signed=True)).digest()
    return int.from_bytes(digest, "big") / _SCALE


@dataclass
class Stratum:
    """One stratum of the inventory: how many objects it holds and its draw."""

    objects: int = 0
    planned: int | None = None
    cutoff: float = _EVERY


class Sampler:
    """Decides which relative keys have their content verified, stratum by stratum."""

    def __init__(self, sample: Sample | None, inventory: Iterable[Entry],
                 large_object_size: int) -> None:
        self.sample = sample
        self.large_object_size = (sample and sample.large_object_size) or large_object_size
        self.strata: dict[str, Stratum] = {}
        self._db: sqlite3.Connection | None = None
        if sample is None:
            return
        self._db = scratch_database()
        self._db.execute("CREATE TABLE inventory (stratum TEXT, score REAL, size INTEGER)")
        self._db.execute("BEGIN")
        for entry in inventory:
            name = self.stratum_of(entry.relative, entry.info)
            stratum = self.strata.get(name) or self.strata.setdefault(name, Stratum())
            stratum.objects += 1
            self._db.execute("INSERT INTO inventory VALUES (?, ?, ?)",
                             (name, score(sample.seed, entry.relative), entry.info.size))
        self._db.execute("COMMIT")
        self._db.execute("CREATE INDEX by_score ON inventory (stratum, score)")
        self._db.execute("CREATE INDEX by_size ON inventory (stratum, size)")
        self._plan(sample)

    def __getstate__(self) -> dict:
        """A pickled sampler (sent to a Dask worker) decides draws; its inventory table,
        which only the coordinator's evidence reads, stays behind."""
        return {**self.__dict__, "_db": None}

    def largest_bytes(self, name: str, count: int) -> int | None:
        """Bytes of the *count* largest objects of stratum *name* in the inventory; None
        when the inventory did not hold the stratum."""
        if name not in self.strata or self._db is None:
            return None
        return self._db.execute(
            "SELECT coalesce(sum(size), 0) FROM (SELECT size FROM inventory WHERE stratum = ? "
            "ORDER BY size DESC LIMIT ?)", (name, count)).fetchone()[0]

    def _lowest_score(self, name: str, rank: int) -> float | None:
        """The *rank*-th lowest score of stratum *name* (1 is the lowest)."""
        row = self._db.execute("SELECT score FROM inventory WHERE stratum = ? ORDER BY score "
                               "LIMIT 1 OFFSET ?", (name, rank - 1)).fetchone()
        return row and row[0]

    def _plan(self, sample: Sample) -> None:
        if sample.fraction is not None:
            for stratum in self.strata.values():
                stratum.cutoff = sample.fraction
            return
        if sample.count is not None:
            sizes = _spread(sample.count, {name: s.objects for name, s in self.strata.items()})
        else:
            alpha = (1 - sample.confidence / 100) / max(1, len(self.strata))
            sizes = {name: _planned(sample.max_defect_rate / 100, 1 - alpha, s.objects)
                     for name, s in self.strata.items()}
        for name, stratum in self.strata.items():
            stratum.planned = sizes[name]
            if sizes[name] < stratum.objects:
                highest_drawn = self._lowest_score(name, sizes[name]) if sizes[name] else None
                stratum.cutoff = (0.0 if highest_drawn is None
                                  else math.nextafter(highest_drawn, 1.0))

    @property
    def verifies_everything(self) -> bool:
        """True when every stratum's planned draw is the whole stratum."""
        return self.sample is None or all(s.cutoff > 1.0 for s in self.strata.values())

    def stratum_of(self, relative: str, info: ObjectInfo) -> str:
        """The name of the stratum an object falls in, e.g. ``prefix:logs/ class:GLACIER
        large``."""
        sample, parts = self.sample, []
        if sample is not None:
            prefix = next((p for p in sample.prefixes if relative.startswith(p)), None)
            if prefix is not None:
                parts.append(f"prefix:{prefix}")
            if info.storage_class in sample.storage_classes:
                parts.append(f"class:{info.storage_class}")
        parts.append("large" if info.size >= self.large_object_size else "small")
        return " ".join(parts)

    def drawn(self, relative: str, stratum: str) -> bool:
        """True when the object is in the sample; objects of a stratum the inventory did
        not hold are drawn at the spec's fraction, or always."""
        if self.sample is None:
            return True
        known = self.strata.get(stratum)
        cutoff = known.cutoff if known else (self.sample.fraction or _EVERY)
        return score(self.sample.seed, relative) < cutoff


def _planned(max_rate: float, confidence: float, population: int) -> int:
    """The planned draw of a stratum; the whole stratum when the bound asks to rule out a
    single differing object (``max_rate * population <= 1``): then a sample is nearly the
    whole stratum anyway, and checking every object makes the result exact."""
    if max_rate * population <= 1:
        return population
    return planned_size(max_rate, confidence, population)


def _spread(count: int, populations: dict[str, int]) -> dict[str, int]:
    """*count* spread over strata in proportion to their size (largest remainders), at
    least one per non-empty stratum and never more than a stratum holds."""
    total = sum(populations.values())
    if count >= total:
        return dict(populations)
    shares = {name: count * size / total for name, size in populations.items()}
    sizes = {name: min(size, max(1, math.floor(shares[name])))
             for name, size in populations.items()}
    by_remainder = sorted(populations, key=lambda name: shares[name] - math.floor(shares[name]),
                          reverse=True)
    for name in by_remainder:
        if sum(sizes.values()) >= count:
            break
        if sizes[name] < populations[name]:
            sizes[name] += 1
    return sizes
