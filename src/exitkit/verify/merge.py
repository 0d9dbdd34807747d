"""Walk two ordered listings side by side (a streaming sorted merge, no full maps)."""

from collections.abc import Iterable, Iterator

from exitkit.verify.entries import Entry

Pair = tuple[Entry | None, Entry | None]


class OutOfOrderError(Exception):
    """A listing that claimed key order was not in key order."""


def merge_entries(source: Iterable[Entry], target: Iterable[Entry]) -> Iterator[Pair]:
    """Yield ``(source_entry, target_entry)`` pairs; a side is None where it has no such entry.

    Both inputs must be ordered by (relative key, age).
    """
    source_iter, target_iter = iter(source), iter(target)
    src = next(source_iter, None)
    tgt = next(target_iter, None)
    last = None
    while src is not None or tgt is not None:
        if tgt is None or (src is not None and src.order < tgt.order):
            order, pair = src.order, (src, None)
            src = next(source_iter, None)
        elif src is None or tgt.order < src.order:
            order, pair = tgt.order, (None, tgt)
            tgt = next(target_iter, None)
        else:
            order, pair = src.order, (src, tgt)
            src, tgt = next(source_iter, None), next(target_iter, None)
        if last is not None and order <= last:
            raise OutOfOrderError(f"listing not in key order at {order[0]!r}")
        last = order
        yield pair
