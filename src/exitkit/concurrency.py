"""Run a function over many items on a thread pool without queueing them all at once,
read a sequence ahead on a thread of its own, and start one call in the background."""

import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from queue import Full, Queue, SimpleQueue
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def map_bounded(
    function: Callable[[Item], Result], items: Iterable[Item], workers: int,
    stopping: threading.Event | None = None,
) -> Iterator[tuple[Item, Result | None, BaseException | None]]:
    """Yield ``(item, result, error)`` as calls complete, keeping at most 2x*workers* in flight.

    Memory stays bounded however many items there are. On KeyboardInterrupt (or any
    error, or the consumer leaving early) pending calls are cancelled, *stopping* is set,
    so that running calls can give up what they have not begun, and running calls finish
    before the interrupt propagates.
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
            if stopping is not None:
                stopping.set()
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


class _Failed:
    """The error that ended a prefetched sequence, handed to its consumer."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()


def prefetched(items: Iterable[Item], batch: int = 1000, batches: int = 4) -> Iterator[Item]:
    """*items* in order, produced on a thread of their own, started at once, up to
    *batches* batches of *batch* items ahead of the consumer: two listings read ahead at
    the same time, and a listing's next pages arrive while the items before them are
    compared. Memory stays bounded. An error of the producer is raised where the sequence
    broke off; a consumer that stops early, or drops the sequence unread, stops the
    producer at its next item."""
    handover: Queue = Queue(maxsize=batches)
    stopped = threading.Event()

    def hand_over(value) -> bool:
        while not stopped.is_set():
            try:
                handover.put(value, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        chunk: list = []
        try:
            for item in items:
                chunk.append(item)
                if len(chunk) >= batch:
                    if not hand_over(chunk):
                        return
                    chunk = []
            if hand_over(chunk):
                hand_over(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            hand_over(_Failed(exc))

    threading.Thread(target=produce, name="exitkit-prefetch", daemon=True).start()
    consumed = _handed_over(handover, stopped)
    weakref.finalize(consumed, stopped.set)
    return consumed


def _handed_over(handover: Queue, stopped: threading.Event) -> Iterator:
    """The items a :func:`prefetched` producer hands over, until its end or its error."""
    try:
        while True:
            value = handover.get()
            if value is _END:
                return
            if isinstance(value, _Failed):
                raise value.error
            yield from value
    finally:
        stopped.set()


def in_background(function: Callable[..., Result], *args: object) -> Future:
    """Start ``function(*args)`` at once on a thread of its own; the future holds its
    result or its error. The thread does not keep the process alive."""
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(function(*args))
        except BaseException as error:  # handed to whoever asks for the result
            future.set_exception(error)

    threading.Thread(target=run, name="exitkit-background", daemon=True).start()
    return future
