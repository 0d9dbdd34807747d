"""Properties with legal weight survive the exit or are reported, per key and property:
Object Lock retention, legal holds, redirects, encryption, storage classes, additional
checksums and tags; ``exitkit scan`` names the same losses beforehand.

Source: moto_server with an Object-Lock bucket; targets: a second moto_server (holds
Object Lock), SeaweedFS and a local directory (see docs/portability.md for what each
holds, measured here)."""

import base64
import hashlib
import json
import os
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from exitkit.api import run_drill
from exitkit.drill.events import SilentObserver
from exitkit.evidence.reports import render_report
from exitkit.providers.boto import s3_client
from exitkit.providers.checksums import checksum_of
from tests.helpers import exitkit

MIB = 1024 * 1024
UNTIL = datetime(2036, 6, 30, tzinfo=UTC)
#: What every seeded kind of object holds, besides its bytes (a table, crossed below with
#: sizes and prefixes drawn from a seeded RNG).
KINDS = {
    "compliance": dict(ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=UNTIL),
    "governance": dict(ObjectLockMode="GOVERNANCE",
                       ObjectLockRetainUntilDate=UNTIL - timedelta(days=400)),
    "held": dict(ObjectLockLegalHoldStatus="ON"),
    "locked-held": dict(ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=UNTIL,
                        ObjectLockLegalHoldStatus="ON"),
    "redirect": dict(WebsiteRedirectLocation="/moved/here.html"),
    "sse-s3": dict(ServerSideEncryption="AES256"),
    "sse-kms": dict(ServerSideEncryption="aws:kms"),
    "tagged": dict(Tagging="retention=7y&owner=legal"),
    "infrequent": dict(StorageClass="STANDARD_IA"),
    **{f"checksum-{name}": dict(ChecksumAlgorithm=name.upper())
       for name in ("crc32", "crc32c", "sha1", "sha256", "crc64nvme")},
    "plain": {},
}
#: Multipart kinds: (checksum algorithm, what the upload holds besides).
MULTIPART = {"multipart-composite": ("CRC32", {}),
             "multipart-full": ("CRC64NVME", {"ChecksumType": "FULL_OBJECT"}),
             "multipart-locked": (None, dict(ObjectLockMode="GOVERNANCE",
                                             ObjectLockRetainUntilDate=UNTIL,
                                             ObjectLockLegalHoldStatus="ON"))}
#: The properties each kind loses where a target cannot hold them.
HOLDS = {"compliance": {"object_lock"}, "governance": {"object_lock"}, "held": {"legal_hold"},
         "locked-held": {"object_lock", "legal_hold"}, "redirect": {"website_redirect"},
         "sse-s3": {"encryption"}, "sse-kms": {"encryption"}, "tagged": {"tags"},
         "infrequent": {"storage_class"}, "multipart-composite": {"checksum"},
         "multipart-full": {"checksum"}, "multipart-locked": {"object_lock", "legal_hold"},
         **{f"checksum-{name}": {"checksum"}
            for name in ("crc32", "crc32c", "sha1", "sha256", "crc64nvme")}}


@dataclass
class Estate:
    """The seeded source bucket: each key's kind and body."""

    bucket: str
    kinds: dict[str, str] = field(default_factory=dict)
    bodies: dict[str, bytes] = field(default_factory=dict)
    kms_key: str = ""

    def keys_holding(self, prop: str) -> set[str]:
        """Keys whose kind holds *prop*."""
        return {key for key, kind in self.kinds.items() if prop in HOLDS.get(kind, ())}


def _multipart(client, bucket: str, key: str, body: bytes, kind: str) -> None:
    algorithm, extra = MULTIPART[kind]
    checksum = {"ChecksumAlgorithm": algorithm} if algorithm else {}
    upload = client.create_multipart_upload(Bucket=bucket, Key=key, **checksum,
                                            **extra)["UploadId"]
    name = f"Checksum{algorithm}"
    parts = []
    for number, start in enumerate(range(0, len(body), 5 * MIB), start=1):
        piece = body[start:start + 5 * MIB]
        done = client.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number,
                                  Body=piece, **checksum,
                                  ContentMD5=base64.b64encode(hashlib.md5(piece).digest()).decode())
        parts.append({"PartNumber": number, "ETag": done["ETag"],
                      **({name: done[name]} if algorithm else {})})
    full = "ChecksumType" in extra
    whole = {name: checksum_of(algorithm.lower(), body), "ChecksumType": "FULL_OBJECT"} if full else {}
    client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload,
                                     MultipartUpload={"Parts": parts}, **whole)
    if "ObjectLockMode" in extra:  # moto drops CreateMultipartUpload's lock headers
        client.put_object_retention(Bucket=bucket, Key=key, Retention={
            "Mode": extra["ObjectLockMode"], "RetainUntilDate": extra["ObjectLockRetainUntilDate"]})
        client.put_object_legal_hold(Bucket=bucket, Key=key, LegalHold={"Status": "ON"})


@pytest.fixture(scope="module")
def estate(moto):
    """A compliance archive: locked, held, redirecting, encrypted, checksummed, tagged and
    plain objects (two of each kind, sizes drawn at random), in an Object-Lock bucket."""
    client = s3_client(moto.endpoint, moto.access_key, moto.secret_key)
    kms = boto3.client("kms", endpoint_url=moto.endpoint, region_name="us-east-1",
                       aws_access_key_id=moto.access_key,
                       aws_secret_access_key=moto.secret_key)
    seeded = Estate(bucket=f"props-{random.randrange(10**9)}",
                    kms_key=kms.create_key(Description="archive key")["KeyMetadata"]["KeyId"])
    client.create_bucket(Bucket=seeded.bucket, ObjectLockEnabledForBucket=True)
    rng = random.Random(13)
    for kind, extra in KINDS.items():
        for copy in range(2):
            key = f"{rng.choice(['legal', 'hr/2026', 'web/site'])}/{kind}-{copy}.bin"
            body = rng.randbytes(rng.randint(0, 40_000))
            extra = dict(extra)
            if kind == "sse-kms":
                extra["SSEKMSKeyId"] = seeded.kms_key
            client.put_object(Bucket=seeded.bucket, Key=key, Body=body,
                              ContentMD5=base64.b64encode(hashlib.md5(body).digest()).decode(),
                              **extra)
            seeded.kinds[key], seeded.bodies[key] = kind, body
    for kind in MULTIPART:
        key = f"backups/{kind}.tar"
        body = rng.randbytes(5 * MIB + rng.randint(1, 50_000))
        _multipart(client, seeded.bucket, key, body, kind)
        seeded.kinds[key], seeded.bodies[key] = kind, body
    return seeded


def _target(provider: str, endpoint_env: str, bucket: str) -> str:
    return f"""\
  provider: {provider}
  endpoint: ${{{endpoint_env}}}
  bucket: {bucket}
  create_bucket: true
  credentials:
    access_key_env: LOCK_KEY
    secret_key_env: LOCK_SECRET""" if provider == "aws-s3" else f"""\
  provider: {provider}
  endpoint: ${{{endpoint_env}}}
  bucket: {bucket}
  create_bucket: true
  credentials:
    access_key_env: TGT_KEY
    secret_key_env: TGT_SECRET"""


@pytest.fixture
def env(server_env, lock_target):
    return {**server_env, "LOCK_ENDPOINT": lock_target.endpoint,
            "LOCK_KEY": lock_target.access_key, "LOCK_SECRET": lock_target.secret_key}


def _losses_by_key(record) -> dict[str, set[str]]:
    """Every key classified property_lost*, with the properties its detail names."""
    found = {}
    for difference in record.verification.differences:
        if difference.kind.startswith("property_lost"):
            found[difference.key] = {part.split(":", 1)[0]
                                     for part in difference.detail.split("; ")}
    return found


def _expected_losses(estate: Estate, lost: set[str]) -> dict[str, set[str]]:
    return {key: HOLDS[kind] & lost for key, kind in estate.kinds.items()
            if HOLDS.get(kind, set()) & lost}


def test_lock_capable_target_carries_every_property_verified_per_object(
        estate, write_spec, env, tmp_path, lock_target, bucket_name):
    bucket = f"lock-{random.randrange(10**9)}"
    spec = write_spec(estate.bucket, target=_target("aws-s3", "LOCK_ENDPOINT", bucket),
                      extra="verification:\n  metadata: true\n")
    result = run_drill(spec, tmp_path / "results", environ=env)
    record = result.record
    verification = record.verification
    assert record.verdict == "passed", (record.errors, verification.differences[:5])
    assert verification.counts["matched"] == len(estate.kinds)
    assert verification.property_losses == {}
    assert record.properties.target_object_lock
    census = record.properties.census
    assert census.kms_keys[0].key_id == estate.kms_key and census.kms_keys[0].objects == 2
    assert census.lock_modes == {"COMPLIANCE": 4, "GOVERNANCE": 3} and census.legal_holds == 5
    assert census.checksums["CRC32/COMPOSITE"] == 1
    dependency = f"KMS key {estate.kms_key}: 2 objects"
    assert dependency in render_report(record, [record], "md")
    assert dependency in render_report(record, [record], "html")
    assert census.checksums["CRC64NVME/FULL_OBJECT"] == 3
    # single PUTs by MD5 ETag; the full-object multipart copy by its CRC64NVME, the
    # composite one (whose value depends on part sizes) and the locked one by the ETag
    # predicted from the part MD5s the copy sent (their bytes are compared below)
    assert verification.methods == {"etag-md5": len(estate.kinds) - 3, "checksum-crc64nvme": 1,
                                    "etag-multipart": 2}
    # read back every copy with an independent client
    client = s3_client(lock_target.endpoint, lock_target.access_key, lock_target.secret_key)
    assert client.get_object_lock_configuration(Bucket=bucket)[
        "ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
    for key, kind in estate.kinds.items():
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.sha256(body).digest() == hashlib.sha256(estate.bodies[key]).digest(), key
        head = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        wanted = KINDS.get(kind) or MULTIPART.get(kind, (None, {}))[1]
        # moto 5.2 answers GetObjectRetention with the object's body: retention is read
        # from boto3's HEAD instead
        assert head.get("ObjectLockMode") == wanted.get("ObjectLockMode"), key
        assert head.get("ObjectLockRetainUntilDate") == wanted.get("ObjectLockRetainUntilDate")
        if "ObjectLockLegalHoldStatus" in wanted:
            assert client.get_object_legal_hold(Bucket=bucket, Key=key)[
                "LegalHold"]["Status"] == "ON", key
        assert head.get("WebsiteRedirectLocation") == wanted.get("WebsiteRedirectLocation"), key
        if "ServerSideEncryption" in wanted:
            assert head["ServerSideEncryption"] == "AES256", key  # KMS keys cannot move
        assert head.get("StorageClass", "STANDARD") == wanted.get("StorageClass", "STANDARD")
        if "ChecksumAlgorithm" in wanted:
            algorithm = wanted["ChecksumAlgorithm"]
            assert head[f"Checksum{algorithm}"] == checksum_of(algorithm.lower(),
                                                               estate.bodies[key]), key
        if kind == "tagged":
            tags = client.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
            assert {t["Key"]: t["Value"] for t in tags} == {"retention": "7y", "owner": "legal"}


class ReleaseHoldBeforeVerifying(SilentObserver):
    """Between copy and verification: releases one copied object's legal hold on the
    target (an in-place change: no new write, no new Last-Modified)."""

    def __init__(self, client, bucket: str, key: str) -> None:
        self.client, self.bucket, self.key = client, bucket, key

    def phase_started(self, phase, total_objects, total_bytes):
        if phase == "verify":
            self.client.put_object_legal_hold(Bucket=self.bucket, Key=self.key,
                                              LegalHold={"Status": "OFF"})


def test_a_legal_hold_released_after_the_copy_is_caught_by_reading_it_again(
        estate, write_spec, env, tmp_path, lock_target):
    bucket = f"lock-{random.randrange(10**9)}"
    held = sorted(key for key, kind in estate.kinds.items() if kind == "held")[0]
    client = s3_client(lock_target.endpoint, lock_target.access_key, lock_target.secret_key)
    spec = write_spec(estate.bucket, target=_target("aws-s3", "LOCK_ENDPOINT", bucket))
    result = run_drill(spec, tmp_path / "results", environ=env,
                       observer=ReleaseHoldBeforeVerifying(client, bucket, held))
    verification = result.record.verification
    assert result.exit_code == 1
    assert _losses_by_key(result.record) == {held: {"legal_hold"}}
    # what changes in place (tags, retention, holds) is never taken from the copy's
    # read-back; everything else is, the listing still showing the same write
    in_place = {"object_lock", "legal_hold", "tags"}
    assert verification.read_back_objects == sum(
        1 for kind in estate.kinds.values() if not HOLDS.get(kind, set()) & in_place)


SEAWEED_LOSES = {"website_redirect", "encryption"}


def test_seaweedfs_names_each_loss_by_key_and_property_as_scan_did(
        estate, write_spec, env, tmp_path, seaweed):
    bucket = f"sw-{random.randrange(10**9)}"
    spec = write_spec(estate.bucket, target=_target("seaweedfs", "TGT_ENDPOINT", bucket))
    scanned = exitkit("scan", str(spec), "--json", env=env)
    assert scanned.returncode == 1, scanned.stderr
    report = json.loads(scanned.stdout)
    assert "would lose: website_redirect, encryption" in scanned.stderr

    result = run_drill(spec, tmp_path / "results", environ=env)
    record, verification = result.record, result.record.verification
    expected = _expected_losses(estate, SEAWEED_LOSES)
    assert _losses_by_key(record) == expected
    assert verification.counts["property_lost"] == len(expected)
    assert verification.counts["matched"] == len(estate.kinds) - len(expected)
    assert result.exit_code == 1 and not verification.counts["property_lost_accepted"]
    scan_losses = {row["property"]: set(row["keys"]) for row in report["losses"]
                   if row["objects_lost"]}
    assert scan_losses == {name: {key for key, lost in expected.items() if name in lost}
                           for name in SEAWEED_LOSES}
    assert verification.property_losses == {name: len(keys) for name, keys in
                                            scan_losses.items()}
    assert report["census"]["kms_keys"][0]["key_id"] == estate.kms_key


def test_accepted_gaps_pass_with_their_reason_kept(estate, write_spec, env, tmp_path):
    extra = ("  accept_gaps:\n"
             "    - {property: website_redirect, reason: the site is rebuilt after the exit}\n"
             "    - {property: encryption, reason: the target disks are encrypted}\n")
    bucket = f"sw-{random.randrange(10**9)}"
    path = write_spec(estate.bucket, target=_target("seaweedfs", "TGT_ENDPOINT", bucket))
    path.write_text(path.read_text().replace("  max_duration: 10m\n",
                                             "  max_duration: 10m\n" + extra))
    result = run_drill(path, tmp_path / "results", environ=env)
    verification = result.record.verification
    assert result.record.verdict == "passed", result.record.expectations
    assert verification.counts["property_lost"] == 0
    assert verification.counts["property_lost_accepted"] == len(
        _expected_losses(estate, SEAWEED_LOSES))
    assert {gap.property: (gap.reason, gap.objects) for gap in verification.accepted_gaps} == {
        "website_redirect": ("the site is rebuilt after the exit", 2),
        "encryption": ("the target disks are encrypted", 4)}


LOCAL_LOSES = {"object_lock", "legal_hold", "website_redirect", "encryption", "storage_class",
               "checksum", "tags"}


def test_local_directory_loses_every_property_named_per_key(estate, write_spec, env, tmp_path):
    target = f"""\
  provider: local
  path: {tmp_path / 'disk'}
  bucket: archive
  create_bucket: true"""
    spec = write_spec(estate.bucket, target=target)
    scanned = exitkit("scan", str(spec), "--json", env=env)
    report = json.loads(scanned.stdout)
    result = run_drill(spec, tmp_path / "results", environ=env)
    expected = _expected_losses(estate, LOCAL_LOSES)
    assert _losses_by_key(result.record) == expected
    assert result.exit_code == 1
    assert {row["property"]: row["objects_lost"] for row in report["losses"]
            if row["objects_lost"]} == result.record.verification.property_losses
    for key, body in estate.bodies.items():
        assert (tmp_path / "disk/archive" / key).read_bytes() == body
    table = exitkit("scan", str(spec), env={**env, "COLUMNS": "160"})
    assert table.returncode == 1 and "What this exit would lose" in table.stdout
    lost_rows = {line.split("│")[1].strip(): line.split("│")[4].strip()
                 for line in table.stdout.splitlines() if line.count("│") == 7}
    assert {name: int(count) for name, count in lost_rows.items() if count.isdigit()
            and int(count)} == result.record.verification.property_losses
    assert f"KMS key {estate.kms_key} (exit dependency)" in table.stdout


def test_target_encryption_from_the_spec_is_verified_per_object(
        estate, write_spec, env, tmp_path, lock_target):
    kms = boto3.client("kms", endpoint_url=lock_target.endpoint, region_name="us-east-1",
                       aws_access_key_id=lock_target.access_key,
                       aws_secret_access_key=lock_target.secret_key)
    key_id = kms.create_key(Description="target key")["KeyMetadata"]["KeyId"]
    bucket = f"kms-{random.randrange(10**9)}"
    target = _target("aws-s3", "LOCK_ENDPOINT", bucket) + (
        f"\n  encryption: {{type: sse-kms, kms_key_id: {key_id}}}")
    result = run_drill(write_spec(estate.bucket, target=target), tmp_path / "r", environ=env)
    differences = result.record.verification.differences
    assert result.record.verdict == "passed", [d.key for d in differences]
    assert result.record.properties.target_encryption == f"aws:kms {key_id}"
    client = s3_client(lock_target.endpoint, lock_target.access_key, lock_target.secret_key)
    for key in estate.kinds:
        head = client.head_object(Bucket=bucket, Key=key)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_id), key


def test_encryption_a_target_cannot_hold_is_refused_before_copying(estate, write_spec, env,
                                                                   tmp_path):
    target = _target("seaweedfs", "TGT_ENDPOINT", "never-made") + "\n  encryption: {type: sse-s3}"
    done = exitkit("drill", "run", str(write_spec(estate.bucket, target=target)), "-r",
                   str(tmp_path), env=env)
    assert done.returncode == 2
    assert done.stderr.strip().endswith("target.encryption: seaweedfs does not hold sse-s3 (see "
                                        "docs/portability.md, or measure it with 'exitkit "
                                        "probe')")
    assert not list(tmp_path.glob("*.json"))


def test_existing_bucket_without_object_lock_is_refused_unless_the_loss_is_accepted(
        estate, write_spec, env, tmp_path, lock_target):
    bucket = f"nolock-{random.randrange(10**9)}"
    s3_client(lock_target.endpoint, lock_target.access_key,
              lock_target.secret_key).create_bucket(Bucket=bucket)
    target = _target("aws-s3", "LOCK_ENDPOINT", bucket).replace("create_bucket: true",
                                                                "create_bucket: false")
    spec = write_spec(estate.bucket, target=target)
    done = exitkit("drill", "run", str(spec), "-r", str(tmp_path / "refused"), env=env)
    assert done.returncode == 2
    assert f"bucket '{bucket}' has no Object Lock" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    spec.write_text(spec.read_text().replace("  max_duration: 10m\n", (
        "  max_duration: 10m\n  accept_gaps:\n"
        "    - {property: object_lock, reason: retention is re-applied by the archive team}\n"
        "    - {property: legal_hold, reason: holds are tracked in the case system}\n")))
    result = run_drill(spec, tmp_path / "accepted", environ=env)
    verification = result.record.verification
    assert result.record.verdict == "passed"
    assert not result.record.properties.target_object_lock
    assert verification.property_losses == {"object_lock": 7, "legal_hold": 5}
    assert _losses_by_key(result.record) == _expected_losses(estate, {"object_lock",
                                                                      "legal_hold"})


def test_storage_classes_map_through_the_spec_and_the_record_shows_it(
        estate, write_spec, env, tmp_path, lock_target):
    bucket = f"classes-{random.randrange(10**9)}"
    target = _target("aws-s3", "LOCK_ENDPOINT", bucket) + (
        "\n  storage_classes: {STANDARD_IA: ONEZONE_IA}")
    result = run_drill(write_spec(estate.bucket, target=target), tmp_path / "r", environ=env)
    assert result.record.verdict == "passed", result.record.verification.differences[:3]
    mapping = {(m.source, m.target): (m.objects, m.held)
               for m in result.record.properties.storage_classes}
    assert mapping[("STANDARD_IA", "ONEZONE_IA")] == (2, True)
    assert mapping[("STANDARD", "STANDARD")] == (len(estate.kinds) - 2, True)
    client = s3_client(lock_target.endpoint, lock_target.access_key, lock_target.secret_key)
    for key in estate.keys_holding("storage_class"):
        assert client.head_object(Bucket=bucket, Key=key)["StorageClass"] == "ONEZONE_IA"


def test_scan_counts_objects_whose_head_is_refused_without_failing(seaweed, tmp_path):
    """SeaweedFS refuses HEAD on an SSE-C object read without its key (HTTP 400)."""
    client = s3_client(seaweed.endpoint, seaweed.access_key, seaweed.secret_key)
    bucket = f"ssec-{random.randrange(10**9)}"
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="customer-key.bin", Body=b"sealed",
                      SSECustomerAlgorithm="AES256", SSECustomerKey="k" * 32)
    client.put_object(Bucket=bucket, Key="plain.txt", Body=b"open")
    spec = tmp_path / "scan.yaml"
    spec.write_text(f"""\
version: 1
name: ssec-scan
source:
  provider: seaweedfs
  endpoint: {seaweed.endpoint}
  bucket: {bucket}
  credentials: {{access_key_env: SW_KEY, secret_key_env: SW_SECRET}}
target: {{provider: local, path: "{tmp_path}", bucket: out}}
""")
    done = exitkit("scan", str(spec), "--json", env={**os.environ, "SW_KEY": seaweed.access_key,
                                                     "SW_SECRET": seaweed.secret_key})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["objects"] == 2
    assert report["census"]["refused"] == 1 and report["census"]["objects"] == 1
