"""End-to-end drills against real servers: copy, verify, record, exit codes."""

import json
import time
import os
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from exitkit.api import run_drill
from exitkit.drill.events import SilentObserver
from exitkit.embedded.seed import demo_objects, seed_bucket
from exitkit.evidence.record import RECORD_SCHEMA_VERSION
from exitkit.evidence.store import read_record
from tests.conftest import SEAWEED_TARGET
from tests.estates import HISTORIES
from tests.helpers import bucket_contents, digests, exitkit, minio_client


@pytest.fixture
def seeded(source_client, bucket_name):
    """A source bucket seeded with the demo's kinds of objects (about 300)."""
    bucket = bucket_name("src")
    seed_bucket(source_client, bucket, list(demo_objects(300)))
    return bucket


def test_demo_drill_copies_every_object_byte_for_byte(seeded, write_spec, server_env, tmp_path,
                                                     moto, seaweed, bucket_name):
    target_bucket = bucket_name("tgt")
    spec = write_spec(seeded, target_bucket)
    done = exitkit("drill", "run", str(spec), "--results", str(tmp_path / "results"),
                   env=server_env)
    assert done.returncode == 0, done.stderr
    record = read_record(next((tmp_path / "results").glob("*.json")))
    source = bucket_contents(minio_client(moto), seeded)
    target = bucket_contents(minio_client(seaweed), target_bucket)
    assert set(target) == set(source) and len(source) == 300
    for key, expected in source.items():
        assert target[key]["body"] == expected["body"], key
        assert target[key]["content_type"] == expected["content_type"], key
        assert target[key]["metadata"] == expected["metadata"], key
    verification = record.verification
    assert record.verdict == "passed"
    assert verification.counts["matched"] == 300 == record.inventory.objects
    assert verification.completeness_objects_pct == 100.0
    assert verification.bytes_verified == sum(len(o["body"]) for o in source.values())
    # the multipart objects: written in the source's parts, proven by the ETag predicted
    # from the part MD5s the copy sent (their bytes are compared above)
    assert verification.methods["etag-multipart"] == 3
    assert record.copy_summary.multipart_objects == 3
    assert [phase.name for phase in record.phases] == ["inventory", "copy", "verify"]
    assert all(phase.duration_s > 0 for phase in record.phases)
    assert [phase.objects for phase in record.phases] == [300, 300, 300]
    assert [phase.bytes for phase in record.phases] == [verification.source_bytes] * 3
    assert "record:" in done.stdout and "PASSED" in done.stdout


def into_the_next_second() -> None:
    """Wait until just after the next whole second: stores that keep times in whole
    seconds then tell what is written next from what was written before."""
    time.sleep(1.05 - time.time() % 1)


class Saboteur(SilentObserver):
    """Damages the target after the copy phase, before verification starts."""

    def __init__(self, damage):
        self.damage = damage

    def phase_started(self, phase, total_objects, total_bytes):
        if phase == "verify":
            self.damage()


def test_object_lost_or_changed_between_copy_and_verify_fails_naming_keys(
        seeded, write_spec, server_env, tmp_path, target_client, bucket_name):
    target_bucket = bucket_name("tgt")
    spec = write_spec(seeded, target_bucket)
    lost, flipped, relabelled = ("odd/a+b=c.txt", "docs/日本語/ファイル.csv",
                                 "finance/ledger/2026/q1/entry-00040.json")

    def damage():
        # in a later second than the copy's writes: a rewrite of the same bytes within the
        # second of the copy's own write is what reusing its read-back cannot see
        # (architecture.md, "Verification reuses the copy's read-back")
        into_the_next_second()
        target_client.delete_object(Bucket=target_bucket, Key=lost)
        body = target_client.get_object(Bucket=target_bucket, Key=flipped)["Body"].read()
        target_client.put_object(Bucket=target_bucket, Key=flipped,
                                 Body=bytes([body[0] ^ 1]) + body[1:],
                                 ContentType="text/plain; charset=utf-8",
                                 Metadata={"origin": "odd-names"})
        target_client.copy_object(Bucket=target_bucket, Key=relabelled,
                                  CopySource={"Bucket": target_bucket, "Key": relabelled},
                                  MetadataDirective="REPLACE", ContentType="application/json",
                                  Metadata={"department": "sales", "classification": "internal"})

    result = run_drill(spec, tmp_path / "results", observer=Saboteur(damage), environ=server_env)
    record = result.record
    assert result.exit_code == 1 and record.verdict == "failed"
    differences = {d.key: d for d in record.verification.differences}
    assert differences[lost].kind == "missing"
    assert differences[flipped].kind == "content_differs"
    assert differences[relabelled].kind == "metadata_differs"
    assert "metadata department: 'finance' != 'sales'" in differences[relabelled].detail
    assert record.verification.counts["matched"] == 297
    assert [e.name for e in record.expectations if not e.passed] == ["completeness"]


def test_verify_command_finds_a_lost_object_and_exits_1(seeded, write_spec, server_env, tmp_path,
                                                        target_client, bucket_name):
    target_bucket = bucket_name("tgt")
    spec = write_spec(seeded, target_bucket)
    assert exitkit("drill", "run", str(spec), "-q", "-r", str(tmp_path), env=server_env
                   ).returncode == 0
    target_client.delete_object(Bucket=target_bucket, Key="markers/empty-03.flag")
    target_client.put_object(Bucket=target_bucket, Key="stray/extra.txt", Body=b"extra")
    done = exitkit("verify", str(spec), "-r", str(tmp_path), env=server_env)
    assert done.returncode == 1
    assert "markers/empty-03.flag" in done.stdout and "missing" in done.stdout
    assert "stray/extra.txt" in done.stdout and "extra" in done.stdout
    assert "expectation failed: completeness" in done.stderr


def test_json_output_is_the_record_and_holds_no_secrets(seeded, write_spec, server_env, tmp_path,
                                                        bucket_name, seaweed, moto):
    spec = write_spec(seeded, bucket_name("tgt"), source_prefix="docs/", target_prefix="moved/")
    done = exitkit("drill", "run", str(spec), "--json", "-r", str(tmp_path / "r"), env=server_env)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    written = Path(next((tmp_path / "r").glob("*.json"))).read_text()
    assert printed == json.loads(written)
    assert printed["schema_version"] == RECORD_SCHEMA_VERSION
    assert printed["verification"]["source_objects"] == 4  # only the docs/ prefix
    for secret in (seaweed.secret_key, moto.secret_key):
        assert secret not in done.stdout + done.stderr + written


def test_key_the_target_cannot_hold_is_reported_not_silently_dropped(
        source_client, write_spec, server_env, tmp_path, bucket_name):
    bucket = bucket_name("src")
    source_client.create_bucket(Bucket=bucket)
    source_client.put_object(Bucket=bucket, Key="fine.txt", Body=b"ok")
    source_client.put_object(Bucket=bucket, Key="double//slash.txt", Body=b"rewritten")
    result = run_drill(write_spec(bucket, bucket_name("tgt")), tmp_path, environ=server_env)
    verification = result.record.verification
    assert result.exit_code == 1
    assert verification.counts["unrepresentable"] == 1 and verification.counts["matched"] == 1
    assert verification.counts["extra"] == 0
    assert "1 objects or versions cannot be represented on the target" in verification.gaps
    assert result.record.copy_summary.unrepresentable[0].key == "double//slash.txt"


def test_local_directory_target_reports_its_metadata_gap_per_object(seeded, write_spec, server_env,
                                                         tmp_path, source_client):
    target = f"""\
  provider: local
  path: {tmp_path / 'store'}
  bucket: exit
  create_bucket: true"""
    spec = write_spec(seeded, target=target)
    result = run_drill(spec, tmp_path / "results", environ=server_env)
    verification = result.record.verification
    unrepresentable = {p.key for p in result.record.copy_summary.unrepresentable}
    assert unrepresentable == {"folders/empty-folder/", "folders/another/"}
    with_metadata = {seed.key for seed in demo_objects(300)
                     if seed.metadata and seed.key not in unrepresentable}
    assert verification.counts["property_lost"] == len(with_metadata) > 0
    assert verification.counts["matched"] == 298 - len(with_metadata)
    assert verification.property_losses == {"metadata": len(with_metadata)}
    assert {d.key for d in verification.differences if d.kind == "property_lost"} == with_metadata
    assert result.exit_code == 1  # completeness: metadata lost and not accepted
    assert "the target keeps no content-type, cache-control, content-disposition, content-encoding, "\
           "content-language, expires; not verified" in verification.gaps
    assert f"{len(with_metadata)} objects lost metadata" in verification.gaps
    body = source_client.get_object(Bucket=seeded, Key="backups/db/dump-1.bin")["Body"].read()
    assert (tmp_path / "store/exit/backups/db/dump-1.bin").read_bytes() == body
    assert not list((tmp_path / "store/exit/.exitkit-partial").iterdir())


def test_unreachable_endpoint_exits_2_naming_it(seeded, write_spec, server_env, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    env = {**server_env, "TGT_ENDPOINT": f"http://127.0.0.1:{dead}"}
    done = exitkit("drill", "run", str(write_spec(seeded, "never")), "-r", str(tmp_path), env=env)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"exitkit: error: seaweedfs http://127.0.0.1:{dead}/never: "
                                   "bucket never: connection failed (ConnectionError)")
    assert not list(tmp_path.glob("*.json"))


def test_records_go_to_results_by_default_and_quiet_prints_nothing(tmp_path):
    (tmp_path / "disk-a" / "records").mkdir(parents=True)
    (tmp_path / "disk-a" / "records" / "r.txt").write_bytes(b"record\n")
    spec = tmp_path / "local.yaml"
    spec.write_text(f"""\
version: 1
name: quiet
source: {{provider: local, path: "{tmp_path / 'disk-a'}", bucket: records}}
target: {{provider: local, path: "{tmp_path / 'disk-b'}", bucket: records, create_bucket: true}}
""")
    quiet = exitkit("drill", "run", str(spec), "--quiet", cwd=tmp_path)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    first = set((tmp_path / "results").glob("quiet-*.json"))
    loud = exitkit("drill", "run", str(spec), cwd=tmp_path)
    assert loud.returncode == 0, loud.stderr
    (written,) = set((tmp_path / "results").glob("quiet-*.json")) - first
    assert len(first) == 1  # ./results, one record per run
    lines = loud.stdout.splitlines()
    assert lines[0].startswith("Drill quiet: PASSED  (local records -> local records, ")
    assert lines[-1] == f"record: {written.relative_to(tmp_path)}"


def stderr_on_a_terminal(*args, cwd) -> tuple[int, str]:
    """Run ``exitkit`` with stderr on a pseudo-terminal; its exit code and what it drew
    there, without colours and cursor moves."""
    import pty
    import re

    controller, terminal = pty.openpty()
    drawn = bytearray()

    def read():
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal side closed
                return
            if not chunk:
                return
            drawn.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    child = subprocess.run([sys.executable, "-m", "exitkit", *args], stdout=subprocess.DEVNULL,
                           stderr=terminal, cwd=cwd, timeout=120)
    os.close(terminal)
    reader.join()
    os.close(controller)
    return child.returncode, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drawn.decode())


def test_progress_bars_are_drawn_on_a_terminal_and_quiet_draws_none(tmp_path):
    (tmp_path / "disk-a" / "records").mkdir(parents=True)
    for i in range(50):
        (tmp_path / "disk-a" / "records" / f"r{i:02d}.txt").write_bytes(b"x" * i)
    spec = tmp_path / "bars.yaml"
    spec.write_text(f"""\
version: 1
name: bars
source: {{provider: local, path: "{tmp_path / 'disk-a'}", bucket: records}}
target: {{provider: local, path: "{tmp_path / 'disk-b'}", bucket: records, create_bucket: true}}
""")
    code, drawn = stderr_on_a_terminal("drill", "run", str(spec), cwd=tmp_path)
    assert code == 0, drawn
    last = {line.split()[0]: line for line in drawn.splitlines() if "━" in line}
    assert sorted(last) == ["copy", "inventory", "verify"]
    for line in last.values():  # each phase's bar ends full: 50 of 50 objects, 1,225 bytes
        assert " 50/50 1.2 KiB " in line, line
    assert stderr_on_a_terminal("drill", "run", str(spec), "--quiet", cwd=tmp_path) == (0, "")


def test_exitkit_demo_runs_on_its_own_servers_and_stops_them(tmp_path):
    done = exitkit("demo", "--objects", "120", "--results", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    record = read_record(next(tmp_path.glob("demo-*.json")))
    assert record.verdict == "passed"
    assert record.verification.completeness_objects_pct == 100.0
    assert record.verification.completeness_bytes_pct == 100.0
    assert record.inventory.objects == record.verification.counts["matched"] == 120
    ports = [int(line.rsplit(":", 1)[1]) for line in done.stderr.splitlines()
             if line.startswith(("source:", "target:"))]
    assert len(ports) == 2
    for port in ports:
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0
    lock = record.evidence_store.object_lock
    assert lock.applied and lock.mode == "governance" and lock.days == 30
    assert (record.scope.contract_ref, record.scope.scenario) == ("ROI-2026-0042", "planned_exit")
    assert record.provenance.retention_class == "short"  # whose defaults the lock followed
    mapped = next(tmp_path.glob("demo-*.dora.md")).read_text(encoding="utf-8")
    assert "| evidenced, passed | DORA-28.8-transfer |" in mapped
    audit = exitkit("audit", "verify", str(tmp_path / "ledger.jsonl"), "--pubkey",
                    str(tmp_path / "demo-keys" / "ledger.pub"))
    assert audit.returncode == 0 and "1 entry;" in audit.stdout, audit.stderr
    report = next(tmp_path.glob("demo-*.html")).read_text(encoding="utf-8")
    assert '<header class="verdict verdict-passed" id="verdict">\n  <h1>PASSED</h1>' in report
    assert "<title>PASSED: exit drill demo," in report and record.run_id in report


def test_a_drill_never_writes_to_its_source(seeded, write_spec, server_env, tmp_path, moto,
                                            bucket_name, target_client, source_client):
    """moto_server records every request it answers; a whole drill (copy with restores of
    archived objects, verify, a verify-only rerun after damage) must send the source
    nothing but GET and HEAD, and one POST ?restore per archived object."""
    import requests
    from urllib.parse import unquote, urlsplit

    archived = {"vault/2019.tar": "GLACIER", "vault/2012.tar": "DEEP_ARCHIVE"}
    for key, storage_class in archived.items():
        source_client.put_object(Bucket=seeded, Key=key, Body=key.encode() * 100,
                                 StorageClass=storage_class)
    requests.post(f"{moto.endpoint}/moto-api/recorder/reset-recording", timeout=10)
    requests.post(f"{moto.endpoint}/moto-api/recorder/start-recording", timeout=10)
    target_bucket = bucket_name("tgt")
    one_class = SEAWEED_TARGET.format(bucket=target_bucket, prefix="") + (
        "\n  storage_classes: {GLACIER: STANDARD, DEEP_ARCHIVE: STANDARD}")
    spec = write_spec(seeded, target=one_class,
                      extra="verification:\n  versions: all\n  metadata: true\n"
                            "restore:\n  tier: standard\n  days: 1\n")
    try:
        assert run_drill(spec, tmp_path, environ=server_env).exit_code == 0
        target_client.delete_object(Bucket=target_bucket, Key="odd/a+b=c.txt")
        assert run_drill(spec, tmp_path, environ=server_env, verify_only=True).exit_code == 1
    finally:
        requests.post(f"{moto.endpoint}/moto-api/recorder/stop-recording", timeout=10)
    recording = requests.get(f"{moto.endpoint}/moto-api/recorder/download-recording",
                             timeout=30).text.splitlines()
    requests_seen = [json.loads(line) for line in recording]
    methods = [entry["method"] for entry in requests_seen]
    assert len(methods) > 600  # listings, GETs and HEADs of ~300 objects, twice
    assert set(methods) <= {"GET", "HEAD", "POST"}, sorted(set(methods))
    posts = [urlsplit(entry["url"]) for entry in requests_seen if entry["method"] == "POST"]
    assert {url.query for url in posts} == {"restore="}
    assert sorted(unquote(url.path) for url in posts) == sorted(
        f"/{seeded}/{key}" for key in archived)


def test_target_bucket_with_data_outside_the_prefix_is_refused_unless_allowed(
        source_client, target_client, write_spec, server_env, tmp_path, bucket_name):
    bucket, target_bucket = bucket_name("src"), bucket_name("tgt")
    source_client.create_bucket(Bucket=bucket)
    source_client.put_object(Bucket=bucket, Key="a.txt", Body=b"a")
    target_client.create_bucket(Bucket=target_bucket)
    target_client.put_object(Bucket=target_bucket, Key="payroll/2026.csv", Body=b"keep out")
    spec = write_spec(bucket, target_bucket, target_prefix="exit/")
    done = exitkit("drill", "run", str(spec), "-r", str(tmp_path), env=server_env)
    assert done.returncode == 2
    assert "already holds data outside the drill's prefix 'exit/' (for example " \
           "'payroll/2026.csv')" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    allowed = spec.read_text().replace("  create_bucket: true", "  create_bucket: true\n"
                                                               "  allow_foreign_data: true")
    spec.write_text(allowed)
    assert exitkit("drill", "run", str(spec), "-q", "-r", str(tmp_path), env=server_env
                   ).returncode == 0
    assert target_client.get_object(Bucket=target_bucket, Key="exit/a.txt")["Body"].read() == b"a"


def test_target_identical_to_source_is_refused(source_client, write_spec, server_env, tmp_path,
                                              bucket_name, moto):
    bucket = bucket_name("src")
    source_client.create_bucket(Bucket=bucket)
    target = f"""\
  provider: aws-s3
  endpoint: ${{SRC_ENDPOINT}}
  region: us-east-1
  bucket: {bucket}
  credentials: {{access_key_env: SRC_KEY, secret_key_env: SRC_SECRET}}"""
    done = exitkit("drill", "run", str(write_spec(bucket, target=target)), "-r", str(tmp_path),
                   env=server_env)
    assert done.returncode == 2
    assert "target: target overlaps the source (same endpoint, bucket and prefix)" in done.stderr


def test_cleanup_deletes_what_the_drill_wrote_also_after_failure(
        source_client, target_client, write_spec, server_env, tmp_path, bucket_name):
    bucket, target_bucket = bucket_name("src"), bucket_name("tgt")
    source_client.create_bucket(Bucket=bucket)
    source_client.put_bucket_versioning(Bucket=bucket,
                                        VersioningConfiguration={"Status": "Enabled"})
    for i in range(12):
        for version in range(2):
            source_client.put_object(Bucket=bucket, Key=f"k/{i:02d}", Body=f"{i}.{version}".encode())
    spec = write_spec(bucket, target_bucket, target_prefix="drill/",
                      extra="verification:\n  versions: all\ncleanup: true\n")
    spec.write_text(spec.read_text().replace("  create_bucket: true", "  create_bucket: true\n"
                                                                      "  allow_foreign_data: true"))
    target_client.create_bucket(Bucket=target_bucket)
    target_client.put_object(Bucket=target_bucket, Key="keep/me.txt", Body=b"not ours")

    result = run_drill(spec, tmp_path / "ok", environ=server_env)
    cleanup = result.record.cleanup
    assert result.exit_code == 0, result.record.errors
    assert (cleanup.requested, cleanup.deleted, cleanup.remaining, cleanup.verified) == (
        24, 24, 0, True)
    assert [phase.name for phase in result.record.phases][-1] == "cleanup"
    listed = target_client.list_object_versions(Bucket=target_bucket)
    assert [v["Key"] for v in listed.get("Versions", [])] == ["keep/me.txt"]
    assert not listed.get("DeleteMarkers")

    def damage():
        target_client.delete_object(Bucket=target_bucket, Key="drill/k/03")

    failed = run_drill(spec, tmp_path / "failed", observer=Saboteur(damage), environ=server_env)
    assert failed.exit_code == 1 and failed.record.verdict == "failed"
    # the delete marker hides k/03: its current version is reported missing
    missing = [(d.key, d.version_age) for d in failed.record.verification.differences
               if d.kind == "missing"]
    assert missing == [("k/03", 0)]
    assert failed.record.cleanup.verified and failed.record.cleanup.remaining == 0
    left = target_client.list_object_versions(Bucket=target_bucket)
    assert [v["Key"] for v in left.get("Versions", [])] == ["keep/me.txt"]


def test_a_delete_marker_on_the_target_reports_only_the_current_version_missing(
        source_client, target_client, write_spec, server_env, tmp_path, bucket_name):
    bucket, target_bucket = bucket_name("src"), bucket_name("tgt")
    source_client.create_bucket(Bucket=bucket)
    source_client.put_bucket_versioning(Bucket=bucket,
                                        VersioningConfiguration={"Status": "Enabled"})
    for i in range(6):
        for version in range(2):
            source_client.put_object(Bucket=bucket, Key=f"k/{i:02d}",
                                     Body=f"{i}.{version}".encode())
    spec = write_spec(bucket, target_bucket, extra="verification:\n  versions: all\n")

    def damage():
        target_client.delete_object(Bucket=target_bucket, Key="k/03")

    result = run_drill(spec, tmp_path, observer=Saboteur(damage), environ=server_env)
    verification = result.record.verification
    assert result.exit_code == 1
    assert [(d.key, d.kind, d.version_age) for d in verification.differences] == [
        ("k/03", "missing", 0)]
    assert verification.counts["matched"] == 11


def seed_histories(client, bucket: str) -> set[str]:
    """A versioned bucket holding :data:`tests.estates.HISTORIES`; the keys current at the
    end (not under a delete marker)."""
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for key, steps in HISTORIES.items():
        for number, step in enumerate(steps):
            if step == "delete" and number < len(steps) - 1:
                # moto_server lists times in whole seconds, and a marker between versions is
                # placed by its time: it gets a later second than the versions before it
                into_the_next_second()
            if step == "put":
                client.put_object(Bucket=bucket, Key=key, Body=f"{key} v{number}".encode())
            else:
                client.delete_object(Bucket=bucket, Key=key)
    return {key for key, steps in HISTORIES.items() if steps[-1] == "put"}


def steps_on(client, bucket: str, key: str) -> Counter:
    """How many versions (``put``) and delete markers (``delete``) *key* has on *bucket*."""
    listed = client.list_object_versions(Bucket=bucket, Prefix=key)
    return Counter({"put": sum(item["Key"] == key for item in listed.get("Versions", [])),
                    "delete": sum(item["Key"] == key
                                  for item in listed.get("DeleteMarkers", []))})


def test_keys_deleted_on_the_source_stay_deleted_on_the_target(
        source_client, target_client, write_spec, server_env, tmp_path, bucket_name):
    """Each key's history arrives as it is, delete markers in their places; cleanup takes
    the markers it wrote away with the versions. moto_server lists a page's delete markers
    after all its versions: read so, a deleted key looked current and the drill passed with
    the key live on the target."""
    bucket, target_bucket = bucket_name("src"), bucket_name("tgt")
    current = seed_histories(source_client, bucket)
    spec = write_spec(bucket, target_bucket, extra="verification:\n  versions: all\n")
    result = run_drill(spec, tmp_path / "copy", environ=server_env)
    listed = target_client.list_objects_v2(Bucket=target_bucket).get("Contents", [])
    assert {item["Key"] for item in listed} == current
    for key, steps in HISTORIES.items():  # the places of the markers: verification's
        assert steps_on(target_client, target_bucket, key) == Counter(steps), key
    assert result.exit_code == 0, result.record.verification.differences
    versions = sum(steps.count("put") for steps in HISTORIES.values())
    assert result.record.verification.counts["matched"] == versions

    cleaned_bucket = bucket_name("cleaned")
    cleanup = write_spec(bucket, cleaned_bucket, filename="cleanup.yaml",
                         extra="verification:\n  versions: all\ncleanup: true\n")
    cleaned = run_drill(cleanup, tmp_path / "cleanup", environ=server_env)
    assert cleaned.exit_code == 0 and cleaned.record.cleanup.verified
    left = target_client.list_object_versions(Bucket=cleaned_bucket)
    assert not left.get("Versions") and not left.get("DeleteMarkers")


def test_a_delete_marker_lost_on_the_target_is_reported_on_its_key(
        source_client, target_client, write_spec, server_env, tmp_path, bucket_name):
    bucket, target_bucket = bucket_name("src"), bucket_name("tgt")
    seed_histories(source_client, bucket)
    spec = write_spec(bucket, target_bucket, extra="verification:\n  versions: all\n")

    def damage():  # the marker on top of a deleted key goes: the key is current again
        marker = target_client.list_object_versions(
            Bucket=target_bucket, Prefix="docs/deleted.txt")["DeleteMarkers"][0]
        target_client.delete_object(Bucket=target_bucket, Key="docs/deleted.txt",
                                    VersionId=marker["VersionId"])

    result = run_drill(spec, tmp_path, observer=Saboteur(damage), environ=server_env)
    assert result.exit_code == 1
    assert [(d.key, d.kind, d.version_age, d.detail)
            for d in result.record.verification.differences] == [
        ("docs/deleted.txt", "missing", 0, "the delete marker after this version is not on "
                                           "the target; the key is current there")]


def test_two_drills_at_once_on_one_target_with_different_prefixes_both_complete(
        seeded, write_spec, server_env, tmp_path, bucket_name, moto, seaweed):
    target = bucket_name("shared")
    children = []
    for name, prefix in (("east", "web/"), ("west", "finance/")):
        block = (f"  provider: seaweedfs\n  endpoint: ${{TGT_ENDPOINT}}\n  bucket: {target}\n"
                 f"  prefix: {name}/\n  create_bucket: true\n  allow_foreign_data: true\n"
                 f"  credentials: {{access_key_env: TGT_KEY, secret_key_env: TGT_SECRET}}")
        spec = write_spec(seeded, name=name, source_prefix=prefix, target=block,
                          filename=f"{name}.yaml")
        children.append(subprocess.Popen(
            [sys.executable, "-m", "exitkit", "drill", "run", str(spec), "-r",
             str(tmp_path / "r"), "--quiet"], env=server_env, stderr=subprocess.PIPE, text=True))
    for child in children:
        assert child.wait(timeout=600) == 0, child.stderr.read()
    source = digests(minio_client(moto), seeded)
    copied = digests(minio_client(seaweed), target)
    for name, prefix in (("east", "web/"), ("west", "finance/")):
        expected = {key[len(prefix):]: digest for key, digest in source.items()
                    if key.startswith(prefix)}
        assert expected and {key[len(name) + 1:]: digest for key, digest in copied.items()
                             if key.startswith(f"{name}/")} == expected
    assert len(copied) == sum(1 for key in source if key.startswith(("web/", "finance/")))


def process_table() -> dict[int, tuple[int, int, str, str]]:
    """Every process: pid -> (parent pid, session id, start time, state), from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # exited while listed
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(entry.name)] = (int(fields[1]), int(fields[3]), fields[19], fields[0])
    return table


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_ctrl_c_during_the_demo_stops_its_servers(tmp_path):
    """SIGINT to ``exitkit demo`` while it copies: exit 130 and no server it started (found
    by parent PID and session, not by name: other servers run on this machine) is left."""
    from exitkit.drill.journal import journal_path

    results = tmp_path / "results"
    demo = subprocess.Popen([sys.executable, "-m", "exitkit", "demo", "--results", str(results)],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    servers = {}
    try:
        while not journal_path(results, "demo").exists():  # the copy phase has begun
            assert demo.poll() is None, demo.communicate()
            threading.Event().wait(0.05)
        table = process_table()  # each server leads a session of its own (a probe the
        # drill runs meanwhile, such as the provenance's git, does not)
        servers = {pid: table[pid] for pid, (parent, session, *_rest) in table.items()
                   if parent == demo.pid and session == pid}
        commands = sorted(cmdline(pid) for pid in servers)
        assert len(servers) == 2 and "moto.server" in commands[0] and "weed" in commands[1], \
            commands
        started = {(pid, start) for pid, (_parent, _session, start, _state) in servers.items()}
        demo.send_signal(signal.SIGINT)
        _, stderr = demo.communicate(timeout=300)
    finally:  # a failed assertion above must not leave the demo or its servers running
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(timeout=120)
            except subprocess.TimeoutExpired:
                demo.kill()
        for pid, (_parent, _session, start, _state) in servers.items():
            if process_table().get(pid, (0, 0, None))[2] == start:
                os.killpg(pid, signal.SIGKILL)  # each server leads its own session
    assert demo.returncode == 130, stderr
    assert "Traceback" not in stderr
    left = [(pid, cmdline(pid)) for pid, (_parent, session, start, state)
            in process_table().items() if state != "Z" and (
                (pid, start) in started or session in servers)]
    assert left == []
    ports = [int(line.rsplit(":", 1)[1]) for line in stderr.splitlines()
             if line.startswith(("source:", "target:"))]
    assert len(ports) == 2
    for port in ports:
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0
