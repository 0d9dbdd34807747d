"""Walk two key-ordered listings side by side (a streaming sorted merge, no full maps)."""

from collections.abc import Iterable, Iterator

from exitkit.providers.contract import ObjectInfo

Pair = tuple[str, ObjectInfo | None, ObjectInfo | None]


class OutOfOrderError(Exception):
    """A listing that claimed key order was not in key order."""


def merge_listings(source: Iterable[ObjectInfo], target: Iterable[ObjectInfo],
                   source_prefix: str, target_prefix: str) -> Iterator[Pair]:
    """Yield ``(relative_key, source_info, target_info)``; a side is None where the key is absent.

    Keys are compared relative to each side's prefix. Both inputs must be in key order.
    """
    source_iter, target_iter = iter(source), iter(target)
    src = next(source_iter, None)
    tgt = next(target_iter, None)
    last = None
    while src is not None or tgt is not None:
        src_key = src.key[len(source_prefix):] if src is not None else None
        tgt_key = tgt.key[len(target_prefix):] if tgt is not None else None
        if tgt_key is None or (src_key is not None and src_key < tgt_key):
            key, pair = src_key, (src_key, src, None)
            src = next(source_iter, None)
        elif src_key is None or tgt_key < src_key:
            key, pair = tgt_key, (tgt_key, None, tgt)
            tgt = next(target_iter, None)
        else:
            key, pair = src_key, (src_key, src, tgt)
            src, tgt = next(source_iter, None), next(target_iter, None)
        if last is not None and key <= last:
            raise OutOfOrderError(f"listing not in key order at {key!r}")
        last = key
        yield pair
