"""Sorted merge, external sort, manifest and classification: on synthetic listings, a real
server's listing, and an in-memory one only where no server here can make the case."""

import hashlib
import json
import random
from contextlib import contextmanager
from dataclasses import replace

import pytest
from pydantic import SecretStr

from exitkit.drill.events import SilentObserver
from exitkit.drill.keys import KeyMap
from exitkit.drill.spec import Credentials, Endpoint
from exitkit.drill.spec_file import Keys
from exitkit.evidence.manifest import ManifestWriter, manifest_root, prove
from exitkit.evidence.merkle import MerkleBuilder, leaf_hashes, node_hashes, root_of
from exitkit.evidence.sidefiles import SideFile
from exitkit.measure.timing import PhaseClock
from exitkit.providers.contract import Capabilities, ObjectInfo, ObjectStream
from exitkit.providers.registry import open_source
from exitkit.verify.entries import Entry, _aged, current_entries
from exitkit.verify.merge import OutOfOrderError, Run, merge_runs
from exitkit.verify.ordering import sorted_by
from exitkit.verify.sampling import Sampler
from exitkit.verify.verifier import VerifyScope, verify_phase

CREDS = Credentials(access_key_env="UNUSED_A", secret_key_env="UNUSED_B")


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
    assert [(e.relative, e.age, e.info.deleted_after) for e in _aged(deleted, "p/")] == [
        ("d", 0, True)]
    # deleted, written again, deleted twice (a retried deletion): markers take no age
    history = [ObjectInfo("p/r", 0, version_id="m3", is_latest=True, is_delete_marker=True),
               ObjectInfo("p/r", 0, version_id="m2", is_latest=False, is_delete_marker=True),
               ObjectInfo("p/r", 2, version_id="r2", is_latest=False),
               ObjectInfo("p/r", 0, version_id="m1", is_latest=False, is_delete_marker=True),
               ObjectInfo("p/r", 1, version_id="r1", is_latest=False)]
    assert [(e.age, e.info.version_id, e.info.deleted_after) for e in _aged(history, "p/")] \
        == [(0, "r2", True), (1, "r1", True)]
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


def test_current_entries_wrap_each_listed_object_relative_to_the_prefix(moto, source_client,
                                                                       bucket_name):
    bucket = bucket_name("entries")
    source_client.create_bucket(Bucket=bucket)
    for key in ("p/a", "p/b/c", "p/ü", "q/outside"):
        source_client.put_object(Bucket=bucket, Key=key, Body=key.encode())
    store = open_source(Endpoint(provider="aws-s3", endpoint=moto.endpoint, region="us-east-1",
                                 bucket=bucket, credentials=CREDS),
                        Keys(SecretStr(moto.access_key), SecretStr(moto.secret_key)))
    for prefix in ("", "p/"):
        listed = list(store.list(prefix))
        got = list(current_entries(store, prefix))
        assert got == [Entry(info.key[len(prefix):], 0, info) for info in listed]
        assert all(type(entry) is Entry for entry in got)
        assert got[0].order == (prefix and "a" or "p/a", 0) and got[0].label == "p/a"
    assert [entry.relative for entry in current_entries(store, "p/")] == ["a", "b/c", "ü"]


@pytest.mark.parametrize("run_length", [2, 1024])
def test_merge_refuses_repeated_keys_and_versions_out_of_age_order(run_length):
    with pytest.raises(OutOfOrderError):
        list(merge_runs(entries(["a", "a"]), entries(["a", "a"]), run_length))
    info = ObjectInfo("k", 1)
    aged = [Entry("k", 0, info), Entry("k", 1, info), Entry("m", 0, info)]
    assert sum(len(item.source) for item in merge_runs(aged, aged, run_length)) == 3
    swapped = [aged[1], aged[0], aged[2]]
    with pytest.raises(OutOfOrderError):
        list(merge_runs(swapped, swapped, run_length))


@pytest.mark.parametrize("sizes", [[1], [5, 3, 2], [64], [1, 1, 30, 33, 1], [100, 1, 27]])
def test_merkle_root_of_leaves_added_in_batches_is_the_rfc_6962_root(sizes):
    lines = [f'{{"key":"k{i}"}}' for i in range(sum(sizes))]
    leaves = leaf_hashes(lines)
    assert leaves == [hashlib.sha256(b"\x00" + line.encode()).digest() for line in lines]
    builder, start = MerkleBuilder(), 0
    for size in sizes:
        builder.add_many(leaves[start:start + size])
        start += size
        assert builder.root() == root_of(leaves[:start]) and builder.size == start
    lefts, rights = leaves[0::2], leaves[1::2]
    assert node_hashes(lefts, rights) == [hashlib.sha256(b"\x01" + left + right).digest()
                                          for left, right in zip(lefts, rights)]


def test_an_etag_run_makes_the_same_manifest_as_objects_added_one_by_one(tmp_path):
    keys = [f'data/{i:03d} "ü"' for i in range(300)]
    sizes, etags = list(range(300)), [f"{i:032x}" for i in range(300)]
    by_run, one_by_one = ManifestWriter(tmp_path, "run"), ManifestWriter(tmp_path, "single")
    for start, stop in ((0, 1), (1, 129), (129, 300)):
        by_run.add_etag_run(keys[start:stop], sizes[start:stop], etags[start:stop])
    for key, size, etag in zip(keys, sizes, etags):
        one_by_one.add(key, size, f"md5:{etag}", "etag-md5")
    summary = by_run.commit()
    assert summary == replace(one_by_one.commit(), file="run")
    assert (tmp_path / "run").read_bytes() == (tmp_path / "single").read_bytes()
    assert summary.merkle_root == manifest_root(tmp_path / "run")


MD5 = "0123456789abcdef0123456789abcdef"


class ListedStore:
    """An in-memory store listing *bodies* (key -> bytes) in key order, with given ETags.

    Used only where no server here can produce the case: ETags in upper-case hex and no
    ETag at all (as some S3-compatible stores and caching proxies report them) cannot be
    made by moto_server or SeaweedFS, which always answer a lower-case MD5 or ``md5-N``.
    """

    capabilities = Capabilities(lists_in_key_order=True)

    def __init__(self, bodies: dict[str, bytes], etags: dict[str, str | None]) -> None:
        self.bodies, self.etags, self.label = bodies, etags, "memory"

    def _info(self, key: str) -> ObjectInfo:
        return ObjectInfo(key, len(self.bodies[key]), self.etags[key])

    def list(self, prefix=""):
        return (self._info(key) for key in sorted(self.bodies) if key.startswith(prefix))

    def head(self, key, version_id=None):
        return self._info(key) if key in self.bodies else None

    @contextmanager
    def open(self, key, version_id=None):
        yield ObjectStream(self._info(key), iter([self.bodies[key]]))


def test_runs_proven_by_etags_leave_every_other_pair_to_a_content_check(tmp_path):
    """Aligned runs: only equal sizes with equal plain-MD5 ETags count as proven."""
    bodies = {f"k{i:04d}": b"x" * 8 for i in range(2500)}
    etags = {key: MD5 for key in bodies}
    source = ListedStore(bodies, etags)
    target = ListedStore(dict(bodies, k0100=b"x" * 9, k1200=b"y" * 8),
                         dict(etags, k1200="f" * 32))
    odd = {"k0300": MD5 + "-2", "k0400": MD5.upper(), "k0500": None}
    source.etags.update(odd)
    target.etags = dict(target.etags, **odd)
    manifest = ManifestWriter(tmp_path, "manifest")
    scope = VerifyScope(source_entries=current_entries(source, ""),
                        target_entries=current_entries(target, ""), copied={},
                        known={}, keys=KeyMap("", ""), sampler=Sampler(None, [], 8 * 1024 * 1024),
                        versions="latest",
                        compare_metadata=False, differences=SideFile(tmp_path, "differences"),
                        manifest=manifest)
    verification = verify_phase(source, target, scope, concurrency=2, max_retries=0,
                                clock=PhaseClock("verify"), observer=SilentObserver())
    assert {d.key: d.kind for d in verification.differences} == {
        "k0100": "size_differs", "k1200": "content_differs"}
    assert verification.methods == {"etag-md5": 2495, "sha256": 3}
    lines = [json.loads(line) for line in (tmp_path / "manifest").read_text().splitlines()]
    assert [line["key"] for line in lines] == sorted(set(bodies) - {"k0100", "k1200"})
    assert {line["key"] for line in lines if line["method"] == "sha256"} == set(odd)


# An independent test vector: five manifest lines written out by hand (the first is the
# example in docs/record.md), their RFC 6962 root computed below with hashlib alone, and
# that root as a literal, so a change to the line format or the tree fails here.
VECTOR_LINES = [
    '{"digest":"md5:5d41402abc4b2a76b9719d911017c592","key":"docs/a.txt","method":"etag-md5",'
    '"size":5}',
    '{"digest":"sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",'
    '"key":"docs/b.txt","method":"sha256","size":5}',
    '{"digest":"md5:5d41402abc4b2a76b9719d911017c592","key":"docs/ü 日本.txt",'
    '"method":"etag-md5","size":5}',
    '{"digest":"sha256:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=","key":"v/k",'
    '"method":"checksum-sha256","size":5,"version_age":0,"version_id":"v2"}',
    '{"digest":"md5:5d41402abc4b2a76b9719d911017c592","key":"v/k","method":"etag-md5",'
    '"size":5,"version_age":1,"version_id":null}',
]
VECTOR_ROOT = "d03451843480dda4e1c1c16b8a9d09f06080c1819fd805209629dfdab576cc4e"


def test_manifest_lines_and_merkle_root_match_an_independent_test_vector(tmp_path):
    def sha(data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    leaf = [sha(b"\x00" + line.encode("utf-8")) for line in VECTOR_LINES]
    left = sha(b"\x01" + sha(b"\x01" + leaf[0] + leaf[1]) + sha(b"\x01" + leaf[2] + leaf[3]))
    assert sha(b"\x01" + left + leaf[4]).hex() == VECTOR_ROOT  # 5 leaves split 4 + 1

    entries = [("docs/a.txt", 5, "md5:5d41402abc4b2a76b9719d911017c592", "etag-md5"),
               ("docs/b.txt", 5, "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043"
                "362938b9824", "sha256"),
               ("docs/ü 日本.txt", 5, "md5:5d41402abc4b2a76b9719d911017c592", "etag-md5"),
               ("v/k", 5, "sha256:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=",
                "checksum-sha256", "v2", 0),
               ("v/k", 5, "md5:5d41402abc4b2a76b9719d911017c592", "etag-md5", None, 1)]
    for name, order in (("in-order", [0, 1, 2, 3, 4]), ("late", [3, 0, 4, 2, 1])):
        writer = ManifestWriter(tmp_path, name)
        for index in order:
            writer.add(*entries[index])
        summary = writer.commit()
        assert (tmp_path / name).read_bytes() == "".join(
            line + "\n" for line in VECTOR_LINES).encode("utf-8")
        assert (summary.entries, summary.merkle_root) == (5, VECTOR_ROOT)
        assert manifest_root(tmp_path / name) == VECTOR_ROOT

    proof = prove(tmp_path / "late", VECTOR_ROOT, "v/k", "v2")
    assert proof.verified and (proof.leaf_index, proof.tree_size) == (3, 5)
    assert proof.audit_path == [leaf[2].hex(), sha(b"\x01" + leaf[0] + leaf[1]).hex(),
                                leaf[4].hex()]
    assert not prove(tmp_path / "late", "00" * 32, "docs/a.txt").verified
