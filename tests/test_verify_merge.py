"""Sorted merge and external sort, on synthetic listings."""

import random

import pytest

from exitkit.providers.contract import ObjectInfo
from exitkit.verify.merge import OutOfOrderError, merge_listings
from exitkit.verify.ordering import sorted_by


def infos(keys, prefix=""):
    return [ObjectInfo(key=prefix + key, size=len(key)) for key in keys]


def test_merge_pairs_keys_relative_to_each_prefix():
    source = infos(["a", "b", "d"], "src/")
    target = infos(["b", "c", "d"], "dst/")
    pairs = [(key, s is not None, t is not None)
             for key, s, t in merge_listings(source, target, "src/", "dst/")]
    assert pairs == [("a", True, False), ("b", True, True), ("c", False, True), ("d", True, True)]


def test_merge_refuses_unsorted_input():
    with pytest.raises(OutOfOrderError):
        list(merge_listings(infos(["b", "a"]), [], "", ""))


def test_external_sort_matches_builtin_sort_across_spilled_runs():
    rng = random.Random(7)
    keys = [f"{rng.choice(['a/', 'a b', 'a-', 'ü/', '日'])}{rng.randint(0, 10**6)}"
            for _ in range(5000)]
    got = [info.key for info in sorted_by(infos(keys), key=lambda i: i.key, run_size=333)]
    assert got == sorted(keys)
    # UTF-8 byte order (S3's listing order) equals code-point order for str
    assert sorted(keys) == sorted(keys, key=lambda k: k.encode("utf-8"))
