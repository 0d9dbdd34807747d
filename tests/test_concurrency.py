"""A bounded pool that stops what has not begun when its consumer stops (the copy's
transfers), reading a sequence ahead on a thread of its own (the verify phase's
listings), and one call started in the background (the record's provenance)."""

import gc
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exitkit.concurrency import in_background, map_bounded, prefetched
from exitkit.drill.copy import CopyStopped, TransferSlots


@settings(max_examples=60, deadline=None)
@given(items=st.lists(st.integers(), max_size=300), batch=st.integers(1, 50),
       batches=st.integers(1, 4))
def test_prefetched_items_come_in_order_and_all_of_them(items, batch, batches):
    assert list(prefetched(iter(items), batch=batch, batches=batches)) == items


def test_the_producers_error_is_raised_where_the_sequence_broke_off():
    def listing():
        yield from range(25)
        raise ConnectionResetError("the listing's third page failed")

    got = []
    with pytest.raises(ConnectionResetError, match="third page"):
        for item in prefetched(listing(), batch=10):
            got.append(item)
    assert got == list(range(20))  # the items of the whole batches before the failure


def _counting_listing(produced: list, finished: threading.Event):
    """A long listing that records what it produced and sets *finished* once it stops."""
    try:
        for number in range(1_000_000):
            produced.append(number)
            yield number
    finally:
        finished.set()


def test_a_consumer_that_stops_early_stops_the_producer():
    produced, finished = [], threading.Event()
    reader = prefetched(_counting_listing(produced, finished), batch=10, batches=2)
    assert [next(reader) for _ in range(5)] == list(range(5))
    reader.close()
    deadline = time.monotonic() + 5
    while not finished.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    count = len(produced)
    time.sleep(0.2)
    assert len(produced) == count < 100  # bounded read-ahead, then nothing more


def test_the_producer_starts_before_the_first_item_is_asked_for():
    # the verify phase's two listings run at once: the target's pages arrive while the
    # source's are still being read
    produced, finished = [], threading.Event()
    reader = prefetched(_counting_listing(produced, finished), batch=10, batches=2)
    deadline = time.monotonic() + 5
    while len(produced) < 30 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(produced) >= 30  # three batches made before anything was read
    reader.close()


def test_a_sequence_dropped_unread_stops_its_producer():
    produced, finished = [], threading.Event()
    reader = prefetched(_counting_listing(produced, finished), batch=10, batches=2)
    del reader
    gc.collect()
    assert finished.wait(5)
    assert len(produced) < 100


def test_a_background_call_runs_beside_the_caller_and_hands_over_its_result_or_error():
    started, release = threading.Event(), threading.Event()

    def waits_for_the_caller(value):
        started.set()
        assert release.wait(5)
        return value * 2

    future = in_background(waits_for_the_caller, 21)
    assert started.wait(5) and not future.done()  # running, while the caller goes on
    release.set()
    assert future.result(timeout=5) == 42
    with pytest.raises(ValueError, match="invalid literal"):
        in_background(int, "not a number").result(timeout=5)


def test_a_stopping_consumer_tells_the_running_calls_before_waiting_for_them():
    """The consumer leaves at the first result; the call still running learns it through
    *stopping* (set before the pool waits for it), and the calls not begun never run."""
    stopping, release, ran, saw_stopping = threading.Event(), threading.Event(), [], []

    def call(item):
        ran.append(item)
        if item:
            assert release.wait(5)
            saw_stopping.append(stopping.is_set())
        return item

    with pytest.raises(RuntimeError, match="consumer stops"):
        for _item, _result, _error in map_bounded(call, range(6), 2, stopping):
            threading.Timer(0.2, release.set).start()
            raise RuntimeError("consumer stops")
    # item 2 may have begun on the worker item 0 freed; item 3 was queued and cancelled,
    # items 4-5 were never taken
    assert sorted(ran) in ([0, 1], [0, 1, 2])
    assert saw_stopping == [True] * (len(ran) - 1)


def test_transfer_slots_bound_the_transfers_and_begin_none_once_stopped():
    slots, entered = TransferSlots(2), threading.Event()

    def third_transfer():
        with slots:
            entered.set()

    with slots, slots:
        waiting = threading.Thread(target=third_transfer)
        waiting.start()
        assert not entered.wait(0.3)  # both slots taken: the third waits
    assert entered.wait(5)  # and begins once one is free
    waiting.join(5)
    slots.stopped.set()
    for _attempt in range(3):
        with pytest.raises(CopyStopped):
            with slots:
                pass
    slots.stopped.clear()  # (never done by the copy) shows no refused transfer kept a slot
    both = threading.Thread(target=lambda: slots.__enter__() or slots.__enter__())
    both.start()
    both.join(5)
    assert not both.is_alive()
