"""Objects and bytes per storage class, counted from listings."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import attrgetter

from exitkit.evidence.record import StorageClassCount
from exitkit.providers.contract import ObjectInfo

NO_CLASS = "none"  # a store without storage classes (a directory)
_storage_class, _size = attrgetter("storage_class"), attrgetter("size")


def class_name(info: ObjectInfo) -> str:
    """The storage class an inventory counts *info* under."""
    return info.storage_class or NO_CLASS


@dataclass
class StorageClassTally:
    """Running counts per side ("source", "target") and storage class."""

    objects: dict[str, Counter] = field(default_factory=dict)
    bytes: dict[str, Counter] = field(default_factory=dict)

    def add(self, side: str, info: ObjectInfo) -> None:
        """Count one listed object."""
        name = class_name(info)
        self.objects.setdefault(side, Counter())[name] += 1
        self.bytes.setdefault(side, Counter())[name] += info.size

    def add_run(self, side: str, infos: list[ObjectInfo]) -> None:
        """Count a run of listed objects (in C loops when the run is of one class)."""
        counts = Counter(map(_storage_class, infos))
        if len(counts) != 1:
            for info in infos:
                self.add(side, info)
            return
        (name, count), = counts.items()
        self.objects.setdefault(side, Counter())[name or NO_CLASS] += count
        self.bytes.setdefault(side, Counter())[name or NO_CLASS] += sum(map(_size, infos))

    def summary(self) -> dict[str, dict[str, StorageClassCount]]:
        """Per side, per class, sorted by class name."""
        return {side: {name: StorageClassCount(objects=count, bytes=self.bytes[side][name])
                       for name, count in sorted(counts.items())}
                for side, counts in self.objects.items()}


def count_classes(infos: Iterable[ObjectInfo]) -> dict[str, StorageClassCount]:
    """Objects and bytes per storage class of *infos*."""
    tally = StorageClassTally()
    for info in infos:
        tally.add("all", info)
    return tally.summary().get("all", {})
