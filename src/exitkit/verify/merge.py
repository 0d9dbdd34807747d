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
    last_key, last_age = "", -1
    while src is not None or tgt is not None:
        if tgt is None:
            take_source, take_target = True, False
        elif src is None:
            take_source, take_target = False, True
        elif src.relative == tgt.relative:
            take_source, take_target = src.age <= tgt.age, tgt.age <= src.age
        else:
            take_source = src.relative < tgt.relative
            take_target = not take_source
        entry = src if take_source else tgt
        key, age = entry.relative, entry.age
        if key < last_key or (key == last_key and age <= last_age):
            raise OutOfOrderError(f"listing not in key order at {key!r}")
        last_key, last_age = key, age
        yield (src if take_source else None), (tgt if take_target else None)
        if take_source:
            src = next(source_iter, None)
        if take_target:
            tgt = next(target_iter, None)
