"""Run a function over many items on a thread pool without queueing them all at once."""

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from queue import SimpleQueue
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def map_bounded(
    function: Callable[[Item], Result], items: Iterable[Item], workers: int
) -> Iterator[tuple[Item, Result | None, BaseException | None]]:
    """Yield ``(item, result, error)`` as calls complete, keeping at most 2x*workers* in flight.

    Memory stays bounded however many items there are. On KeyboardInterrupt pending
    calls are cancelled and running ones finish before the interrupt propagates.
    Finished calls are handed over through a queue (no waiter installed on every pending
    call each time one is awaited).
    """
    limit = workers * 2
    finished: SimpleQueue[Future] = SimpleQueue()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="exitkit") as pool:
        pending: dict[Future, Item] = {}
        try:
            for item in items:
                future = pool.submit(function, item)
                pending[future] = item
                future.add_done_callback(finished.put)
                if len(pending) >= limit:
                    yield from _drain(pending, finished)
            while pending:
                yield from _drain(pending, finished)
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def _drain(pending: dict, finished: SimpleQueue) -> Iterator[tuple]:
    """The calls finished by now, at least one (waits for it)."""
    future = finished.get()
    while True:
        item = pending.pop(future)
        error = future.exception()
        yield item, (None if error else future.result()), error
        if finished.empty():
            return
        future = finished.get()
