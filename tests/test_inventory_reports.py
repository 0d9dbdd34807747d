"""S3 Inventory reports as the listing source, on moto: reports built in AWS's documented
format (manifest.json with fileSchema, CSV.gz and Parquet data files), a fresh report
drilled end to end, a stale one caught by the staleness check, a damaged one refused."""

import csv
import gzip
import hashlib
import io
import json
import random
import uuid
from datetime import UTC, datetime
from urllib.parse import quote_plus

import pyarrow
import pyarrow.parquet
import pytest
from rich.console import Console

from exitkit.api import run_drill
from exitkit.errors import SpecError
from exitkit.evidence.summary import render_summary
from tests.helpers import digests, minio_client

PREFIXES = ("logs/2026/", "media/", "exports/q4/")
NAMES = ("report.csv", "a b+c.txt", "naïve café.json", "100%.bin", "x=1&y=2", "deep/er/n")
CSV_SCHEMA = "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass"
PARQUET_SCHEMA = ("message s3.inventory { required binary bucket (STRING); required binary "
                  "key (STRING); optional int64 size; optional int64 last_modified_date "
                  "(TIMESTAMP(MILLIS,true)); optional binary e_tag (STRING); optional binary "
                  "storage_class (STRING);}")
CREATED = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def seed_estate(client, bucket: str, rng: random.Random) -> dict[str, bytes]:
    """Objects under a few prefixes with awkward names and varied sizes."""
    client.create_bucket(Bucket=bucket)
    bodies = {}
    for prefix in PREFIXES:
        for name in rng.sample(NAMES, 4):
            key = prefix + name
            bodies[key] = rng.randbytes(rng.choice((0, 1, 700, 5000, 70_000)))
            client.put_object(Bucket=bucket, Key=key, Body=bodies[key])
    return bodies


def listed(client, bucket: str) -> list[dict]:
    return [item for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for item in page.get("Contents", [])]


def csv_data(bucket: str, items: list[dict]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for item in items:
        writer.writerow([bucket, quote_plus(item["Key"], safe="/"), item["Size"],
                         item["LastModified"].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                         item["ETag"].strip('"'), item.get("StorageClass", "STANDARD")])
    return gzip.compress(text.getvalue().encode())


def parquet_data(bucket: str, items: list[dict]) -> bytes:
    table = pyarrow.table({
        "bucket": [bucket] * len(items),
        "key": [item["Key"] for item in items],
        "size": pyarrow.array([item["Size"] for item in items], pyarrow.int64()),
        "last_modified_date": pyarrow.array([item["LastModified"] for item in items],
                                            pyarrow.timestamp("ms", tz="UTC")),
        "e_tag": [item["ETag"].strip('"') for item in items],
        "storage_class": [item.get("StorageClass", "STANDARD") for item in items]})
    out = io.BytesIO()
    pyarrow.parquet.write_table(table, out)
    return out.getvalue()


def build_report(client, source: str, destination: str, file_format: str,
                 damage: bool = False) -> str:
    """Write an inventory report of *source* (as listed now) into *destination*, in two
    data files; return the manifest's s3:// URI."""
    items = listed(client, source)
    random.Random(len(items)).shuffle(items)  # reports are not in key order
    base = f"{source}/daily-{file_format.lower()}"
    files = []
    for part in (items[:len(items) // 2], items[len(items) // 2:]):
        data = (csv_data(source, part) if file_format == "CSV" else parquet_data(source, part))
        key = f"{base}/data/{uuid.uuid4()}.{'csv.gz' if file_format == 'CSV' else 'parquet'}"
        files.append({"key": key, "size": len(data), "MD5checksum": hashlib.md5(data).hexdigest()})
        client.put_object(Bucket=destination, Key=key, Body=data[:-1] if damage else data)
    manifest = json.dumps({
        "sourceBucket": source, "destinationBucket": f"arn:aws:s3:::{destination}",
        "version": "2016-11-30",
        "creationTimestamp": str(int(CREATED.timestamp() * 1000)), "fileFormat": file_format,
        "fileSchema": CSV_SCHEMA if file_format == "CSV" else PARQUET_SCHEMA, "files": files})
    key = f"{base}/{CREATED:%Y-%m-%dT%H-%MZ}/manifest.json"
    client.put_object(Bucket=destination, Key=key, Body=manifest.encode())
    client.put_object(Bucket=destination, Key=key.replace(".json", ".checksum"),
                      Body=hashlib.md5(manifest.encode()).hexdigest().encode())
    return f"s3://{destination}/{key}"


def listing_spec(manifest: str, heads: int = 1000, prefixes: int = 10) -> str:
    return (f"listing:\n  source: inventory-report\n  manifest: {manifest}\n"
            f"  staleness: {{heads: {heads}, prefixes: {prefixes}}}\n")


@pytest.mark.parametrize("file_format", ["CSV", "Parquet"])
def test_a_drill_lists_from_a_fresh_report_and_records_it(
        file_format, moto, seaweed, source_client, bucket_name, write_spec, server_env,
        tmp_path):
    source, destination, target = bucket_name("src"), bucket_name("inv"), bucket_name("tgt")
    bodies = seed_estate(source_client, source, random.Random(file_format))
    source_client.create_bucket(Bucket=destination)
    manifest = build_report(source_client, source, destination, file_format)
    spec = write_spec(source, target, extra=listing_spec(manifest, heads=5, prefixes=2))

    result = run_drill(spec, tmp_path / "results", environ=server_env)

    record = result.record
    assert result.exit_code == 0, record.errors
    listing = record.listing
    assert (listing.source, listing.manifest, listing.file_format, listing.data_files) == (
        "inventory-report", manifest, file_format, 2)
    assert listing.report_date == CREATED and listing.report_age_days > 0
    staleness = listing.staleness
    assert (staleness.heads, len(staleness.listed_prefixes), staleness.stale) == (5, 2, False)
    assert staleness.counts == {"gone": 0, "not_in_report": 0, "changed": 0}
    assert staleness.listed_objects == sum(
        1 for key in bodies if any(key.startswith(p) for p in staleness.listed_prefixes))
    assert record.inventory.objects == len(bodies)
    assert record.verification.counts["matched"] == len(bodies)
    assert digests(minio_client(seaweed), target) == {
        key: hashlib.sha256(body).hexdigest() for key, body in bodies.items()}


def test_a_stale_report_is_caught_and_every_stale_key_classed(
        moto, seaweed, source_client, bucket_name, write_spec, server_env, tmp_path):
    source, destination, target = bucket_name("src"), bucket_name("inv"), bucket_name("tgt")
    rng = random.Random(11)
    bodies = seed_estate(source_client, source, rng)
    source_client.create_bucket(Bucket=destination)
    manifest = build_report(source_client, source, destination, "CSV")
    keys = sorted(bodies)
    gone, changed = rng.sample(keys, 3), []
    for key in gone:
        source_client.delete_object(Bucket=source, Key=key)
    for key in (key for key in keys if key not in gone):
        if len(changed) < 2:
            changed.append(key)
            source_client.put_object(Bucket=source, Key=key, Body=bodies[key] + b"more")
    added = [f"{PREFIXES[0]}new-{index}.txt" for index in range(2)]
    for key in added:
        source_client.put_object(Bucket=source, Key=key, Body=b"written after the report")
    spec = write_spec(source, target, extra=listing_spec(manifest))

    result = run_drill(spec, tmp_path / "results", environ=server_env)

    staleness = result.record.listing.staleness
    assert staleness.stale and staleness.heads == len(bodies)
    assert staleness.counts == {"gone": 3, "not_in_report": 2, "changed": 2}
    assert {(e.key, e.kind) for e in staleness.examples} == {
        *((key, "gone") for key in gone), *((key, "not_in_report") for key in added),
        *((key, "changed") for key in changed)}
    assert [advice.split(":")[0] for advice in staleness.advice] == [
        "gone", "not_in_report", "changed"]
    verification = result.record.verification
    assert result.exit_code == 1
    assert verification.counts["failed"] == 3 and verification.counts["size_differs"] == 2
    assert any("inventory report is stale" in gap for gap in verification.gaps)
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(render_summary(result.record))
    shown = console.export_text()
    assert "Report staleness: 3 gone, 2 not_in_report, 2 changed" in shown
    assert "Listed from the inventory report of 2026-12-01" in shown


def test_a_damaged_report_or_a_bad_manifest_stops_the_drill(
        moto, source_client, bucket_name, write_spec, server_env, tmp_path):
    source, destination = bucket_name("src"), bucket_name("inv")
    seed_estate(source_client, source, random.Random(3))
    source_client.create_bucket(Bucket=destination)
    damaged = build_report(source_client, source, destination, "Parquet", damage=True)
    result = run_drill(write_spec(source, bucket_name("tgt"), extra=listing_spec(damaged)),
                       tmp_path / "damaged", environ=server_env)
    assert result.exit_code == 2 and result.record.inventory is None
    assert "damaged" in result.record.errors[0] and ".parquet" in result.record.errors[0]

    bad_key = f"{source}/bad/manifest.json"
    source_client.put_object(Bucket=destination, Key=bad_key, Body=json.dumps({
        "sourceBucket": source, "destinationBucket": destination, "fileFormat": "CSV",
        "creationTimestamp": "0", "files": []}).encode())
    spec = write_spec(source, bucket_name("tgt"), filename="bad.yaml",
                      extra=listing_spec(f"s3://{destination}/{bad_key}"))
    with pytest.raises(SpecError, match=r"manifest\.json: fileSchema: missing"):
        run_drill(spec, tmp_path / "bad", environ=server_env)
