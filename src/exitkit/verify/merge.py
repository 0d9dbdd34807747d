"""Walk two ordered listings side by side (a streaming sorted merge, no full maps).

Where both sides hold the same keys position by position, which is most of a healthy
exit, the merge hands over whole aligned runs at once, so the common case costs a few
list comparisons per thousand keys instead of a Python step per key.
"""

from collections.abc import Iterable, Iterator
from itertools import islice
from operator import itemgetter, lt
from typing import NamedTuple

from exitkit.verify.entries import Entry

RUN_LENGTH = 1024
_order = itemgetter(0, 1)


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
        width = min(len(source_buffer), len(target_buffer))
        source_orders = list(map(_order, source_buffer[:width]))
        target_orders = list(map(_order, target_buffer[:width]))
        aligned = width if source_orders == target_orders else next(
            (i for i, (a, b) in enumerate(zip(source_orders, target_orders)) if a != b), 0)
        if aligned:
            orders = source_orders[:aligned]
            if orders[0] <= last or not all(map(lt, orders, orders[1:])):
                raise OutOfOrderError(f"listing not in key order near {orders[0][0]!r}")
            last = orders[-1]
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
