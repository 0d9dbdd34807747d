"""Google Cloud Storage on gcp-storage-emulator: what the adapter reads (MD5, CRC32C,
content settings, metadata, classes, stored bytes), and a GCS -> SeaweedFS drill whose
verification classes equal those of the same estate's S3 -> SeaweedFS drill."""

import base64
import hashlib
import io

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from exitkit.api import run_drill
from exitkit.providers.checksums import checksum_of
from exitkit.providers.contract import Attributes
from exitkit.providers.gcs import CONTENT_SETTINGS, GcsSource, GcsStore, gcs_client_factory
from exitkit.providers.properties import ObjectProperties
from tests.estates import PATH_TROUBLE, estate
from tests.helpers import S3_SOURCE_SPEC, SEAWEED_TARGET_SPEC, bucket_contents, minio_client

GCS_CLASSES = ("STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE")
GCS_SPEC = """\
version: 1
name: {name}
source:
  provider: gcs
  endpoint: ${{GCS_ENDPOINT}}
  region: europe-west4
  bucket: {source}
""" + SEAWEED_TARGET_SPEC + """\
  storage_classes: {{NEARLINE: STANDARD_IA, COLDLINE: STANDARD_IA, ARCHIVE: STANDARD_IA}}
options: {{concurrency: 4, max_retries: 2}}
expectations: {{completeness: 80%}}
"""
S3_SPEC = S3_SOURCE_SPEC + SEAWEED_TARGET_SPEC + """\
options: {{concurrency: 4, max_retries: 2}}
expectations: {{completeness: 80%}}
"""


@pytest.fixture(scope="module")
def gcs_client(gcs_emulator) -> storage.Client:
    """An SDK client of the emulator, apart from the adapter's: seeds and reads back."""
    return storage.Client(project="exitkit-tests", credentials=AnonymousCredentials(),
                          client_options={"api_endpoint": gcs_emulator.endpoint})


def seed_gcs(client: storage.Client, bucket_name: str, objects) -> None:
    """Upload *objects* with their content settings, metadata and class."""
    bucket = client.create_bucket(bucket_name)
    for obj in objects:
        blob = bucket.blob(obj.key)
        for header, name in CONTENT_SETTINGS.items():
            setattr(blob, name, obj.headers.get(header))
        blob.metadata = obj.metadata or None
        blob.storage_class = obj.storage_class
        blob.content_type = obj.content_type  # else the emulator keeps it without parameters
        blob.upload_from_file(io.BytesIO(obj.body), size=len(obj.body),
                              content_type=obj.content_type)


def test_the_adapter_reads_proofs_settings_metadata_classes_and_stored_bytes(
        gcs_emulator, gcs_client, bucket_name):
    objects = estate(seed=14, classes=GCS_CLASSES)
    name = bucket_name("gcsread")
    seed_gcs(gcs_client, name, objects)
    source = GcsSource("gcs", name, gcs_client_factory(gcs_emulator.endpoint, None))
    source.check()
    listed = {info.key: info for info in source.list()}
    assert sorted(listed) == sorted(obj.key for obj in objects)
    assert list(listed) == sorted(listed, key=str.encode)
    for obj in objects:
        info = listed[obj.key]
        assert info.size == len(obj.body)
        assert info.etag == hashlib.md5(obj.body).hexdigest()
        assert info.checksums == {"crc32c": checksum_of("crc32c", obj.body)}
        assert info.storage_class == obj.storage_class
        assert info.attributes.headers == obj.headers
        assert info.attributes.metadata == obj.metadata
        assert info.attributes.content_type == obj.content_type
        with source.open(obj.key) as stream:  # archive classes read without a restore
            assert hashlib.sha256(b"".join(stream.chunks)).digest() == \
                hashlib.sha256(obj.body).digest()
    assert source.head("site/static/missing.js") is None


def test_the_store_writes_settings_metadata_class_and_a_checked_crc32c(
        gcs_emulator, gcs_client, bucket_name):
    name = bucket_name("gcswrite")
    store = GcsStore("gcs", name, gcs_client_factory(gcs_emulator.endpoint, None))
    store.prepare(create=True)
    body = bytes(range(256)) * 40_000  # 10 MB: a resumable upload in 8 MiB pieces
    attributes = Attributes("application/gzip", {"content-encoding": "gzip",
                                                 "cache-control": "no-store"},
                            {"batch": "7"}, properties=ObjectProperties(storage_class="COLDLINE"))
    result = store.put("exports/2026/dump ü.sql.gz",
                       iter(body[i:i + 999_999] for i in range(0, len(body), 999_999)),
                       len(body), attributes)
    assert result.size == len(body)
    assert result.checksums == {"crc32c": checksum_of("crc32c", body)}
    blob = gcs_client.bucket(name).get_blob("exports/2026/dump ü.sql.gz")
    assert (blob.size, blob.storage_class, blob.content_encoding, blob.cache_control,
            blob.metadata) == (len(body), "COLDLINE", "gzip", "no-store", {"batch": "7"})
    assert base64.b64decode(blob.md5_hash) == hashlib.md5(body).digest()
    assert hashlib.sha256(blob.download_as_bytes(raw_download=True)).digest() == \
        hashlib.sha256(body).digest()


def _classes(record) -> dict[str, str]:
    return {difference.key: difference.kind for difference in record.verification.differences}


def test_gcs_to_seaweedfs_keeps_the_classes_of_the_same_s3_drill(
        gcs_emulator, gcs_client, moto, seaweed, source_client, bucket_name, server_env,
        tmp_path):
    gcs_objects = estate(seed=15, classes=GCS_CLASSES)
    s3_objects = estate(seed=15)
    gcs_bucket, s3_bucket = bucket_name("gcssrc"), bucket_name("s3src")
    seed_gcs(gcs_client, gcs_bucket, gcs_objects)
    source_client.create_bucket(Bucket=s3_bucket)
    for obj in s3_objects:
        extra = {"CacheControl": obj.headers.get("cache-control"),
                 "ContentDisposition": obj.headers.get("content-disposition"),
                 "ContentEncoding": obj.headers.get("content-encoding"),
                 "ContentLanguage": obj.headers.get("content-language")}
        source_client.put_object(Bucket=s3_bucket, Key=obj.key, Body=obj.body,
                                 ContentType=obj.content_type, Metadata=obj.metadata,
                                 **{name: value for name, value in extra.items() if value})
    env = {**server_env, "GCS_ENDPOINT": gcs_emulator.endpoint}
    records = {}
    for kind, template, source in (("gcs", GCS_SPEC, gcs_bucket), ("s3", S3_SPEC, s3_bucket)):
        spec = tmp_path / f"{kind}.yaml"
        target = bucket_name(f"{kind}tgt")
        spec.write_text(template.format(name=f"{kind}-exit", source=source, target=target),
                        encoding="utf-8")
        records[kind] = (run_drill(spec, tmp_path / kind, environ=env).record, target)
    gcs_record, gcs_target = records["gcs"]
    s3_record, _ = records["s3"]
    assert gcs_record.verdict == "passed", gcs_record.errors
    assert _classes(gcs_record) == _classes(s3_record) == dict.fromkeys(PATH_TROUBLE,
                                                                        "unrepresentable")
    assert gcs_record.verification.counts == s3_record.verification.counts
    assert gcs_record.verification.counts["matched"] == len(gcs_objects) - len(PATH_TROUBLE)
    assert gcs_record.verification.methods == {"etag-md5": len(gcs_objects) - len(PATH_TROUBLE)}
    assert gcs_record.copy_summary.engine == "exitkit"
    # ARCHIVE on GCS is read at once: no restore, no restore latency (Azure's is restored)
    assert gcs_record.copy_summary.restore is None
    assert gcs_record.projection is None or gcs_record.projection.restore_tier is None
    listed = {line.item: line for estimate in gcs_record.cost.drill if estimate.regime == "list"
              for line in estimate.lines}
    for storage_class, per_gb in (("NEARLINE", 0.01), ("COLDLINE", 0.02), ("ARCHIVE", 0.05)):
        read = sum(len(obj.body) for obj in gcs_objects
                   if obj.storage_class == storage_class and obj.key not in PATH_TROUBLE)
        line = listed[f"source retrieval on read ({storage_class})"]
        assert (line.quantity, line.unit_price) == (round(read / 2**30, 6), per_gb)
    written = bucket_contents(minio_client(seaweed), gcs_target)
    expected = {obj.key: obj for obj in gcs_objects if obj.key not in PATH_TROUBLE}
    assert sorted(written) == sorted(expected)
    for key, obj in expected.items():
        assert hashlib.sha256(written[key]["body"]).digest() == hashlib.sha256(obj.body).digest()
        assert written[key]["metadata"] == obj.metadata
        assert written[key]["content_type"] == obj.content_type


TO_GCS_SPEC = S3_SOURCE_SPEC + """\
target:
  provider: gcs
  endpoint: ${{GCS_ENDPOINT}}
  region: europe-west4
  bucket: {target}
  create_bucket: true
options: {{concurrency: 4, max_retries: 2}}
"""


def test_s3_to_gcs_keeps_every_key_setting_and_byte(gcs_emulator, gcs_client, moto,
                                                     source_client, bucket_name, server_env,
                                                     tmp_path):
    objects = estate(seed=16)  # flat keys: GCS holds the keys a path-keyed store cannot
    source, target = bucket_name("s3"), bucket_name("gcstgt")
    source_client.create_bucket(Bucket=source)
    settings = {"CacheControl": "cache-control", "ContentDisposition": "content-disposition",
                "ContentEncoding": "content-encoding", "ContentLanguage": "content-language"}
    for obj in objects:
        source_client.put_object(Bucket=source, Key=obj.key, Body=obj.body,
                                 ContentType=obj.content_type, Metadata=obj.metadata,
                                 **{name: obj.headers[header] for name, header in
                                    settings.items() if header in obj.headers})
    spec = tmp_path / "to-gcs.yaml"
    spec.write_text(TO_GCS_SPEC.format(name="s3-to-gcs", source=source, target=target),
                    encoding="utf-8")
    record = run_drill(spec, tmp_path / "out", environ={
        **server_env, "GCS_ENDPOINT": gcs_emulator.endpoint}).record
    assert record.verdict == "passed", record.errors
    assert record.verification.counts["matched"] == len(objects)
    assert record.verification.methods == {"etag-md5": len(objects)}
    stored = {blob.name: blob for blob in gcs_client.list_blobs(target)}
    assert sorted(stored) == sorted(obj.key for obj in objects)
    for obj in objects:
        blob = stored[obj.key]  # as listed: a download rewrites it from the GET's headers
        assert (blob.content_type, blob.metadata or {}) == (obj.content_type, obj.metadata)
        assert {header: getattr(blob, name) for header, name in CONTENT_SETTINGS.items()
                if getattr(blob, name)} == obj.headers
        fresh = gcs_client.bucket(target).blob(obj.key)  # the listed mediaLink is mis-quoted
        assert hashlib.sha256(fresh.download_as_bytes(raw_download=True)).digest() == \
            hashlib.sha256(obj.body).digest()
