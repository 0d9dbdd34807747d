"""Run a function over many items on a thread pool without queueing them all at once."""

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def map_bounded(
    function: Callable[[Item], Result], items: Iterable[Item], workers: int
) -> Iterator[tuple[Item, Result | None, BaseException | None]]:
    """Yield ``(item, result, error)`` as calls complete, keeping at most 2x*workers* in flight.

    Memory stays bounded however many items there are. On KeyboardInterrupt pending
    calls are cancelled and running ones finish before the interrupt propagates.
    """
    limit = workers * 2
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="exitkit") as pool:
        pending: dict[Future, Item] = {}
        try:
            for item in items:
                pending[pool.submit(function, item)] = item
                if len(pending) >= limit:
                    yield from _drain(pending, wait(pending, return_when=FIRST_COMPLETED).done)
            while pending:
                yield from _drain(pending, wait(pending, return_when=FIRST_COMPLETED).done)
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def _drain(pending: dict, done: set) -> Iterator[tuple]:
    for future in done:
        item = pending.pop(future)
        error = future.exception()
        yield item, (None if error else future.result()), error
