"""The evidence store: records and side files in an S3 bucket, under Object Lock where it holds."""

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from exitkit.api import run_drill
from exitkit.embedded.seed import demo_objects, seed_bucket
from tests.helpers import exitkit

STORE = """\
evidence:
  store:
    provider: s3-compatible
    endpoint: ${{{endpoint}}}
    region: us-east-1
    bucket: {bucket}
    prefix: drills/
    credentials: {{access_key_env: {key}, secret_key_env: {secret}}}
    object_lock: {{mode: governance, days: 3}}
"""


@pytest.fixture
def seeded(source_client, bucket_name):
    bucket = bucket_name("src")
    seed_bucket(source_client, bucket, list(demo_objects(30)))
    return bucket


def test_record_and_side_files_are_stored_under_governance_retention(
        seeded, source_client, write_spec, server_env, tmp_path, bucket_name):
    store = bucket_name("evidence")
    source_client.create_bucket(Bucket=store, ObjectLockEnabledForBucket=True)
    spec = write_spec(seeded, bucket_name("tgt"), extra=STORE.format(
        endpoint="SRC_ENDPOINT", bucket=store, key="SRC_KEY", secret="SRC_SECRET"))
    result = run_drill(spec, tmp_path / "r", environ=server_env)
    assert result.exit_code == 0, result.record.errors
    stored = result.record.evidence_store
    assert stored.object_lock.applied and stored.object_lock.mode == "governance"
    names = [result.path.name, *result.record.side_files()]
    assert sorted(stored.files) == sorted(names) and len(names) == 3
    listed = source_client.list_objects_v2(Bucket=store)["Contents"]
    assert sorted(item["Key"] for item in listed) == sorted(f"drills/{name}" for name in names)
    record_key = f"drills/{result.path.name}"
    body = source_client.get_object(Bucket=store, Key=record_key)["Body"].read()
    assert body == result.path.read_bytes()
    head = source_client.head_object(Bucket=store, Key=record_key)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] == stored.object_lock.retain_until
    version = head["VersionId"]
    with pytest.raises(ClientError) as refused:  # the lock holds: no deletion without bypass
        source_client.delete_object(Bucket=store, Key=record_key, VersionId=version)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_compliance_mode_retention_cannot_be_bypassed(
        seeded, source_client, write_spec, server_env, tmp_path, bucket_name):
    store = bucket_name("evidence")
    source_client.create_bucket(Bucket=store, ObjectLockEnabledForBucket=True)
    spec = write_spec(seeded, bucket_name("tgt"), extra=STORE.format(
        endpoint="SRC_ENDPOINT", bucket=store, key="SRC_KEY", secret="SRC_SECRET").replace(
        "{mode: governance, days: 3}", "{mode: compliance, days: 1}"))
    result = run_drill(spec, tmp_path / "r", environ=server_env)
    stored_by = datetime.now(UTC)
    assert result.exit_code == 0, result.record.errors
    lock = result.record.evidence_store.object_lock
    assert lock.applied and (lock.mode, lock.days) == ("compliance", 1)
    # one day from when the evidence was stored: after the run ended, before it returned
    ended = result.record.ended_at.replace(microsecond=0)
    assert ended + timedelta(days=1) <= lock.retain_until <= stored_by + timedelta(days=1)
    names = [result.path.name, *result.record.side_files()]
    for name in names:
        head = source_client.head_object(Bucket=store, Key=f"drills/{name}")
        assert head["ObjectLockMode"] == "COMPLIANCE", name
        assert head["ObjectLockRetainUntilDate"] == lock.retain_until
    record_key = f"drills/{result.path.name}"
    version = source_client.head_object(Bucket=store, Key=record_key)["VersionId"]
    with pytest.raises(ClientError) as refused:  # not even a governance bypass removes it
        source_client.delete_object(Bucket=store, Key=record_key, VersionId=version,
                                    BypassGovernanceRetention=True)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    body = source_client.get_object(Bucket=store, Key=record_key)["Body"].read()
    assert body == result.path.read_bytes()


def test_a_store_without_object_lock_says_the_lock_was_not_applied(
        seeded, target_client, write_spec, server_env, tmp_path, bucket_name):
    store = bucket_name("evidence")
    target_client.create_bucket(Bucket=store)
    spec = write_spec(seeded, bucket_name("tgt"), extra=STORE.format(
        endpoint="TGT_ENDPOINT", bucket=store, key="TGT_KEY", secret="TGT_SECRET"))
    result = run_drill(spec, tmp_path / "r", environ=server_env)
    assert result.exit_code == 0, result.record.errors
    lock = result.record.evidence_store.object_lock
    assert not lock.applied and "no Object Lock" in lock.detail
    stored = target_client.get_object(Bucket=store, Key=f"drills/{result.path.name}")
    assert stored["Body"].read() == result.path.read_bytes()


def test_an_unreachable_store_stops_the_drill_before_it_copies(
        seeded, write_spec, server_env, tmp_path, bucket_name, target_client):
    target = bucket_name("tgt")
    spec = write_spec(seeded, target, extra=STORE.format(
        endpoint="SRC_ENDPOINT", bucket="no-such-evidence-bucket", key="SRC_KEY",
        secret="SRC_SECRET"))
    done = exitkit("drill", "run", str(spec), "--results", str(tmp_path / "r"), env=server_env)
    assert done.returncode == 2 and "evidence store" in done.stderr
    assert done.stderr.count("\n") == 1
    assert target not in [b["Name"] for b in target_client.list_buckets()["Buckets"]]
