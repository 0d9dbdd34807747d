"""Seed a realistic source bucket for the demo and the tests.

Deterministic for a given seed: nested prefixes, keys with unicode, spaces, ``+`` and
``%``, 0-byte objects, folder markers, user metadata, varied content types, several
objects above the multipart threshold uploaded as multipart, and a static site's
pre-compressed assets stored with a Content-Encoding (valid and invalid bodies). With
*archived*, a finance archive in GLACIER and DEEP_ARCHIVE too (it needs a restore).
"""

import gzip
import io
import random
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from boto3.s3.transfer import TransferConfig

MIB = 1024 * 1024
MULTIPART_SIZES = (12 * MIB + 7, 17 * MIB, 21 * MIB + 4321)
UPLOAD_PART = 5 * MIB


@dataclass(frozen=True)
class SeedObject:
    """One object to put into the source bucket."""

    key: str
    body: bytes
    content_type: str
    metadata: dict[str, str] = field(default_factory=dict)
    multipart: bool = False
    content_encoding: str | None = None
    storage_class: str | None = None


def _random_bytes(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size)


#: (asset, Content-Type, Content-Encoding, encoder): what a static site stores
#: pre-compressed; an encoder of None stores bytes that are not valid in the encoding (it
#: happens: upload tools set the header whatever the body).
ENCODED_ASSETS = (
    ("app.js", "application/javascript", "gzip", gzip.compress),
    ("style.css", "text/css; charset=utf-8", "br", None),
    ("data.json", "application/json", "deflate", zlib.compress),
    ("font.woff2", "font/woff2", "zstd", None),
    ("legacy.txt", "text/plain; charset=utf-8", "compress", None),
    ("broken.js", "application/javascript", "gzip", None),
    ("plain.html", "text/html; charset=utf-8", "identity", lambda body: body),
    ("custom.bin", "application/x-custom", "x-custom", None),
)
#: (storage class, how many) of the finance archive seeded with ``archived=True``.
ARCHIVE_CLASSES = (("GLACIER", 3), ("DEEP_ARCHIVE", 2))


def demo_objects(count: int, seed: int = 2027, archived: bool = False) -> Iterator[SeedObject]:
    """Yield about *count* objects (at least ~70) describing a small organisation's bucket;
    with *archived*, some of them in archived storage classes."""
    rng = random.Random(seed)
    fixed = list(_fixed_objects(rng)) + list(_encoded_assets(rng))
    if archived:
        fixed += list(_archived_objects(rng))
    yield from fixed
    bulk = max(count - len(fixed), 0)
    for i in range(bulk):
        kind = i % 5
        if kind == 0:
            quarter = 1 + i % 4
            body = ('{"entry": %d, "amount": %d}\n' % (i, rng.randint(1, 10**6))).encode() * (
                1 + rng.randint(0, 40))
            yield SeedObject(f"finance/ledger/2026/q{quarter}/entry-{i:05d}.json", body,
                             "application/json", {"department": "finance",
                                                  "classification": "internal"})
        elif kind == 1:
            yield SeedObject(f"web/assets/img/photo-{i:05d}.jpg",
                             _random_bytes(rng, rng.randint(2_000, 120_000)), "image/jpeg",
                             {"photographer": f"staff-{i % 7}"})
        elif kind == 2:
            body = f"<html><body><h1>Page {i}</h1></body></html>\n".encode()
            yield SeedObject(f"web/static/pages/page {i:05d}.html", body,
                             "text/html; charset=utf-8")
        elif kind == 3:
            yield SeedObject(f"archive/logs/2026/11/app-{i:05d}.log.gz",
                             _random_bytes(rng, rng.randint(500, 30_000)), "application/gzip",
                             {"retention": "7y"})
        else:
            body = "\n".join(f"{j},{rng.random():.6f}" for j in range(rng.randint(1, 300)))
            yield SeedObject(f"research/datasets/run-{i % 17}/sample-{i:05d}.csv",
                             body.encode(), "text/csv", {"owner": "research"})


def _fixed_objects(rng: random.Random) -> Iterator[SeedObject]:
    odd_names = [
        "docs/Übersicht/résumé – final.txt", "docs/日本語/ファイル.csv", "docs/ελληνικά/αρχείο.md",
        "docs/emoji/🚀 launch plan.txt", "odd/a+b=c.txt", "odd/100%-done.txt",
        "odd/already%20encoded.txt", "odd/plus+and space+mixed.txt", "odd/semi;colon&amp.txt",
        "odd/brackets[1](2){3}.txt", "odd/quote'single.txt", "odd/tilde~hash#.txt",
        "odd/trailing space .txt", "odd/ leading space.txt",
    ]
    for i, key in enumerate(odd_names):
        yield SeedObject(key, f"odd key {i}: {key}\n".encode(), "text/plain; charset=utf-8",
                         {"origin": "odd-names"})
    for i in range(20):
        yield SeedObject(f"markers/empty-{i:02d}.flag", b"", "application/octet-stream",
                         {"marker": "true"})
    for name in ("folders/empty-folder/", "folders/another/"):
        yield SeedObject(name, b"", "application/x-directory")
    for i, size in enumerate(MULTIPART_SIZES):
        yield SeedObject(f"backups/db/dump-{i}.bin", _random_bytes(rng, size),
                         "application/octet-stream", {"database": "crm", "part": str(i)},
                         multipart=True)
    deep = "/".join(f"level{n}" for n in range(12))
    yield SeedObject(f"deep/{deep}/leaf.txt", b"deep\n", "text/plain")


def _encoded_assets(rng: random.Random) -> Iterator[SeedObject]:
    for name, content_type, encoding, encode in ENCODED_ASSETS:
        text = (f"/* {name} */\n" * rng.randint(10, 3000)).encode()
        body = encode(text) if encode else rng.randbytes(rng.randint(1, 40_000))
        yield SeedObject(f"web/site/assets/{name}", body, content_type, {"build": "2026-11"},
                         content_encoding=encoding)


def _archived_objects(rng: random.Random) -> Iterator[SeedObject]:
    for storage_class, count in ARCHIVE_CLASSES:
        for number in range(count):
            yield SeedObject(f"finance/archive/{storage_class.lower()}/{2016 + number}.pdf",
                             rng.randbytes(rng.randint(1_000, 90_000)), "application/pdf",
                             {"retention": "10y"}, storage_class=storage_class)


def put_object(client, bucket: str, obj: SeedObject) -> None:
    """Upload *obj*; multipart objects go up in 5 MiB parts."""
    extra = {"ContentEncoding": obj.content_encoding} if obj.content_encoding else {}
    if obj.storage_class:
        extra["StorageClass"] = obj.storage_class
    if obj.multipart:
        config = TransferConfig(multipart_threshold=UPLOAD_PART, multipart_chunksize=UPLOAD_PART,
                                use_threads=False)
        client.upload_fileobj(io.BytesIO(obj.body), bucket, obj.key, Config=config,
                              ExtraArgs={"ContentType": obj.content_type,
                                         "Metadata": obj.metadata, **extra})
    else:
        client.put_object(Bucket=bucket, Key=obj.key, Body=obj.body,
                          ContentType=obj.content_type, Metadata=obj.metadata, **extra)


def seed_bucket(client, bucket: str, objects: list[SeedObject], region: str | None = None,
                workers: int = 8) -> None:
    """Create *bucket* (if needed) and upload *objects* concurrently."""
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        if region and region != "us-east-1":
            client.create_bucket(Bucket=bucket,
                                 CreateBucketConfiguration={"LocationConstraint": region})
        else:
            client.create_bucket(Bucket=bucket)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda obj: put_object(client, bucket, obj), objects))
