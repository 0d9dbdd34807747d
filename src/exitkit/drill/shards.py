"""A drill's plan cut into key ranges (shards) that Dask workers copy and verify.

Shards partition the key space: shard *i* holds the relative keys from its first key up
to (not including) the next shard's first key; the first shard also holds every key
before its first, the last every key after. All versions of a key fall into one shard.
Because the ranges follow key order, the shards' manifests, laid end to end, are the
manifest one process would write.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from exitkit.verify.entries import Entry


@dataclass(frozen=True)
class Shard:
    """One key range of the plan, with its entries in (key, age) order."""

    index: int
    entries: list[Entry]

    @property
    def first_key(self) -> str:
        """The first relative key of the shard."""
        return self.entries[0].relative if self.entries else ""

    @property
    def last_key(self) -> str:
        """The last relative key of the shard."""
        return self.entries[-1].relative if self.entries else ""

    @property
    def bytes(self) -> int:
        """Bytes planned in the shard."""
        return sum(entry.info.size for entry in self.entries)


def shards_of(plan: Iterable[Entry], shard_objects: int) -> Iterator[Shard]:
    """Cut *plan* (in key order) into shards of about *shard_objects* entries; a shard ends
    only where a key ends. An empty plan gives one empty shard."""
    index, entries = 0, []
    for _relative, versions in groupby(plan, key=lambda entry: entry.relative):
        entries.extend(versions)
        if len(entries) >= shard_objects:
            yield Shard(index, entries)
            index, entries = index + 1, []
    if entries or index == 0:
        yield Shard(index, entries)


def bounds_of(first_keys: Iterable[str]) -> list[str]:
    """The lower bound of each shard's range from the shards' first keys (the first
    shard's range starts before every key)."""
    bounds = list(first_keys)
    return ["", *bounds[1:]] if bounds else [""]


def split_by_shard(source: Iterable[Entry], target: Iterable[Entry], bounds: list[str]
                   ) -> Iterator[tuple[int, list[Entry], list[Entry]]]:
    """Both ordered listings cut at *bounds*: ``(shard index, source entries, target
    entries)`` for every shard, in order, holding one shard's entries at a time."""
    sources, targets = _Cursor(source), _Cursor(target)
    for index in range(len(bounds)):
        upper = bounds[index + 1] if index + 1 < len(bounds) else None
        yield index, sources.take_below(upper), targets.take_below(upper)


def shard_journal_path(work_dir: str | Path, drill: str, index: int) -> Path:
    """Where the checkpoint journal of shard *index* lives (on storage every worker shares)."""
    return Path(work_dir) / f"{drill}.shard-{index:06d}.journal.sqlite"


class _Cursor:
    """An ordered entry stream read up to a bound at a time."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self._entries = iter(entries)
        self._next: Entry | None = next(self._entries, None)

    def take_below(self, upper: str | None) -> list[Entry]:
        taken = []
        while self._next is not None and (upper is None or self._next.relative < upper):
            taken.append(self._next)
            self._next = next(self._entries, None)
        return taken
