"""Verification an auditor accepts: methods, metadata fields, versions, samples, manifests."""

import hashlib
import io
import json
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig

from exitkit.api import run_drill
from exitkit.drill.events import SilentObserver
from exitkit.evidence.manifest import manifest_root

MIB = 1024 * 1024
FIVE_MIB_PARTS = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)


def exitkit(*args, env):
    return subprocess.run([sys.executable, "-m", "exitkit", *args], capture_output=True,
                          text=True, env=env, timeout=600)


def manifest_lines(result) -> list[dict]:
    manifest = result.path.parent / result.record.verification.manifest.file
    return [json.loads(line) for line in manifest.read_text().splitlines()]


@pytest.fixture
def small_bucket(source_client, bucket_name):
    """60 small objects."""
    bucket = bucket_name("src")
    source_client.create_bucket(Bucket=bucket)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: source_client.put_object(Bucket=bucket, Key=f"data/{i:03d}.txt",
                                                         Body=f"object {i}\n".encode() * i),
                      range(60)))
    return bucket


class ReplaceOnTarget(SilentObserver):
    """Replaces one target object with other bytes of the same size, uploaded in the same
    parts, after the copy and before verification."""

    def __init__(self, client, bucket: str, key: str, body: bytes) -> None:
        self.client, self.bucket, self.key, self.body = client, bucket, key, body

    def phase_started(self, phase, total_objects, total_bytes):
        if phase == "verify":
            self.client.upload_fileobj(io.BytesIO(self.body), self.bucket, self.key,
                                       Config=FIVE_MIB_PARTS)


def test_multipart_objects_are_proven_by_predicted_etag_and_a_replaced_one_is_caught(
        source_client, write_spec, server_env, tmp_path, bucket_name, target_client):
    bucket = bucket_name("src")
    source_client.create_bucket(Bucket=bucket)
    randomness = random.Random(16)
    # sizes around the 5 MiB part boundary: one short last part, one exact multiple, more
    bodies = {f"mp/{name}.bin": randomness.randbytes(size) for name, size in
              (("short-last-part", 11 * MIB + 17), ("whole-parts", 10 * MIB),
               ("replaced", 6 * MIB + 1))}
    for key, body in bodies.items():
        source_client.upload_fileobj(io.BytesIO(body), bucket, key, Config=FIVE_MIB_PARTS)
    source_etags = {key: source_client.head_object(Bucket=bucket, Key=key)["ETag"]
                    for key in bodies}
    assert all(etag.endswith(('-3"', '-2"')) for etag in source_etags.values())
    result = run_drill(write_spec(bucket, bucket_name("tgt"), part_size="16MiB"), tmp_path / "a",
                       environ=server_env)
    methods = {line["key"]: line["method"] for line in manifest_lines(result)}
    assert set(methods.values()) == {"checksum-sha256"}  # single PUT: target validated SHA-256

    target_bucket = bucket_name("tgt2")
    planted = randomness.randbytes(len(bodies["mp/replaced.bin"]))
    result = run_drill(write_spec(bucket, target_bucket, part_size="8MiB"), tmp_path / "b",
                       environ=server_env, observer=ReplaceOnTarget(
                           target_client, target_bucket, "mp/replaced.bin", planted))
    verification = result.record.verification
    # uploaded in the source's 5 MiB parts: the target's ETag is the source's, and the
    # one predicted from the part MD5s the copy sent, so nothing is read back
    assert verification.methods == {"etag-multipart": 2}
    assert [(d.key, d.kind) for d in verification.differences] == [
        ("mp/replaced.bin", "content_differs")]
    lines = {line["key"]: line for line in manifest_lines(result)}
    assert set(lines) == {"mp/short-last-part.bin", "mp/whole-parts.bin"}
    for key, line in lines.items():
        stored = target_client.get_object(Bucket=target_bucket, Key=key)
        digest = hashlib.sha256(stored["Body"].read()).hexdigest()
        assert digest == hashlib.sha256(bodies[key]).hexdigest(), key
        assert line["digest"] == f"sha256:{digest}" and line["method"] == "etag-multipart"
        assert stored["ETag"] == source_etags[key]


def test_every_metadata_field_survives_and_a_change_is_named(
        source_client, target_client, write_spec, server_env, tmp_path, bucket_name):
    bucket = bucket_name("src")
    source_client.create_bucket(Bucket=bucket)
    fields = dict(ContentType="text/csv", CacheControl="max-age=3600",
                  ContentDisposition='attachment; filename="report.csv"', ContentEncoding="identity",
                  ContentLanguage="nl-NL", Metadata={"owner": "finance", "retention": "7y"},
                  Tagging="classification=confidential&project=exit")
    source_client.put_object(Bucket=bucket, Key="reports/q3.csv", Body=b"a,b\n1,2\n", **fields)
    source_client.put_object(Bucket=bucket, Key="reports/q4.csv", Body=b"a,b\n3,4\n", **fields)
    target_bucket = bucket_name("tgt")
    spec = write_spec(bucket, target_bucket)
    first = run_drill(spec, tmp_path, environ=server_env)
    assert first.exit_code == 0, first.record.verification.differences
    head = target_client.head_object(Bucket=target_bucket, Key="reports/q3.csv")
    assert (head["CacheControl"], head["ContentDisposition"], head["ContentLanguage"],
            head["Metadata"]) == ("max-age=3600", 'attachment; filename="report.csv"', "nl-NL",
                                  {"owner": "finance", "retention": "7y"})
    tags = target_client.get_object_tagging(Bucket=target_bucket, Key="reports/q3.csv")["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {"classification": "confidential",
                                                    "project": "exit"}
    target_client.copy_object(Bucket=target_bucket, Key="reports/q3.csv",
                              CopySource={"Bucket": target_bucket, "Key": "reports/q3.csv"},
                              MetadataDirective="REPLACE",
                              **{name: value for name, value in fields.items() if name != "Tagging"}
                              | {"CacheControl": "no-store"})
    target_client.put_object_tagging(Bucket=target_bucket, Key="reports/q4.csv", Tagging={
        "TagSet": [{"Key": "classification", "Value": "public"}]})
    result = run_drill(spec, tmp_path, environ=server_env, verify_only=True)
    details = {d.key: d.detail for d in result.record.verification.differences}
    assert result.exit_code == 1
    assert "cache-control: 'max-age=3600' != 'no-store'" in details["reports/q3.csv"]
    assert "tag classification: 'confidential' != 'public'" in details["reports/q4.csv"]
    assert "tag project: 'exit' != None" in details["reports/q4.csv"]


def test_keys_near_the_1024_byte_limit(source_client, write_spec, server_env, tmp_path,
                                       bucket_name):
    bucket = bucket_name("src")
    source_client.create_bucket(Bucket=bucket)
    fits = "/".join(["s" * 250] * 4) + "/" + "é" * 10   # 1,024 bytes, segments <= 255
    too_long_segment = "x/" + "y" * 300
    assert len(fits.encode()) == 1024
    for key in (fits, too_long_segment):
        source_client.put_object(Bucket=bucket, Key=key, Body=key.encode()[:50])
    result = run_drill(write_spec(bucket, bucket_name("tgt")), tmp_path, environ=server_env)
    counts = result.record.verification.counts
    assert counts["matched"] == 1 and counts["unrepresentable"] == 1
    assert [line["key"] for line in manifest_lines(result)] == [fits]


def drawn(seed: int, fraction: float) -> set[str]:
    """The sample docs/drill-spec.md describes, computed here: keys whose keyed BLAKE2b-64
    score under the seed (a 16-byte big-endian key) is below the fraction."""
    def score(key: str) -> float:
        digest = hashlib.blake2b(key.encode(), digest_size=8,
                                 key=seed.to_bytes(16, "big", signed=True)).digest()
        return int.from_bytes(digest, "big") / 2**64
    return {key for key in (f"data/{i:03d}.txt" for i in range(60)) if score(key) < fraction}


def test_same_seed_draws_same_sample(small_bucket, write_spec, server_env, tmp_path, bucket_name):
    target_bucket = bucket_name("tgt")
    assert run_drill(write_spec(small_bucket, target_bucket), tmp_path / "full",
                     environ=server_env).exit_code == 0

    def sampled(sample: str, name: str) -> tuple[set[str], object]:
        spec = write_spec(small_bucket, target_bucket, filename=f"{name}.yaml",
                          extra=f"verification:\n  sample: {sample}\n")
        result = run_drill(spec, tmp_path / name, environ=server_env, verify_only=True)
        assert result.exit_code == 0
        return {line["key"] for line in manifest_lines(result)}, result.record.verification

    first, verification = sampled("{fraction: 0.25, seed: 42}", "a")
    again, _ = sampled("{fraction: 0.25, seed: 42}", "b")
    other, _ = sampled("{fraction: 0.25, seed: 7}", "c")
    counted, counted_verification = sampled("{count: 13, seed: 42}", "d")
    assert first == again and first != other
    assert first == drawn(42, 0.25) and other == drawn(7, 0.25)
    assert len(first) == 17  # what this seed draws of these 60 keys, not about a quarter
    assert verification.sample.seed == 42 and verification.sample.sampled_objects == len(first)
    assert verification.counts["not_sampled"] == 60 - len(first)
    assert verification.completeness_objects_pct == 100.0
    assert len(counted) == 13 == counted_verification.sample.sampled_objects


def test_versioned_source_is_verified_version_by_version(
        source_client, target_client, write_spec, server_env, tmp_path, bucket_name):
    bucket = bucket_name("src")
    source_client.create_bucket(Bucket=bucket)
    source_client.put_bucket_versioning(Bucket=bucket,
                                        VersioningConfiguration={"Status": "Enabled"})
    for body in (b"first", b"second version", b"third and current"):
        source_client.put_object(Bucket=bucket, Key="doc/contract.txt", Body=body)
    source_client.put_object(Bucket=bucket, Key="doc/other.txt", Body=b"single")
    target_bucket = bucket_name("tgt")
    spec = write_spec(bucket, target_bucket, extra="verification:\n  versions: all\n")
    result = run_drill(spec, tmp_path, environ=server_env)
    assert result.exit_code == 0, result.record.verification.differences
    assert result.record.verification.counts["matched"] == 4
    versions = target_client.list_object_versions(Bucket=target_bucket, Prefix="doc/contract.txt")
    bodies = [target_client.get_object(Bucket=target_bucket, Key="doc/contract.txt",
                                       VersionId=v["VersionId"])["Body"].read()
              for v in versions["Versions"]]
    assert bodies == [b"third and current", b"second version", b"first"]
    ages = sorted((line["key"], line["version_age"]) for line in manifest_lines(result))
    assert ages == [("doc/contract.txt", 0), ("doc/contract.txt", 1), ("doc/contract.txt", 2),
                    ("doc/other.txt", 0)]
    middle = versions["Versions"][1]["VersionId"]
    target_client.delete_object(Bucket=target_bucket, Key="doc/contract.txt", VersionId=middle)
    damaged = run_drill(spec, tmp_path, environ=server_env, verify_only=True)
    assert damaged.exit_code == 1
    differing = {(d.key, d.version_age, d.kind) for d in damaged.record.verification.differences}
    assert ("doc/contract.txt", 1, "size_differs") in differing  # 'first' now sits at age 1
    assert ("doc/contract.txt", 2, "missing") in differing


def test_manifest_proof_verifies_and_fails_after_tampering(small_bucket, write_spec, server_env,
                                                          tmp_path, bucket_name):
    spec = write_spec(small_bucket, bucket_name("tgt"))
    result = run_drill(spec, tmp_path, environ=server_env)
    manifest = result.path.parent / result.record.verification.manifest.file
    assert manifest_root(manifest) == result.record.verification.manifest.merkle_root
    assert result.record.verification.manifest.entries == 60
    done = exitkit("manifest", "prove", str(result.path), "data/017.txt", env=server_env)
    assert done.returncode == 0, done.stderr
    proof = json.loads(done.stdout)
    assert proof["verified"] is True and proof["tree_size"] == 60
    assert proof["entry"]["key"] == "data/017.txt" and len(proof["audit_path"]) == 6
    lines = manifest.read_text().splitlines()
    index = proof["leaf_index"]
    entry = json.loads(lines[index])
    entry["size"] += 1
    lines[index] = json.dumps(entry, sort_keys=True, separators=(",", ":"))
    manifest.write_text("\n".join(lines) + "\n")
    done = exitkit("manifest", "prove", str(result.path), "data/017.txt", env=server_env)
    assert done.returncode == 1
    assert "proof failed" in done.stderr
    assert exitkit("manifest", "prove", str(result.path), "data/nope", env=server_env
                   ).returncode == 2


def test_differences_are_listed_in_full_beside_the_record(small_bucket, write_spec, server_env,
                                                         tmp_path, bucket_name, target_client):
    target_bucket = bucket_name("tgt")
    spec = write_spec(small_bucket, target_bucket)
    run_drill(spec, tmp_path, environ=server_env)
    for i in range(12):
        target_client.put_object(Bucket=target_bucket, Key=f"stray/{i}", Body=b"x")
    result = run_drill(spec, tmp_path, environ=server_env, verify_only=True)
    side = Path(result.path.parent, result.record.verification.differences_file)
    listed = [json.loads(line) for line in side.read_text().splitlines()]
    assert sorted(d["key"] for d in listed) == sorted(f"stray/{i}" for i in range(12))
    assert {d["kind"] for d in listed} == {"extra"}
    assert result.record.verification.counts["extra"] == 12


def test_listing_runs_proven_by_etags_still_isolate_each_difference(
        small_bucket, write_spec, server_env, tmp_path, bucket_name, target_client):
    target_bucket = bucket_name("tgt")
    spec = write_spec(small_bucket, target_bucket, extra="verification:\n  metadata: false\n")
    first = run_drill(spec, tmp_path / "a", environ=server_env)
    assert first.record.verification.methods == {"etag-md5": 60}
    target_client.delete_object(Bucket=target_bucket, Key="data/010.txt")
    body = target_client.get_object(Bucket=target_bucket, Key="data/020.txt")["Body"].read()
    target_client.put_object(Bucket=target_bucket, Key="data/020.txt", Body=body.upper())
    target_client.put_object(Bucket=target_bucket, Key="data/030.txt-extra", Body=b"x")
    result = run_drill(spec, tmp_path / "b", environ=server_env, verify_only=True)
    verification = result.record.verification
    kinds = {d.key: d.kind for d in verification.differences}
    assert kinds == {"data/010.txt": "missing", "data/020.txt": "content_differs",
                     "data/030.txt-extra": "extra"}
    assert verification.counts["matched"] == 58 == verification.manifest.entries
    assert verification.methods == {"etag-md5": 58}
    keys = [line["key"] for line in manifest_lines(result)]
    assert keys == sorted(f"data/{i:03d}.txt" for i in range(60) if i not in (10, 20))
