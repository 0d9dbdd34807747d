"""Sorted merge and external sort, on synthetic listings."""

import random

import pytest

from exitkit.providers.contract import ObjectInfo
from exitkit.verify.entries import Entry, _aged
from exitkit.verify.merge import OutOfOrderError, Run, merge_runs
from exitkit.verify.ordering import sorted_by


def infos(keys, prefix=""):
    return [ObjectInfo(key=prefix + key, size=len(key)) for key in keys]


def entries(keys, prefix=""):
    return [Entry(info.key[len(prefix):], 0, info) for info in infos(keys, prefix)]


def flat(items):
    for item in items:
        yield from zip(item.source, item.target) if isinstance(item, Run) else (item,)


def test_merge_pairs_keys_relative_to_each_prefix():
    source = entries(["a", "b", "d"], "src/")
    target = entries(["b", "c", "d"], "dst/")
    pairs = [((s or t).relative, s is not None, t is not None)
             for s, t in flat(merge_runs(source, target))]
    assert pairs == [("a", True, False), ("b", True, True), ("c", False, True), ("d", True, True)]


def test_merge_hands_over_aligned_runs_and_single_pairs_elsewhere():
    rng = random.Random(3)
    keys = [f"k{i:05d}" for i in range(3000)]
    source = [k for k in keys if rng.random() > 0.01]
    target = [k for k in keys if rng.random() > 0.01]
    items = list(merge_runs(entries(source), entries(target), run_length=64))
    assert sum(isinstance(item, Run) for item in items) > 10
    pairs = [((s or t).relative, s is not None, t is not None) for s, t in flat(items)]
    expected = [(k, k in set(source), k in set(target)) for k in keys
                if k in set(source) or k in set(target)]
    assert pairs == expected


@pytest.mark.parametrize("run_length", [1, 1024])
def test_merge_refuses_unsorted_input(run_length):
    with pytest.raises(OutOfOrderError):
        list(merge_runs(entries(["b", "a"]), [], run_length))
    with pytest.raises(OutOfOrderError):
        list(merge_runs(entries(["a", "c", "b"]), entries(["a", "c", "b"]), run_length))


def test_versions_are_aged_from_the_current_one():
    listing = [ObjectInfo("p/k", 3, version_id="v3", is_latest=True),
               ObjectInfo("p/k", 2, version_id="v2", is_latest=False),
               ObjectInfo("p/k", 1, version_id="v1", is_latest=False),
               ObjectInfo("p/m", 1, version_id="w1", is_latest=True)]
    aged = [(e.relative, e.age, e.info.version_id) for e in _aged(listing, "p/")]
    assert aged == [("k", 0, "v3"), ("k", 1, "v2"), ("k", 2, "v1"), ("m", 0, "w1")]
    deleted = [ObjectInfo("p/d", 0, version_id="m1", is_latest=True, is_delete_marker=True),
               ObjectInfo("p/d", 1, version_id="x1", is_latest=False)]
    assert [(e.relative, e.age) for e in _aged(deleted, "p/")] == [("d", 1)]
    unflagged = [ObjectInfo("p/u", 1, version_id="u1", is_latest=False)]
    assert [(e.relative, e.age) for e in _aged(unflagged, "p/")] == [("u", 0)]


def test_external_sort_matches_builtin_sort_across_spilled_runs():
    rng = random.Random(7)
    keys = [f"{rng.choice(['a/', 'a b', 'a-', 'ü/', '日'])}{rng.randint(0, 10**6)}"
            for _ in range(5000)]
    got = [info.key for info in sorted_by(infos(keys), key=lambda i: i.key, run_size=333)]
    assert got == sorted(keys)
    # UTF-8 byte order (S3's listing order) equals code-point order for str
    assert sorted(keys) == sorted(keys, key=lambda k: k.encode("utf-8"))


@pytest.mark.parametrize("entry", [
    {"key": 'odd "quoted"\\ key ü 日本 🚀\n', "size": 7, "digest": "md5:00", "method": "etag-md5"},
    {"key": "v", "size": 0, "digest": "sha256:ab", "method": "sha256", "version_age": 2,
     "version_id": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"},
    {"key": "v", "size": 1, "digest": "crc32:AA==", "method": "checksum-crc32",
     "version_age": 0, "version_id": None},
])
def test_fast_manifest_line_is_canonical_json(entry):
    from exitkit.evidence.manifest import manifest_line
    from exitkit.evidence.sidefiles import json_line

    assert manifest_line(**entry) == json_line(entry)
