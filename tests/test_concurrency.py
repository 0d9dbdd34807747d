"""Reading a sequence ahead on a thread of its own (the verify phase's listings)."""

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exitkit.concurrency import prefetched


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


def test_a_consumer_that_stops_early_stops_the_producer():
    produced, finished = [], threading.Event()

    def listing():
        try:
            for number in range(1_000_000):
                produced.append(number)
                yield number
        finally:
            finished.set()

    reader = prefetched(listing(), batch=10, batches=2)
    assert [next(reader) for _ in range(5)] == list(range(5))
    reader.close()
    deadline = time.monotonic() + 5
    while not finished.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    count = len(produced)
    time.sleep(0.2)
    assert len(produced) == count < 100  # bounded read-ahead, then nothing more
