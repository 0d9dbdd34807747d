"""Faults injected by a loopback proxy between exitkit and a real source server."""

import json
from urllib.parse import urlsplit

from exitkit.api import run_drill
from exitkit.embedded.seed import demo_objects, seed_bucket
from exitkit.embedded.servers import SeaweedServer
from tests.faultproxy import FaultProxy, Faults
from tests.helpers import KillAndRestart, digests, minio_client


def through_proxy(server_env, proxy):
    return {**server_env, "SRC_ENDPOINT": proxy.endpoint}


def drill_through_proxy(faults, objects, max_retries, source_client, moto, write_spec,
                        server_env, tmp_path, bucket_name):
    """Seed a source bucket, run a drill whose source is reached through a fault proxy."""
    bucket, target_bucket = bucket_name("src"), bucket_name("tgt")
    seed_bucket(source_client, bucket, list(demo_objects(objects)))
    spec = tmp_path / "faulty.yaml"
    spec.write_text(write_spec(bucket, target_bucket).read_text().replace(
        "max_retries: 2", f"max_retries: {max_retries}"))
    with FaultProxy(int(urlsplit(moto.endpoint).port), faults) as proxy:
        result = run_drill(spec, tmp_path / "r", environ=through_proxy(server_env, proxy))
    return result, bucket, target_bucket


def test_throttling_resets_and_delays_are_retried_to_a_complete_drill(
        source_client, moto, seaweed, write_spec, server_env, tmp_path, bucket_name):
    faults = Faults(slow_down=0.12, reset=0.04, delay=0.05, seed=7)
    result, bucket, target_bucket = drill_through_proxy(
        faults, 150, 8, source_client, moto, write_spec, server_env, tmp_path, bucket_name)
    record = result.record
    assert result.exit_code == 0, (record.errors, record.copy_summary.failures)
    assert faults.injected["slow_down"] > 10 and faults.injected["reset"] > 2
    retries = sum(phase.retries for phase in record.phases) + record.requests["source"].retries
    assert retries >= faults.injected["slow_down"] + faults.injected["reset"] - 2
    assert digests(minio_client(seaweed), target_bucket) == digests(minio_client(moto), bucket)


def test_flipped_bytes_are_never_reported_verified(
        source_client, moto, seaweed, write_spec, server_env, tmp_path, bucket_name):
    faults = Faults(flip_byte=0.25, seed=11)
    result, bucket, target_bucket = drill_through_proxy(
        faults, 120, 6, source_client, moto, write_spec, server_env, tmp_path, bucket_name)
    assert faults.injected["flip_byte"] > 10
    copy = next(phase for phase in result.record.phases if phase.name == "copy")
    assert copy.retries >= faults.injected["flip_byte"] - 5
    source = digests(minio_client(moto), bucket)
    target = digests(minio_client(seaweed), target_bucket)
    manifest = result.path.parent / result.record.verification.manifest.file
    verified = [json.loads(line)["key"] for line in manifest.read_text().splitlines()]
    assert verified, "nothing was verified"
    for key in verified:
        assert target[key] == source[key], key
    assert result.exit_code in (0, 1)
    if result.exit_code == 0:
        assert target == source


def test_target_killed_mid_copy_and_restarted_ends_byte_identical(
        source_client, moto, write_spec, server_env, tmp_path, bucket_name):
    bucket = bucket_name("src")
    seed_bucket(source_client, bucket, list(demo_objects(200)))
    with SeaweedServer() as target:
        environ = {**server_env, "TGT_ENDPOINT": target.endpoint, "TGT_KEY": target.access_key,
                   "TGT_SECRET": target.secret_key}
        spec = tmp_path / "crash.yaml"
        # Jittered backoff can draw short waits: the retry budget must outlast a restart
        # of SeaweedFS after SIGKILL, which takes longer on a loaded machine.
        spec.write_text(write_spec(bucket, "crash-target").read_text().replace(
            "max_retries: 2", "max_retries: 20"))
        crash = KillAndRestart(target, after_objects=60, down_seconds=2.0)
        result = run_drill(spec, tmp_path / "r", observer=crash, environ=environ)
        assert crash.restarted.wait(60) and crash.killed_at >= 60
        record = result.record
        assert result.exit_code == 0, (record.errors, record.copy_summary.failures[:3])
        copy = next(phase for phase in record.phases if phase.name == "copy")
        assert copy.retries > 0
        assert (digests(minio_client(target), "crash-target")
                == digests(minio_client(moto), bucket))


def test_target_side_throttling_and_resets_are_retried_to_a_byte_identical_copy(
        source_client, moto, seaweed, write_spec, server_env, tmp_path, bucket_name):
    bucket, target_bucket = bucket_name("src"), bucket_name("tgt")
    seed_bucket(source_client, bucket, list(demo_objects(150)))
    spec = tmp_path / "target-faults.yaml"
    spec.write_text(write_spec(bucket, target_bucket).read_text().replace(
        "max_retries: 2", "max_retries: 8"))
    faults = Faults(slow_down=0.10, reset=0.03, delay=0.05, seed=11)
    with FaultProxy(int(urlsplit(seaweed.endpoint).port), faults) as proxy:
        result = run_drill(spec, tmp_path / "r",
                           environ={**server_env, "TGT_ENDPOINT": proxy.endpoint})
    record = result.record
    assert result.exit_code == 0, (record.errors, record.copy_summary.failures[:3])
    assert faults.injected["slow_down"] > 0 and faults.injected["reset"] > 0
    assert sum(phase.retries for phase in record.phases) + record.requests["target"].retries > 0
    assert digests(minio_client(seaweed), target_bucket) == digests(minio_client(moto), bucket)
