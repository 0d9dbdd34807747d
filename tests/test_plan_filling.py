"""The plan filled by the listing on a thread of its own while the copy reads it (a drill's
inventory and copy at once), and a drill that streams its listing into the copy."""

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exitkit.api import run_drill
from exitkit.drill.spill import LANDING, PlanFilling, PlanStore
from exitkit.errors import TransientError
from exitkit.providers.contract import ObjectInfo
from exitkit.verify.entries import Entry
from tests.estates import estate, seed_s3


def listing(sizes: list[int], pause: float = 0.0):
    """Entries as a listing yields them, page by page (with *pause* between entries)."""
    for index, size in enumerate(sizes):
        if pause:
            time.sleep(pause)
        key = f"logs/2026/{index:05d}.gz"
        yield Entry(key, 0, ObjectInfo(key, size, f"{index:032x}", storage_class="STANDARD"))


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(0, 10**9), max_size=3 * LANDING + 7))
def test_the_copy_reads_every_entry_in_order_while_the_plan_fills(sizes):
    plan = PlanStore()
    ended = []
    filling = PlanFilling(plan, listing(sizes), then=lambda: ended.append(plan.objects))
    try:
        read = list(filling.entries())
        filling.wait()
        assert read == list(listing(sizes)) == list(plan)
        assert ended == [len(sizes)] and plan.bytes == sum(sizes)
    finally:
        plan.close()


def test_reading_starts_before_the_listing_ends():
    plan = PlanStore()
    listed_first = []
    entries = listing([1] * (2 * LANDING), pause=0.002)
    filling = PlanFilling(plan, entries, then=lambda: None)
    try:
        first = next(filling.entries())
        listed_first.append(plan.objects)
        assert first.relative == "logs/2026/00000.gz"
        assert listed_first[0] < 2 * LANDING  # the listing was still going on
        filling.wait()
    finally:
        plan.close()


def test_a_failed_listing_is_raised_once_what_it_listed_is_copied():
    def failing():
        yield from listing([5] * (LANDING + 30))
        raise TransientError("LIST page 2: connection reset")

    plan = PlanStore()
    filling = PlanFilling(plan, failing(), then=lambda: pytest.fail("the inventory ended"))
    read = list(filling.entries())  # the copy ends normally and journals what it copied
    assert len(read) == LANDING  # the whole landings before the failure
    with pytest.raises(TransientError, match="page 2"):
        filling.wait()
    plan.close()


def test_closing_stops_the_listing_at_its_next_landing():
    def endless():
        while True:
            yield from listing([1], pause=0.0005)

    plan = PlanStore()
    filling = PlanFilling(plan, endless(), then=lambda: None)
    next(filling.entries())
    filling.close()
    stopper = threading.Thread(target=filling.wait, daemon=True)
    stopper.start()
    stopper.join(timeout=10)
    assert not stopper.is_alive()


def test_a_drill_copies_while_it_lists(source_client, write_spec, server_env, tmp_path,
                                       bucket_name):
    bucket = bucket_name("src")
    objects = estate(seed=4, path_trouble=False)
    seed_s3(source_client, bucket, objects)
    record = run_drill(write_spec(bucket, bucket_name("tgt")), tmp_path,
                       environ=server_env).record
    assert record.verdict == "passed", record.verification.differences
    phases = {phase.name: phase for phase in record.phases}
    assert phases["copy"].started_at < phases["inventory"].ended_at
    assert record.inventory.objects == record.copy_summary.objects_copied == len(objects)
    assert record.inventory.bytes == sum(len(obj.body) for obj in objects)
    assert [phase.name for phase in record.phases] == ["inventory", "copy", "verify"]
