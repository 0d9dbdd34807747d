"""Walk two ordered listings side by side (a streaming sorted merge, no full maps).

Where both sides hold the same keys position by position, which is most of a healthy
exit, the merge hands over whole aligned runs at once, so the common case costs a few
list comparisons per thousand keys instead of a Python step per key.
"""

from collections.abc import Iterable, Iterator
from itertools import islice
from operator import eq, itemgetter, lt
from typing import NamedTuple

from exitkit.verify.entries import Entry

RUN_LENGTH = 1024
_order = itemgetter(0, 1)
_relative = itemgetter(0)
_age = itemgetter(1)


class OutOfOrderError(Exception):
    """A listing that claimed key order was not in key order."""


class Run(NamedTuple):
    """Entries with equal (relative key, age) on both sides, position by position."""

    source: list[Entry]
    target: list[Entry]


Pair = tuple[Entry | None, Entry | None]


def merge_runs(source: Iterable[Entry], target: Iterable[Entry],
               run_length: int = RUN_LENGTH) -> Iterator[Run | Pair]:
    """Yield aligned :class:`Run` s and, where the sides differ, single pairs.

    A pair is ``(source_entry, None)`` or ``(None, target_entry)``. Both inputs must be
    ordered by (relative key, age); a violation raises OutOfOrderError.
    """
    source_iter, target_iter = iter(source), iter(target)
    source_buffer: list[Entry] = []
    target_buffer: list[Entry] = []
    last = ("", -1)
    while True:
        source_buffer.extend(islice(source_iter, run_length - len(source_buffer)))
        target_buffer.extend(islice(target_iter, run_length - len(target_buffer)))
        if not source_buffer and not target_buffer:
            return
        relatives = list(map(_relative, source_buffer))
        ages = list(map(_age, source_buffer))
        aligned = min(_common_prefix(relatives, list(map(_relative, target_buffer))),
                      _common_prefix(ages, list(map(_age, target_buffer))))
        if aligned:
            last = _checked_last(relatives[:aligned], ages[:aligned], last)
            yield Run(source_buffer[:aligned], target_buffer[:aligned])
            del source_buffer[:aligned], target_buffer[:aligned]
            continue
        src = source_buffer[0] if source_buffer else None
        tgt = target_buffer[0] if target_buffer else None
        if tgt is None or (src is not None and _order(src) < _order(tgt)):
            entry, pair = src, (src, None)
            del source_buffer[0]
        else:
            entry, pair = tgt, (None, tgt)
            del target_buffer[0]
        if _order(entry) <= last:
            raise OutOfOrderError(f"listing not in key order at {entry.relative!r}")
        last = _order(entry)
        yield pair


def _common_prefix(first: list, second: list) -> int:
    """The length of the longest common prefix of two lists."""
    if first == second:
        return len(first)
    same = list(map(eq, first, second))
    return same.index(False) if False in same else len(same)


def _checked_last(relatives: list[str], ages: list[int], last: tuple[str, int]
                  ) -> tuple[str, int]:
    """The last (relative key, age) of a run, after checking the run ascends from *last*."""
    if (relatives[0], ages[0]) <= last or not _ascending(relatives, ages):
        raise OutOfOrderError(f"listing not in key order near {relatives[0]!r}")
    return relatives[-1], ages[-1]


def _ascending(relatives: list[str], ages: list[int]) -> bool:
    """True when the (relative key, age) pairs strictly ascend."""
    if ages.count(0) == len(ages):  # current versions only: the keys alone decide
        return all(map(lt, relatives, relatives[1:]))
    orders = list(zip(relatives, ages))
    return all(map(lt, orders, orders[1:]))
