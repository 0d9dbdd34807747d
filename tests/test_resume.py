"""Interrupted drills (Ctrl-C, SIGTERM, SIGKILL, a dead target) resume with --resume and end
with the record of one clean run, copying only what was not in place."""

import hashlib
import signal
from collections import Counter
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest

from exitkit.api import run_drill
from exitkit.drill.copy import UNJOURNALED, CopiedObject, still_in_place
from exitkit.drill.journal import journal_path, read_journal
from exitkit.embedded.seed import demo_objects, seed_bucket
from exitkit.embedded.servers import SeaweedServer
from exitkit.errors import ExitkitError
from exitkit.evidence.store import read_record
from exitkit.providers.contract import Attributes, ObjectInfo
from exitkit.verify.entries import Entry
from tests.estates import seed_versioned_s3
from tests.faultproxy import FaultProxy, Faults
from tests.helpers import KillAndRestart, digests, exitkit, minio_client

OBJECTS = 300


@pytest.fixture
def slow_target(seaweed, server_env):
    """The target behind a proxy that delays every request by 40 ms: a copy that takes a
    few seconds, long enough to interrupt."""
    with FaultProxy(int(urlsplit(seaweed.endpoint).port),
                    Faults(delay=1.0, delay_seconds=0.04)) as proxy:
        yield {**server_env, "TGT_ENDPOINT": proxy.endpoint}


def journaled(results, drill="test-drill") -> int:
    """Objects the journal shows copied (committed about once a second); 0 before it exists."""
    path = journal_path(results, drill)
    try:
        return len(read_journal(path)[1])
    except ExitkitError:  # not created yet
        return 0


def interrupt_after(args, env, results, copied: int, signum: int) -> subprocess.CompletedProcess:
    """Start ``exitkit drill run``; send *signum* once *copied* objects are journaled."""
    child = subprocess.Popen([sys.executable, "-m", "exitkit", *args], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while journaled(results) < copied and child.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child.send_signal(signum)
    stdout, stderr = child.communicate(timeout=120)
    return subprocess.CompletedProcess(args, child.returncode, stdout, stderr)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL],
                         ids=["ctrl-c", "sigterm", "sigkill"])
def test_an_interrupted_drill_resumes_to_the_record_of_one_clean_run(
        signum, source_client, bucket_name, write_spec, slow_target, tmp_path, moto, seaweed):
    bucket, target = bucket_name("src"), bucket_name("tgt")
    seed_bucket(source_client, bucket, list(demo_objects(OBJECTS)))
    spec, results = str(write_spec(bucket, target)), tmp_path / "results"
    args = ["drill", "run", spec, "-r", str(results), "--quiet"]
    stopped = interrupt_after(args, slow_target, results, 60, signum)
    if signum == signal.SIGKILL:
        assert stopped.returncode == -signal.SIGKILL
    else:
        assert stopped.returncode == 130, stopped.stderr
        assert stopped.stderr.count("\n") == 1 and "--resume" in stopped.stderr
    assert not list(results.glob("*.json"))  # no record for an unfinished run
    _, before = read_journal(journal_path(results, "test-drill"))
    assert 60 <= len(before) < OBJECTS
    source = digests(minio_client(moto), bucket)
    on_target = digests(minio_client(seaweed), target)
    # nothing partial under any key: each object on the target is its source, whole
    assert {key: source[key] for key in on_target} == on_target
    assert {relative for relative, _age in before} <= set(on_target)

    done = exitkit(*args, "--resume", env=slow_target)
    assert done.returncode == 0, done.stderr
    record = read_record(next(results.glob("*.json")))
    copy_phase = next(phase for phase in record.phases if phase.name == "copy")
    summary = record.copy_summary
    assert summary.resumed_objects == len(before) and summary.resumed_from
    assert summary.objects_copied == OBJECTS == record.inventory.objects
    assert copy_phase.objects == OBJECTS - len(before)  # only what was not in place
    assert summary.bytes_copied == record.inventory.bytes
    assert record.verification.counts["matched"] == OBJECTS
    assert digests(minio_client(seaweed), target) == digests(minio_client(moto), bucket)
    assert not journal_path(results, "test-drill").exists()  # removed once passed


def test_a_versioned_drill_interrupted_mid_history_resumes_without_writing_a_version_twice(
        source_client, target_client, bucket_name, write_spec, slow_target, tmp_path):
    """The versions of one key are journaled together, after the last of them, so Ctrl-C
    leaves versions on the target that the journal does not name (and the transfers in
    flight finish after it). The resumed run takes them as in place, being the source's
    versions in the same places of each key's history, so every key's history on the
    target is the source's, version for version, and nothing is on the target only."""
    bucket, target = bucket_name("src"), bucket_name("tgt")
    versions = seed_versioned_s3(source_client, bucket, sets=6)
    spec = write_spec(bucket, target, extra="verification:\n  versions: all\n")
    results = tmp_path / "results"
    args = ["drill", "run", str(spec), "-r", str(results), "--quiet"]
    stopped = interrupt_after(args, slow_target, results, 60, signal.SIGINT)
    assert stopped.returncode == 130, stopped.stderr
    _, before = read_journal(journal_path(results, "test-drill"))
    written = versions_on(target_client, target)
    assert sum(written.values()) > len(before)  # versions the journal does not name

    done = exitkit(*args, "--resume", env=slow_target)
    assert done.returncode == 0, done.stderr
    record = read_record(next(results.glob("*.json")))
    assert record.copy_summary.resumed_objects == sum(written.values())
    assert record.copy_summary.objects_copied == sum(versions.values())  # all on the target
    assert record.verification.counts["extra"] == 0, record.verification.differences[:3]
    assert record.verification.counts["matched"] == sum(versions.values())
    assert versions_on(target_client, target) == versions


def versions_on(client, bucket: str) -> Counter:
    """The number of versions of each key in *bucket*."""
    pages = client.get_paginator("list_object_versions").paginate(Bucket=bucket)
    return Counter(version["Key"] for page in pages for version in page.get("Versions", []))


def test_a_drill_whose_target_died_resumes_after_the_target_is_back(
        source_client, bucket_name, write_spec, server_env, tmp_path, moto):
    bucket, target_bucket = bucket_name("src"), bucket_name("tgt")
    seed_bucket(source_client, bucket, list(demo_objects(200)))
    spec = tmp_path / "dying.yaml"
    spec.write_text(write_spec(bucket, target_bucket).read_text().replace(
        "max_retries: 2", "max_retries: 0"))
    with SeaweedServer() as target:
        environ = {**server_env, "TGT_ENDPOINT": target.endpoint, "TGT_KEY": target.access_key,
                   "TGT_SECRET": target.secret_key}
        crash = KillAndRestart(target, after_objects=50, down_seconds=3600)
        first = run_drill(spec, tmp_path / "r", observer=crash, environ=environ)
        crash.restart_timer.cancel()
        assert (first.exit_code, first.record.verdict) == (2, "error"), first.record.errors
        journal = journal_path(tmp_path / "r", "test-drill")
        assert journal.is_file()  # kept: the run did not pass
        header, before = read_journal(journal)
        assert header.run_id == first.record.run_id
        assert len(before) == first.record.copy_summary.objects_copied >= 50

        target.start()
        second = run_drill(spec, tmp_path / "r", environ=environ, resume=True)
        record = second.record
        assert second.exit_code == 0, (record.errors, record.copy_summary.failures[:3])
        assert record.copy_summary.resumed_objects == len(before)
        assert record.copy_summary.objects_copied == record.inventory.objects
        copy_phase = next(phase for phase in record.phases if phase.name == "copy")
        assert copy_phase.objects == record.inventory.objects - len(before)
        assert (digests(minio_client(target), target_bucket)
                == digests(minio_client(moto), bucket))


def test_resume_copies_again_what_changed_on_the_source_or_the_target_since_the_interruption(
        source_client, target_client, bucket_name, write_spec, slow_target, tmp_path, moto,
        seaweed):
    bucket, target = bucket_name("src"), bucket_name("tgt")
    seed_bucket(source_client, bucket, list(demo_objects(OBJECTS)))
    spec, results = write_spec(bucket, target), tmp_path / "results"
    args = ["drill", "run", str(spec), "-r", str(results), "--quiet"]
    stopped = interrupt_after(args, slow_target, results, 60, signal.SIGINT)
    assert stopped.returncode == 130, stopped.stderr
    _, before = read_journal(journal_path(results, "test-drill"))
    changed_source, resized_target, deleted_target = sorted(
        relative for (relative, _age), copied in before.items()
        if copied.size > 0 and copied.parts == 1)[:3]
    original = source_client.get_object(Bucket=bucket, Key=changed_source)["Body"].read()
    changed = bytes([original[0] ^ 0xFF]) + original[1:]  # same size, new ETag
    source_client.put_object(Bucket=bucket, Key=changed_source, Body=changed)
    target_client.put_object(Bucket=target, Key=resized_target, Body=b"truncated")
    target_client.delete_object(Bucket=target, Key=deleted_target)

    resumed = run_drill(spec, results, environ=slow_target, resume=True)
    record = resumed.record
    assert resumed.exit_code == 0, (record.errors, record.verification.differences[:3])
    assert record.copy_summary.resumed_objects == len(before) - 3
    copy_phase = next(phase for phase in record.phases if phase.name == "copy")
    assert copy_phase.objects == OBJECTS - (len(before) - 3)
    assert target_client.get_object(Bucket=target, Key=changed_source)["Body"].read() == changed
    assert digests(minio_client(seaweed), target) == digests(minio_client(moto), bucket)


def test_resume_without_a_journal_runs_the_drill_from_the_start(
        source_client, bucket_name, write_spec, server_env, tmp_path, moto, seaweed):
    bucket, target = bucket_name("src"), bucket_name("tgt")
    seed_bucket(source_client, bucket, list(demo_objects(80)))
    results = tmp_path / "results"
    assert not journal_path(results, "test-drill").exists()
    result = run_drill(write_spec(bucket, target), results, environ=server_env, resume=True)
    record = result.record
    assert result.exit_code == 0, record.errors
    summary = record.copy_summary
    assert (summary.resumed_from, summary.resumed_objects) == (None, 0)
    copy_phase = next(phase for phase in record.phases if phase.name == "copy")
    assert copy_phase.objects == summary.objects_copied == record.inventory.objects == 80
    assert digests(minio_client(seaweed), target) == digests(minio_client(moto), bucket)
    assert not journal_path(results, "test-drill").exists()


def test_resume_refuses_a_changed_spec_and_a_second_concurrent_run(
        source_client, bucket_name, write_spec, slow_target, tmp_path):
    bucket = bucket_name("src")
    seed_bucket(source_client, bucket, list(demo_objects(OBJECTS)))
    spec_path = write_spec(bucket, bucket_name("tgt"))
    results = tmp_path / "results"
    args = ["drill", "run", str(spec_path), "-r", str(results), "--quiet"]
    child = subprocess.Popen([sys.executable, "-m", "exitkit", *args], env=slow_target,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while journaled(results) < 10:
            assert child.poll() is None
            time.sleep(0.05)
        second = exitkit(*args, env=slow_target)
        assert second.returncode == 2 and "another run of this drill" in second.stderr
    finally:
        child.send_signal(signal.SIGINT)
        child.communicate(timeout=120)
    spec_path.write_text(spec_path.read_text().replace("concurrency: 4", "concurrency: 3"))
    changed = exitkit(*args, "--resume", env=slow_target)
    assert changed.returncode == 2 and "the spec changed" in changed.stderr
    assert changed.stderr.count("\n") == 1


def test_resume_skips_a_version_only_while_the_target_still_lists_the_version_it_wrote():
    """With ``versions: all`` the journaled target version id must still be listed (and
    followed by a delete marker where the source's version is); with ``latest`` the size
    decides. A changed source ETag or size always means a new copy."""
    def entry(key, size, etag=None, version_id=None, age=0, deleted_after=False):
        return Entry(key, age, ObjectInfo(key, size, etag, version_id=version_id,
                                          deleted_after=deleted_after))

    def copied(size, etag, version_id):
        return CopiedObject(size=size, sha256="0" * 64, source_etag=etag,
                            attributes=Attributes(), checksums={}, parts=1, target_key="",
                            target_version_id=version_id)

    plan = [entry("a", 5, "e-a"), entry("b", 5, "e-b"), entry("c", 5, "e-c2"),
            entry("d", 5, "e-d")]
    journal = {("a", 0): copied(5, "e-a", "t1"), ("b", 0): copied(5, "e-b", "t2"),
               ("c", 0): copied(5, "e-c1", "t3"), ("d", 0): copied(5, "e-d", "t4")}
    target = [entry("a", 5, version_id="t1"), entry("b", 5, version_id="t2-rewritten"),
              entry("c", 5, version_id="t3"), entry("d", 4, version_id="t4")]
    assert still_in_place(plan, journal, target, versions=True) == {("a", 0): 5}
    assert still_in_place(plan, journal, target, versions=False) == {("a", 0): 5, ("b", 0): 5}
    deleted = [entry("e", 5, "e-e", deleted_after=True)]  # its key deleted after it
    written = {("e", 0): copied(5, "e-e", "t5")}
    marker_lost = [entry("e", 5, version_id="t5")]
    assert still_in_place(deleted, written, marker_lost, versions=True) == {}
    marked = [entry("e", 5, version_id="t5", deleted_after=True)]
    assert still_in_place(deleted, written, marked, versions=True) == {("e", 0): 5}


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


#: (source history, target history, journaled places, places in place), oldest first: a
#: history is (ETag, size, delete marker after it); a place, its index from the oldest.
#: Unjournaled target versions were written by an interrupted run before it journaled them.
HISTORY_CASES = [
    # orphans: the first two versions written, none journaled (a key is journaled whole)
    ([(md5("f0"), 3, False), (md5("f1"), 4, False), (md5("f2"), 5, False)],
     [(md5("f0"), 3, False), (md5("f1"), 4, False)], set(), {0, 1}),
    # an orphan that is not the source's version at its place ends the run at once
    ([(md5("g0"), 3, False), (md5("g1"), 4, False)], [(md5("x"), 3, False)], set(), set()),
    # a journaled version in place, then an orphan of the next
    ([(md5("h0"), 3, False), (md5("h1"), 4, False), (md5("h2"), 5, False)],
     [(md5("h0"), 3, False), (md5("h1"), 4, False)], {0}, {0, 1}),
    # a multipart ETag proves no content: the orphan is copied again
    ([("9b2cf535f27731c974343645a3985328-2", 12, False)],
     [("9b2cf535f27731c974343645a3985328-2", 12, False)], set(), set()),
    # the marker after the version did not make it: version and marker are written again
    ([(md5("k0"), 3, True)], [(md5("k0"), 3, False)], set(), set()),
    ([(md5("k0"), 3, True)], [(md5("k0"), 3, True)], set(), {0}),
    # the source's history grew since: the journal's entry at that age names another
    # version, and the target's version proves itself by its ETag
    ([(md5("n0"), 3, False), (md5("n1"), 4, False), (md5("n2"), 5, False)],
     [(md5("n0"), 3, False), (md5("n1"), 4, False)], {"shifted"}, {0, 1}),
    # a size differs at the oldest place: nothing of the key is in place
    ([(md5("m0"), 3, False), (md5("m1"), 4, False)],
     [(md5("m0"), 2, False), (md5("m1"), 4, False)], set(), set()),
]


@pytest.mark.parametrize("source, target, journaled_at, expected", HISTORY_CASES)
def test_resume_takes_the_versions_an_interrupted_run_wrote_in_order_as_in_place(
        source, target, journaled_at, expected):
    def history(key, versions, prefix):
        newest_first = list(reversed(versions))
        return [Entry(key, age, ObjectInfo(key, size, etag, version_id=f"{prefix}{age}",
                                           deleted_after=deleted_after))
                for age, (etag, size, deleted_after) in enumerate(newest_first)]

    plan, on_target = history("k", source, "s"), history("k", target, "t")
    def copied(etag, size, version_id):
        return CopiedObject(size=size, sha256="0" * 64, source_etag=etag,
                            attributes=Attributes(), checksums={}, parts=1, target_key="k",
                            target_version_id=version_id)

    journal = {}
    for place in journaled_at - {"shifted"}:
        etag, size, _ = source[place]
        journal[("k", len(source) - 1 - place)] = copied(etag, size,
                                                         f"t{len(target) - 1 - place}")
    if "shifted" in journaled_at:  # journaled when the key had only its two oldest versions
        for age, (etag, size, _) in enumerate(reversed(target)):
            journal[("k", age)] = copied(etag, size, f"t{age}")
    before = dict(journal)
    found = still_in_place(plan, journal, on_target, versions=True, adopted=journal)
    assert found == {("k", len(source) - 1 - place): source[place][1] for place in expected}
    # a version found in place that the journal did not name is journaled now, with the
    # ids cleanup needs and no facts for verification to reuse
    for order in found:
        if journal[order] is not before.get(order):
            assert journal[order].engine == UNJOURNALED
            place = len(source) - 1 - order[1]  # from the oldest
            held = on_target[len(target) - 1 - place].info
            assert journal[order].target_version_id == held.version_id
            assert journal[order].target_key == "k" and journal[order].sha256 == ""
    assert {order for order in journal if journal[order] is not before.get(order)} <= set(found)
    # without a journal to add them to, only what the journal names is in place
    strict = still_in_place(plan, before, on_target, versions=True)
    assert set(strict) <= {("k", len(source) - 1 - place) for place in journaled_at - {"shifted"}}
