"""Faults injected by a loopback proxy between exitkit and a real source server."""

import io
import json
import random
import time
from urllib.parse import unquote, urlsplit

import pytest
from pydantic import SecretStr

from exitkit.api import run_drill
from exitkit.drill.spec import Credentials, Endpoint
from exitkit.drill.spec_file import Keys
from exitkit.embedded.seed import SeedObject, demo_objects, seed_bucket
from exitkit.embedded.servers import SeaweedServer
from exitkit.errors import TransientError
from exitkit.providers.registry import open_source
from tests.faultproxy import FaultProxy, Faults
from tests.helpers import KillAndRestart, digests, minio_client

CREDS = Credentials(access_key_env="UNUSED_A", secret_key_env="UNUSED_B")


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


def refused_or_reset(faults) -> int:
    """The requests the proxy refused (503) or reset that the drill must retry, each once:
    all but the abort of a failed multipart upload (``DELETE ?uploadId``), which is best
    effort and never retried. A delay costs no retry."""
    return sum(1 for fault, method, path in faults.requests if fault in ("slow_down", "reset")
               and not (method == "DELETE" and "uploadId=" in path))


def test_throttling_resets_and_delays_are_retried_to_a_complete_drill(
        source_client, moto, seaweed, write_spec, server_env, tmp_path, bucket_name):
    faults = Faults(slow_down=0.12, reset=0.04, delay=0.05, seed=7)
    result, bucket, target_bucket = drill_through_proxy(
        faults, 150, 8, source_client, moto, write_spec, server_env, tmp_path, bucket_name)
    record = result.record
    assert result.exit_code == 0, (record.errors, record.copy_summary.failures)
    assert faults.injected["slow_down"] > 10 and faults.injected["reset"] > 2
    retries = sum(phase.retries for phase in record.phases) + record.requests["source"].retries
    assert retries == refused_or_reset(faults), faults.requests
    assert digests(minio_client(seaweed), target_bucket) == digests(minio_client(moto), bucket)


def flipped_keys(faults, bucket) -> set[str]:
    """The object keys whose first read the proxy damaged."""
    prefix = f"/{bucket}/"
    assert all(path.startswith(prefix) for path in faults.flipped)
    return {unquote(path[len(prefix):]) for path in faults.flipped}


def manifest_keys(result) -> list[str]:
    manifest = result.path.parent / result.record.verification.manifest.file
    return [json.loads(line)["key"] for line in manifest.read_text().splitlines()]


def test_reads_damaged_in_transit_are_caught_by_the_source_digests_and_retried(
        source_client, moto, seaweed, write_spec, server_env, tmp_path, bucket_name):
    """One byte flipped in the first read of a quarter of the objects: each damaged read
    fails the copy's check against the source's MD5 ETag or multipart ETag (part size from
    ``HEAD ?partNumber=1``), is retried once, and the drill ends byte-identical."""
    faults = Faults(flip_byte=0.25, seed=36)  # seed 36 picks all three multipart objects
    result, bucket, target_bucket = drill_through_proxy(
        faults, 120, 6, source_client, moto, write_spec, server_env, tmp_path, bucket_name)
    record = result.record
    assert result.exit_code == 0, (record.errors, record.verification.differences[:3])
    damaged = flipped_keys(faults, bucket)
    assert len(damaged) == faults.injected["flip_byte"] > 10
    assert {obj.key for obj in demo_objects(120) if obj.multipart} <= damaged
    copy = next(phase for phase in record.phases if phase.name == "copy")
    assert copy.retries == len(damaged)
    assert sum(phase.retries for phase in record.phases) == len(damaged)
    source = digests(minio_client(moto), bucket)
    assert digests(minio_client(seaweed), target_bucket) == source
    assert sorted(manifest_keys(result)) == sorted(source)


def test_a_damaged_read_no_source_digest_can_catch_is_reported_content_differs(
        source_client, moto, seaweed, write_spec, server_env, tmp_path, bucket_name):
    """Every object's first read is damaged, and the source does not say the part size of
    its multipart objects: their multipart ETags cannot check the read, so the copy writes
    damaged bytes. Verification does not trust that copy's digest: it reads the source
    again and reports each of them ``content_differs``, never verified. The damaged reads
    of single-part objects are caught by their MD5 ETags and retried."""
    faults = Faults(flip_byte=1.0, hide_part_sizes=True, seed=5)
    result, bucket, target_bucket = drill_through_proxy(
        faults, 120, 6, source_client, moto, write_spec, server_env, tmp_path, bucket_name)
    record = result.record
    multipart = {obj.key for obj in demo_objects(120) if obj.multipart}
    assert len(multipart) == 3 and multipart <= flipped_keys(faults, bucket)
    assert faults.injected["hide_part_size"] == 3  # one part HEAD per multipart copy
    assert result.exit_code == 1 and record.verdict == "failed"
    differences = {d.key: d.kind for d in record.verification.differences}
    assert differences == dict.fromkeys(multipart, "content_differs")
    copy = next(phase for phase in record.phases if phase.name == "copy")
    assert copy.retries == faults.injected["flip_byte"] - len(multipart)
    source = digests(minio_client(moto), bucket)
    target = digests(minio_client(seaweed), target_bucket)
    assert sorted(manifest_keys(result)) == sorted(set(source) - multipart)
    assert record.verification.counts["matched"] == len(source) - 3
    assert {key for key in source if target[key] != source[key]} == multipart
    for key in multipart:  # the target holds the damaged read: one bit of one byte differs
        written = minio_client(seaweed).get_object(target_bucket, key).read()
        original = source_client.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert len(written) == len(original)
        assert [a ^ b for a, b in zip(written, original) if a != b] == [1]


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


def _multipart_estate(count: int, seed: int) -> list[SeedObject]:
    """Backups and media of 6-24 MiB, uploaded in parts as their tools do."""
    rng = random.Random(seed)
    kinds = [("backups/db/{:03d}.dump.zst", "application/zstd", None),
             ("media/video/{:03d}.mp4", "video/mp4", None),
             ("exports/{:03d}.csv.gz", "text/csv", "gzip")]
    objects = []
    for number in range(count):
        key, content_type, encoding = kinds[number % len(kinds)]
        objects.append(SeedObject(key.format(number), rng.randbytes(rng.randint(6, 24) << 20),
                                  content_type, {"origin": "nightly"}, multipart=True,
                                  content_encoding=encoding))
    return objects


def test_each_faulted_upload_part_is_sent_again_on_its_own(
        source_client, moto, seaweed, write_spec, server_env, tmp_path, bucket_name):
    """Parts of one object go up at once; two of them refused together are two retries of
    two parts, not one restart of the object (which would also send the good parts again)."""
    bucket, target_bucket = bucket_name("src"), bucket_name("tgt")
    estate = _multipart_estate(6, seed=5)
    seed_bucket(source_client, bucket, estate)
    spec = tmp_path / "part-faults.yaml"
    spec.write_text(write_spec(bucket, target_bucket).read_text().replace(
        "max_retries: 2", "max_retries: 8"))
    faults = Faults(slow_down=0.35, reset=0.15, only="partNumber=", seed=3)
    with FaultProxy(int(urlsplit(seaweed.endpoint).port), faults) as proxy:
        result = run_drill(spec, tmp_path / "r",
                           environ={**server_env, "TGT_ENDPOINT": proxy.endpoint})
    record = result.record
    assert result.exit_code == 0, (record.errors, record.copy_summary.failures[:3])
    assert faults.injected["slow_down"] + faults.injected["reset"] > 2, faults.injected
    assert all(method == "PUT" for _fault, method, _path in faults.requests)
    refused = refused_or_reset(faults)
    assert sum(phase.retries for phase in record.phases) == refused
    parts = sum(-(-len(seeded.body) // (5 << 20)) for seeded in estate)
    assert faults.seen == parts + refused  # no object was restarted, no good part sent twice
    assert digests(minio_client(seaweed), target_bucket) == digests(minio_client(moto), bucket)


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
    assert faults.injected["slow_down"] > 5 and faults.injected["reset"] > 0
    retries = sum(phase.retries for phase in record.phases) + record.requests["target"].retries
    assert retries == refused_or_reset(faults), faults.requests
    assert digests(minio_client(seaweed), target_bucket) == digests(minio_client(moto), bucket)


def test_a_connection_cut_while_a_body_streams_is_one_transient_error(
        moto, source_client, bucket_name):
    """A GET whose connection closes halfway through the body raises one TransientError
    (retried like a reset) after handing on exactly the bytes that arrived."""
    bucket, key = bucket_name("cut"), "media/clip-01.bin"
    body = random.Random(16).randbytes(3 << 20)
    source_client.create_bucket(Bucket=bucket)
    source_client.put_object(Bucket=bucket, Key=key, Body=body)
    faults = Faults(cut=1.0)
    with FaultProxy(int(urlsplit(moto.endpoint).port), faults) as proxy:
        source = open_source(Endpoint(provider="aws-s3", endpoint=proxy.endpoint,
                                      region="us-east-1", bucket=bucket, credentials=CREDS),
                             Keys(SecretStr(moto.access_key), SecretStr(moto.secret_key)))
        received = []
        with pytest.raises(TransientError) as caught:
            with source.open(key) as stream:
                received.extend(stream.chunks)
    assert str(caught.value) == f"GET {key}: connection failed (ConnectionError)"
    assert faults.injected["cut"] == 1
    assert b"".join(received) == body[:len(body) // 2]


def _when(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the proxy did not get there in time"
        time.sleep(0.005)


@pytest.mark.parametrize("close_idle", [False, True], ids=["kept-alive", "closed-by-server"])
def test_a_connection_is_reused_until_the_server_closes_it(seaweed, bucket_name, close_idle):
    """Requests in turn share one kept-alive connection. When the server closes each
    connection after its answer without saying so (its idle timeout), the next request
    opens a new connection instead of failing on the closed one: no error, no retry."""
    bucket = bucket_name("idle")
    client = minio_client(seaweed)
    client.make_bucket(bucket)
    rng = random.Random(41)
    objects = {f"{prefix}/{index:03d}-{name}": rng.randbytes(rng.randrange(0, 40_000))
               for index, (prefix, name) in enumerate(
                   (rng.choice(["logs/2026", "media", "bäckerei/κλειδί", "a b+c"]),
                    rng.choice(["x.gz", "y.bin", "z%20.txt"])) for _ in range(12))}
    for key, body in objects.items():
        client.put_object(bucket, key, io.BytesIO(body), len(body))
    faults = Faults(close_idle=close_idle)
    with FaultProxy(int(urlsplit(seaweed.endpoint).port), faults) as proxy:
        source = open_source(Endpoint(provider="seaweedfs", endpoint=proxy.endpoint,
                                      region="us-east-1", bucket=bucket, credentials=CREDS),
                             Keys(SecretStr(seaweed.access_key), SecretStr(seaweed.secret_key)))
        for index, (key, body) in enumerate(objects.items()):
            _when(lambda: faults.injected["close_idle"] == (2 * index if close_idle else 0))
            assert source.head(key).size == len(body)
            _when(lambda: faults.injected["close_idle"] == (2 * index + 1 if close_idle else 0))
            with source.open(key) as stream:
                assert b"".join(stream.chunks) == body
    requests = 2 * len(objects)
    assert faults.connections == (requests if close_idle else 1)
    assert source.requests.retries == 0
