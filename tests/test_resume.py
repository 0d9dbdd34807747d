"""Interrupted drills (Ctrl-C, SIGTERM, SIGKILL, a dead target) resume with --resume and end
with the record of one clean run, copying only what was not in place."""

import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest

from exitkit.api import run_drill
from exitkit.drill.copy import CopiedObject, still_in_place
from exitkit.drill.journal import journal_path, read_journal
from exitkit.embedded.seed import demo_objects, seed_bucket
from exitkit.embedded.servers import SeaweedServer
from exitkit.errors import ExitkitError
from exitkit.evidence.store import read_record
from exitkit.providers.contract import Attributes, ObjectInfo
from exitkit.verify.entries import Entry
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
