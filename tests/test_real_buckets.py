"""Buckets shaped like real AWS estates: encoded objects, archived storage classes and
restores, and one class with an actionable reason for every object that cannot be copied."""

import bz2
import gzip
import hashlib
import json
import lzma
import os
import random
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import requests

from exitkit.api import run_drill
from exitkit.drill.journal import journal_path, read_journal_with_restores
from exitkit.errors import ExitkitError
from exitkit.evidence.store import read_record
from tests.conftest import SEAWEED_TARGET
from tests.estates import METADATA, XML_TROUBLE
from tests.helpers import exitkit

MIB = 1024 * 1024
LOCAL_TARGET = """\
  provider: local
  path: {path}
  bucket: {bucket}
  create_bucket: true"""


def _encoded(encoding: str, valid: bool, raw: bytes) -> bytes:
    """A body for *encoding*: really encoded when *valid*, else bytes that are not."""
    if not valid:
        return raw
    return {"gzip": gzip.compress, "deflate": zlib.compress, "x-bzip2": bz2.compress,
            "xz": lzma.compress}.get(encoding, lambda data: data)(raw)


def encoded_objects(seed: int) -> dict[str, tuple[bytes, str]]:
    """Key -> (stored body, Content-Encoding): every encoding, valid and invalid bodies,
    sizes from empty to above the 5 MiB part size (drawn per seed)."""
    rng = random.Random(seed)
    encodings = ["gzip", "br", "deflate", "zstd", "compress", "identity", "x-custom",
                 "gzip, identity", "x-bzip2", "xz"]
    sizes = [0, 1, rng.randint(2, 4096), rng.randint(4097, 300_000)]
    objects = {}
    for number, encoding in enumerate(encodings):
        for valid in (True, False):
            size = sizes[(number + valid) % len(sizes)]
            raw = rng.randbytes(size) if not valid else (b"<p>static site</p>\n" * size)[:size]
            body = _encoded(encoding, valid, raw)
            name = encoding.replace(", ", "+")
            objects[f"site/{name}/{'valid' if valid else 'invalid'}-{size}.bin"] = (body, encoding)
    # above the part size: copied as a multipart upload, still byte for byte
    objects["site/gzip/big-invalid.bin"] = (rng.randbytes(5 * MIB + rng.randint(1, MIB)), "gzip")
    objects["site/br/big-invalid.bin"] = (rng.randbytes(5 * MIB + rng.randint(1, MIB)), "br")
    return objects


def _seed_encoded(client, bucket: str, seed: int) -> dict[str, tuple[bytes, str]]:
    client.create_bucket(Bucket=bucket)
    objects = encoded_objects(seed)
    for key, (body, encoding) in objects.items():
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentEncoding=encoding,
                          ContentType="text/html")
    return objects


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("target_kind", ["seaweedfs", "local"])
def test_encoded_objects_are_copied_as_stored(target_kind, source_client, target_client,
                                              write_spec, server_env, tmp_path, bucket_name):
    """Any Content-Encoding, valid or not, is copied byte for byte (never decoded), with
    its header; an independent client reads the target back (botocore does not decode:
    the digests of the seeded, still-encoded bytes prove it)."""
    bucket, target_bucket = bucket_name("src"), bucket_name("tgt")
    objects = _seed_encoded(source_client, bucket, seed=len(target_kind))
    target = (LOCAL_TARGET.format(path=tmp_path / "disk", bucket=target_bucket)
              if target_kind == "local" else None)
    spec = write_spec(bucket, target_bucket, target=target)
    result = run_drill(spec, tmp_path / "results", environ=server_env)
    record = result.record
    assert result.exit_code == 0, (record.errors, record.verification.differences[:3])
    assert record.verification.counts["matched"] == len(objects)
    if target_kind == "local":
        stored = {key: (tmp_path / "disk" / target_bucket / key).read_bytes() for key in objects}
        assert {key: _sha(body) for key, body in stored.items()} == {
            key: _sha(body) for key, (body, _encoding) in objects.items()}
        return
    for key, (body, encoding) in objects.items():
        answer = target_client.get_object(Bucket=target_bucket, Key=key)
        assert _sha(answer["Body"].read()) == _sha(body), key
        assert answer["ContentEncoding"] == encoding, key
        assert answer["ContentLength"] == len(body)


ARCHIVED = ("GLACIER", "DEEP_ARCHIVE")
#: SeaweedFS holds one storage class: the archive's classes are mapped onto it on purpose,
#: as an operator would (unmapped, each copy would be ``property_lost``).
ONE_CLASS_TARGET = SEAWEED_TARGET + (
    "\n  storage_classes: {{STANDARD_IA: STANDARD, GLACIER_IR: STANDARD, GLACIER: STANDARD,"
    " DEEP_ARCHIVE: STANDARD}}")


def _one_class_target(bucket: str) -> str:
    return ONE_CLASS_TARGET.format(bucket=bucket, prefix="")


def _seed_archive_estate(client, bucket: str, seed: int) -> dict[str, tuple[bytes, str]]:
    """A finance archive: current objects in STANDARD and cheaper instant classes, older
    ones in GLACIER and DEEP_ARCHIVE (classes and sizes drawn per seed)."""
    rng = random.Random(seed)
    client.create_bucket(Bucket=bucket)
    objects = {}
    classes = ["STANDARD", "STANDARD_IA", "GLACIER_IR", *ARCHIVED, *ARCHIVED]
    for number in range(14):
        storage_class = classes[number % len(classes)]
        body = rng.randbytes(rng.randint(0, 20_000))
        key = f"finance/{2015 + number % 9}/statement-{number:03d}.pdf"
        client.put_object(Bucket=bucket, Key=key, Body=body, StorageClass=storage_class)
        objects[key] = (body, storage_class)
    return objects


def _class_counts(objects: dict[str, tuple[bytes, str]]) -> dict[str, tuple[int, int]]:
    counts: dict[str, tuple[int, int]] = {}
    for body, storage_class in objects.values():
        count, size = counts.get(storage_class, (0, 0))
        counts[storage_class] = (count + 1, size + len(body))
    return counts


def test_keys_xml_cannot_carry_are_listed_copied_and_verified(
        source_client, target_client, write_spec, server_env, tmp_path, bucket_name):
    """Keys holding control characters, a byte-order mark or ``+``/``%`` arrive under the
    same key, byte for byte, and verify as matched: unencoded, moto_server's listing of
    them did not parse (the drill failed) and SeaweedFS listed them with U+FFFD."""
    rng = random.Random(7)
    bucket, target_bucket = bucket_name("src"), bucket_name("tgt")
    source_client.create_bucket(Bucket=bucket)
    objects = {}
    for number, trouble in enumerate(XML_TROUBLE):
        key = f"exports/{number:02d} report{trouble}final.csv"
        body = rng.randbytes(rng.randint(0, 5000))
        source_client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/csv",
                                 Metadata=rng.choice(METADATA))
        objects[key] = body
    result = run_drill(write_spec(bucket, target_bucket), tmp_path / "results",
                       environ=server_env)
    record = result.record
    assert result.exit_code == 0, (record.errors, record.verification.differences[:3])
    assert record.verification.counts["matched"] == len(objects)
    listed = target_client.list_objects_v2(Bucket=target_bucket)["Contents"]
    assert sorted(item["Key"] for item in listed) == sorted(objects)
    for key, body in objects.items():
        assert _sha(target_client.get_object(Bucket=target_bucket, Key=key)["Body"].read()) \
            == _sha(body), repr(key)


def test_archived_objects_get_their_class_and_the_restore_they_need(
        source_client, write_spec, server_env, tmp_path, bucket_name):
    """Without a restore section, archived objects are 'archived' (never 'missing', 'failed'
    or 'access denied'), in the drill and in `exitkit verify` alike, and the record counts
    objects and bytes per storage class on both sides."""
    bucket, target_bucket = bucket_name("src"), bucket_name("tgt")
    objects = _seed_archive_estate(source_client, bucket, seed=3)
    archived = {key for key, (_body, storage_class) in objects.items()
                if storage_class in ARCHIVED}
    spec = write_spec(bucket, target=_one_class_target(target_bucket))
    drill = run_drill(spec, tmp_path / "drill", environ=server_env)
    verify = run_drill(spec, tmp_path / "verify", environ=server_env, verify_only=True)
    expected = {name: (count, size) for name, (count, size) in _class_counts(objects).items()}
    for result in (drill, verify):
        record = result.record
        assert result.exit_code == 1 and not record.errors, record.errors
        counts = record.verification.counts
        assert counts["archived"] == len(archived) and counts["missing"] == 0
        assert counts["failed"] == 0
        assert counts["matched"] == len(objects) - len(archived)
        by_key = {d.key: d for d in record.verification.differences}
        assert set(by_key) == archived
        for key in archived:
            reason = by_key[key].detail
            assert by_key[key].kind == "archived"
            assert reason.startswith(objects[key][1]) and "needs a restore" in reason
            assert "credentials" not in reason and "denied" not in reason
        source_classes = record.verification.storage_classes["source"]
        assert {name: (c.objects, c.bytes) for name, c in source_classes.items()} == expected
        inventory = record.inventory.storage_classes
        assert {name: (c.objects, c.bytes) for name, c in inventory.items()} == expected
        target_classes = record.verification.storage_classes["target"]
        assert sum(c.objects for c in target_classes.values()) == len(objects) - len(archived)
    details = [{(d.key, d.kind, d.detail) for d in result.record.verification.differences}
               for result in (drill, verify)]
    assert details[0] == details[1]  # one vocabulary: same class and reason per key
    assert drill.record.copy_summary.unreadable == {"archived": len(archived)}
    assert drill.record.copy_summary.restore.not_requested == len(archived)


@pytest.fixture
def restore_delay(moto):
    """moto's restores stay 'ongoing' for *seconds* after the first status check (its
    state manager's time progression), as AWS's do for hours; reset afterwards."""
    url = f"{moto.endpoint}/moto-api/state-manager"

    def delay(seconds: float) -> None:
        requests.post(f"{url}/set-transition", timeout=10, data=json.dumps({
            "model_name": "s3::keyrestore",
            "transition": {"progression": "time", "seconds": seconds}})).raise_for_status()

    yield delay
    requests.post(f"{url}/unset-transition", timeout=10,
                  data=json.dumps({"model_name": "s3::keyrestore"})).raise_for_status()


@pytest.fixture
def recording(moto):
    """``recording()`` starts recording what moto answers (afresh); ``recording.requests()``
    is every request since, as (method, URL)."""
    base = f"{moto.endpoint}/moto-api/recorder"

    class Recording:
        def __call__(self) -> None:
            requests.post(f"{base}/reset-recording", timeout=10)
            requests.post(f"{base}/start-recording", timeout=10)

        @staticmethod
        def requests() -> list[tuple[str, str]]:
            lines = requests.get(f"{base}/download-recording", timeout=30).text.splitlines()
            return [(entry["method"], entry["url"]) for entry in map(json.loads, lines)]

    yield Recording()
    requests.post(f"{base}/stop-recording", timeout=10)


RESTORE = """restore:
  tier: bulk
  days: 2
  max_wait: 5m
  poll_interval: 1s
"""


def _restore_posts(recorded: list[tuple[str, str]]) -> list[str]:
    """Every POST's URL path and query (each must be a RestoreObject request)."""
    posts = [urlsplit(url) for method, url in recorded if method == "POST"]
    assert all(url.query == "restore=" or url.query == "restore" for url in posts), posts
    return [unquote(url.path) for url in posts]


def test_restores_are_requested_once_polled_and_copied(
        source_client, target_client, write_spec, server_env, tmp_path, bucket_name,
        restore_delay, recording, moto):
    """With a restore section the drill requests one restore per archived object, polls
    while they are ongoing, copies each once readable, and sends the source nothing but
    GET, HEAD and POST ?restore."""
    bucket, target_bucket = bucket_name("src"), bucket_name("tgt")
    objects = _seed_archive_estate(source_client, bucket, seed=5)
    archived = sorted(key for key, (_b, c) in objects.items() if c in ARCHIVED)
    restore_delay(2)
    time.sleep(2.1)  # moto starts a key's clock when it is written
    recording()  # from here on: the drill's requests only
    spec = write_spec(bucket, target=_one_class_target(target_bucket), extra=RESTORE)
    result = run_drill(spec, tmp_path, environ=server_env)
    record = result.record
    assert result.exit_code == 0, (record.errors, record.verification.differences[:3])
    restore = record.copy_summary.restore
    assert (restore.requested, restore.copied, restore.pending) == (len(archived),
                                                                     len(archived), 0)
    assert restore.waited_s > 0  # the restores were ongoing for a while
    assert {r.key for r in restore.requests} == set(archived)
    assert record.requests["source"].restores == len(archived)
    recorded = recording.requests()
    assert sorted(_restore_posts(recorded)) == sorted(f"/{bucket}/{key}" for key in archived)
    assert {method for method, _ in recorded} <= {"GET", "HEAD", "POST"}
    for key, (body, _storage_class) in objects.items():
        got = target_client.get_object(Bucket=target_bucket, Key=key)["Body"].read()
        assert _sha(got) == _sha(body), key
    lines = {line.item for line in record.cost.drill[0].lines}
    assert "source restore retrieval (DEEP_ARCHIVE, bulk)" in lines
    assert record.projection.restore_tier == "bulk"
    assert record.projection.restore_latency_s == 48 * 3600
    summary = exitkit("report", str(result.path), "--format", "md",
                      env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")})
    markdown = summary.stdout
    assert summary.returncode == 0, summary.stderr
    assert f"{len(archived)} archived objects" in markdown
    assert f"copied {len(archived)}, ready 0, pending 0" in markdown
    assert "includes up to 2d of restores at tier bulk" in markdown
    assert "storage classes (source): DEEP\\_ARCHIVE 4 objects" in markdown  # escaped


def test_resume_while_restores_are_pending_requests_none_again(
        source_client, target_client, write_spec, server_env, tmp_path, bucket_name,
        restore_delay, recording):
    """A drill interrupted (SIGINT) while its restores are ongoing leaves them in its
    journal; `exitkit drill status` counts them pending; `--resume` polls them and copies
    without a second RestoreObject request."""
    bucket, target_bucket = bucket_name("src"), bucket_name("tgt")
    objects = _seed_archive_estate(source_client, bucket, seed=7)
    archived = [key for key, (_b, c) in objects.items() if c in ARCHIVED]
    restore_delay(8)
    time.sleep(8.1)
    recording()
    spec = write_spec(bucket, target=_one_class_target(target_bucket), extra=RESTORE)
    results = tmp_path / "results"
    env = {**server_env, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    drill = subprocess.Popen([sys.executable, "-m", "exitkit", "drill", "run", str(spec),
                              "--results", str(results), "--quiet"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    journal = journal_path(results, "test-drill")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:  # the drill may be creating its journal at this moment
            if journal.exists() and len(read_journal_with_restores(journal)[2]) == len(
                    archived):
                break
        except ExitkitError:
            pass
        time.sleep(0.2)
    drill.send_signal(signal.SIGINT)
    _out, err = drill.communicate(timeout=60)
    assert drill.returncode == 130 and "--resume" in err, err
    assert len(_restore_posts(recording.requests())) == len(archived)

    status = exitkit("drill", "status", str(spec), "--results", str(results), "--json", env=env)
    assert status.returncode == 0, status.stderr
    counts = json.loads(status.stdout)
    assert counts["pending"] + counts["ready"] == len(archived) and counts["copied"] == 0

    resumed = exitkit("drill", "run", str(spec), "--results", str(results), "--resume",
                      "--quiet", env=env)
    assert resumed.returncode == 0, resumed.stderr
    record = read_record(max(results.glob("*.json"), key=os.path.getmtime))
    restore = record.copy_summary.restore
    assert (restore.requested, restore.requested_before) == (0, len(archived))
    assert restore.copied == len(archived)
    assert len(_restore_posts(recording.requests())) == len(archived)  # none requested again
    for key, (body, _storage_class) in objects.items():
        got = target_client.get_object(Bucket=target_bucket, Key=key)["Body"].read()
        assert _sha(got) == _sha(body), key


def test_a_failed_copy_is_verified_as_failed_with_its_reason(
        source_client, moto, write_spec, server_env, tmp_path, bucket_name):
    """Every object body damaged on the way (a proxy flips one byte of each GET) and no
    retries: the copy fails, and verification shows each as 'failed' with the copy's
    reason, not 'missing'."""
    from tests.faultproxy import FaultProxy, Faults

    bucket, target_bucket = bucket_name("src"), bucket_name("tgt")
    source_client.create_bucket(Bucket=bucket)
    rng = random.Random(13)
    keys = [f"reports/{number:02d}.csv" for number in range(rng.randint(3, 8))]
    for key in keys:
        source_client.put_object(Bucket=bucket, Key=key, Body=rng.randbytes(rng.randint(1, 999)))
    spec = tmp_path / "faulty.yaml"
    spec.write_text(write_spec(bucket, target_bucket).read_text().replace(
        "max_retries: 2", "max_retries: 0"))
    faults = Faults(flip_byte=1.0, seed=3)
    with FaultProxy(int(urlsplit(moto.endpoint).port), faults) as proxy:
        result = run_drill(spec, tmp_path / "r", environ={**server_env,
                                                          "SRC_ENDPOINT": proxy.endpoint})
    record = result.record
    assert result.exit_code == 1 and not record.errors, record.errors
    failures = {problem.key: problem.reason for problem in record.copy_summary.failures}
    assert set(failures) == set(keys) and record.copy_summary.failed == len(keys)
    counts = record.verification.counts
    assert counts["failed"] == len(keys) and counts["missing"] == 0
    assert {d.key: (d.kind, d.detail) for d in record.verification.differences} == {
        key: ("failed", reason) for key, reason in failures.items()}
    # `exitkit verify` reads the unfinished run's journal: the same class and reason
    verify = run_drill(spec, tmp_path / "r", environ=server_env, verify_only=True)
    assert {d.key: (d.kind, d.detail) for d in verify.record.verification.differences} == {
        key: ("failed", reason) for key, reason in failures.items()}


def test_unrepresentable_keys_get_one_class_from_drill_and_verify(
        source_client, write_spec, server_env, tmp_path, bucket_name):
    """A 256-byte path segment cannot live in a directory: the drill and `exitkit verify`
    both say 'unrepresentable', with the same reason."""
    bucket, target_bucket = bucket_name("src"), bucket_name("tgt")
    source_client.create_bucket(Bucket=bucket)
    long_segment = "s" * 256
    source_client.put_object(Bucket=bucket, Key=f"deep/{long_segment}/x.txt", Body=b"x")
    source_client.put_object(Bucket=bucket, Key="fine.txt", Body=b"ok")
    target = LOCAL_TARGET.format(path=tmp_path / "disk", bucket=target_bucket)
    spec = write_spec(bucket, target=target)
    results = [run_drill(spec, tmp_path / name, environ=server_env, verify_only=name == "v")
               for name in ("d", "v")]
    for result in results:
        assert result.record.verification.counts["unrepresentable"] == 1
        assert result.record.verification.counts["missing"] == 0
    details = [[(d.key, d.kind, d.detail) for d in result.record.verification.differences]
               for result in results]
    assert details[0] == details[1] == [(f"deep/{long_segment}/x.txt", "unrepresentable",
                                         "a path segment is longer than 255 bytes")]


def test_requester_pays_source_sends_the_payer_header_on_every_request(
        source_client, target_client, write_spec, server_env, tmp_path, bucket_name, moto):
    """`source.requester_pays: true` (the remedy the requester_pays class names) accepts
    the charges on every request the drill sends the source; the copy is byte-identical."""
    bucket, target_bucket = bucket_name("src"), bucket_name("tgt")
    source_client.create_bucket(Bucket=bucket)
    rng = random.Random(17)
    bodies = {f"shared/{n}.parquet": rng.randbytes(rng.randint(0, 9000)) for n in range(5)}
    for key, body in bodies.items():
        source_client.put_object(Bucket=bucket, Key=key, Body=body)
    source_client.put_bucket_request_payment(
        Bucket=bucket, RequestPaymentConfiguration={"Payer": "Requester"})
    spec = tmp_path / "payer.yaml"
    spec.write_text(write_spec(bucket, target_bucket).read_text().replace(
        "  prefix: \"\"\n  credentials:\n    access_key_env: SRC_KEY",
        "  prefix: \"\"\n  requester_pays: true\n  credentials:\n    access_key_env: SRC_KEY", 1))
    base = f"{moto.endpoint}/moto-api/recorder"
    requests.post(f"{base}/reset-recording", timeout=10)
    requests.post(f"{base}/start-recording", timeout=10)
    try:
        result = run_drill(spec, tmp_path / "r", environ=server_env)
    finally:
        requests.post(f"{base}/stop-recording", timeout=10)
    assert result.exit_code == 0, result.record.errors
    recorded = [json.loads(line) for line in requests.get(
        f"{base}/download-recording", timeout=30).text.splitlines()]
    assert len(recorded) > len(bodies)
    assert all({name.lower(): value for name, value in entry["headers"].items()}
               .get("x-amz-request-payer") == "requester" for entry in recorded)
    for key, body in bodies.items():
        got = target_client.get_object(Bucket=target_bucket, Key=key)["Body"].read()
        assert _sha(got) == _sha(body)
