"""Drills across providers, with the verification classes of S3 drills, each target read
back with an independent client and compared by SHA-256: Azure (Azurite) to SeaweedFS,
and S3 (moto) to Azure."""

import hashlib
import random

import pytest
from azure.storage.blob import BlobServiceClient

from exitkit.api import run_drill
from exitkit.embedded.azure_seed import AzureSeedBlob, seed_container
from exitkit.embedded.seed import ENCODED_ASSETS, SeedObject
from exitkit.evidence.record import VERIFICATION_CLASSES
from tests.conftest import SEAWEED_TARGET

MIB = 1024 * 1024
#: (prefix, content type, metadata, Azure tier, index tags): the rows an Azure estate is
#: drawn from; each row gives a few blobs of drawn names and sizes.
AZURE_ROWS = [
    ("finance/ledger/", "application/json", {"department": "finance"}, "Hot",
     {"owner": "finance"}),
    ("web/img/", "image/jpeg", {"photographer": "staff_3"}, "Cool", {}),
    ("research/runs/", "text/csv", {"Owner": "Research"}, "Cold", {"Case": "Mixed"}),
    ("finance/archive/", "application/pdf", {"retention": "10y"}, "Archive", {}),
    ("docs/Übersicht/ odd+name %20/", "text/plain; charset=utf-8", {}, "Hot", {}),
]
AZURE_TO_SEAWEED = """\
version: 1
name: azure-to-seaweedfs
source:
  provider: azure-blob
  endpoint: ${{AZ_ENDPOINT}}
  bucket: {container}
  credentials: {{access_key_env: AZ_ACCOUNT, secret_key_env: AZ_KEY}}
target:
{target}
  storage_classes: {{COOL: STANDARD_IA, COLD: STANDARD_IA, ARCHIVE: STANDARD}}
restore:
  tier: standard
  max_wait: 5m
  poll_interval: 1s
options:
  concurrency: 4
  part_size: 5MiB
expectations:
  completeness: 100%
  accept_gaps:
    - property: encryption
      reason: the test target has no encryption at rest
"""
S3_TO_AZURE_TARGET = """\
  provider: azure-blob
  endpoint: ${{AZ_ENDPOINT}}
  bucket: {container}
  create_bucket: true
  storage_classes: {{STANDARD_IA: COOL}}
  credentials:
    access_key_env: AZ_ACCOUNT
    secret_key_env: AZ_KEY"""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def azure_rows_estate(seed: int) -> list[AzureSeedBlob]:
    """Blobs drawn per row of :data:`AZURE_ROWS`, the encoded assets of a static site, an
    empty blob and one blob above the part size (uploaded in blocks, so Azure stores no
    Content-MD5 for it)."""
    rng = random.Random(seed)
    blobs = []
    for prefix, content_type, metadata, tier, tags in AZURE_ROWS:
        for number in range(rng.randint(2, 4)):
            body = rng.randbytes(rng.randint(1, 40_000))
            blobs.append(AzureSeedBlob(SeedObject(f"{prefix}item-{number:02d}", body,
                                                  content_type, dict(metadata)), tier,
                                       dict(tags)))
    for name, content_type, encoding, encode in ENCODED_ASSETS:
        text = (f"/* {name} */\n" * rng.randint(10, 500)).encode()
        body = encode(text) if encode else rng.randbytes(rng.randint(1, 4000))
        blobs.append(AzureSeedBlob(SeedObject(f"web/site/{name}", body, content_type,
                                              {"build": "2026_11"}, content_encoding=encoding)))
    blobs.append(AzureSeedBlob(SeedObject("markers/empty.flag", b"", "application/x-empty")))
    blobs.append(AzureSeedBlob(SeedObject("backups/db/dump.bin",
                                          rng.randbytes(5 * MIB + rng.randint(1, MIB)),
                                          "application/octet-stream", {"database": "crm"})))
    return blobs


@pytest.fixture
def azure_env(azurite, server_env):
    return {**server_env, "AZ_ENDPOINT": azurite.blob_endpoint, "AZ_ACCOUNT": azurite.account,
            "AZ_KEY": azurite.account_key}


def test_azure_to_seaweedfs_drill(azurite, azure_env, target_client, tmp_path, bucket_name,
                                  write_spec):
    """Every blob of an Azure estate, in every tier, arrives byte for byte with its content
    settings, metadata and tags; the archive is rehydrated through the drill's restore
    path and priced; classes are the S3 drills' vocabulary."""
    container, target_bucket = bucket_name("az"), bucket_name("tgt")
    blobs = azure_rows_estate(seed=14)
    seed_container(azurite.connection_string(), container, blobs)
    spec = tmp_path / "drill.yaml"
    spec.write_text(AZURE_TO_SEAWEED.format(container=container, target=SEAWEED_TARGET.format(
        bucket=target_bucket, prefix="")), encoding="utf-8")
    result = run_drill(spec, tmp_path / "results", environ=azure_env)
    record = result.record
    assert result.exit_code == 0, (record.errors, record.verification.differences[:3])
    assert set(record.verification.counts) == set(VERIFICATION_CLASSES)
    assert record.verification.counts["property_lost_accepted"] == len(blobs)
    assert sum(record.verification.counts.values()) == len(blobs)
    archived = [blob.obj.key for blob in blobs if blob.tier == "Archive"]
    restore = record.copy_summary.restore
    assert (restore.requested, restore.copied, restore.pending) == (len(archived),) * 2 + (0,)
    assert {request.key for request in restore.requests} == set(archived)
    assert record.requests["source"].restores == len(archived)
    assert "source restore retrieval (ARCHIVE, standard)" in {
        line.item for line in record.cost.drill[0].lines}
    assert record.inventory.storage_classes["ARCHIVE"].objects == len(archived)
    for blob in blobs:
        obj = blob.obj
        got = target_client.get_object(Bucket=target_bucket, Key=obj.key)
        assert _sha(got["Body"].read()) == _sha(obj.body), obj.key
        assert got["ContentType"] == obj.content_type
        assert got.get("ContentEncoding") == obj.content_encoding
        assert got["Metadata"] == {name.lower(): value for name, value in obj.metadata.items()}
        expected_class = {"Cool": "STANDARD_IA", "Cold": "STANDARD_IA"}.get(blob.tier,
                                                                           "STANDARD")
        head = target_client.head_object(Bucket=target_bucket, Key=obj.key)
        assert head.get("StorageClass", "STANDARD") == expected_class, obj.key
        tags = target_client.get_object_tagging(Bucket=target_bucket, Key=obj.key)["TagSet"]
        assert {tag["Key"]: tag["Value"] for tag in tags} == blob.tags


def test_s3_to_azure_drill(moto, azurite, azure_env, source_client, tmp_path, bucket_name,
                           write_spec):
    """An S3 bucket (content encodings, metadata, tags, an infrequent-access class mapped
    to Cool) arrives in an Azure container, read back with the azure-storage-blob SDK."""
    bucket, container = bucket_name("src"), bucket_name("az")
    source_client.create_bucket(Bucket=bucket)
    rng = random.Random(1414)
    objects = {}
    for number, (name, content_type, encoding, encode) in enumerate(ENCODED_ASSETS):
        raw = (f"/* {name} */\n" * rng.randint(10, 800)).encode()
        body = encode(raw) if encode else rng.randbytes(rng.randint(1, 5000))
        key = f"site/{number % 3}/{name}"
        storage_class = "STANDARD_IA" if number % 3 == 1 else "STANDARD"
        tags = "owner=web&Case=Mixed" if number % 2 else ""
        source_client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type,
                                 ContentEncoding=encoding, Metadata={"build": f"b{number}"},
                                 StorageClass=storage_class, Tagging=tags)
        objects[key] = (body, content_type, encoding, storage_class, tags)
    big = rng.randbytes(11 * MIB + 17)
    source_client.put_object(Bucket=bucket, Key="backups/big.bin", Body=big,
                             ContentType="application/octet-stream", Metadata={})
    objects["backups/big.bin"] = (big, "application/octet-stream", None, "STANDARD", "")
    spec = write_spec(bucket, target=S3_TO_AZURE_TARGET.format(container=container))
    result = run_drill(spec, tmp_path / "results", environ=azure_env)
    record = result.record
    assert result.exit_code == 0, (record.errors, record.verification.differences[:3])
    assert set(record.verification.counts) == set(VERIFICATION_CLASSES)
    assert record.verification.counts["matched"] == len(objects)
    service = BlobServiceClient.from_connection_string(azurite.connection_string())
    for key, (body, content_type, encoding, storage_class, tags) in objects.items():
        blob = service.get_blob_client(container, key)
        stored = blob.download_blob(decompress=False).readall()
        assert _sha(stored) == _sha(body), key
        props = blob.get_blob_properties()
        assert props.content_settings.content_type == content_type
        assert props.content_settings.content_encoding == encoding
        assert props.blob_tier == ("Cool" if storage_class == "STANDARD_IA" else "Hot")
        expected_tags = dict(pair.split("=") for pair in tags.split("&")) if tags else {}
        assert blob.get_blob_tags() == expected_tags
    assert record.copy_summary.multipart_objects == 1  # the big object went up in blocks
