"""Small estates that look like real buckets, generated from tables with a seeded RNG:
pre-compressed web assets (Content-Encoding, stored bytes), documents with content
settings and custom metadata, storage classes, and keys that stress every layer
(unicode, spaces, ``+``, ``%``, ``#``, ``?``, ``~``, long and empty path segments)."""

import random
from collections import Counter
from dataclasses import dataclass, field, replace

from exitkit.embedded.seed import ENCODED_ASSETS

#: (key template, content type, content settings) of a department's documents.
DOCUMENTS = (
    ("finance/ledger/2026/q{n}/entries {n}.csv", "text/csv", {"cache-control": "no-cache"}),
    ("hr/contracts/ünïcode/çontract-{n}.pdf", "application/pdf",
     {"content-disposition": 'attachment; filename="contract.pdf"'}),
    ("web/i18n/{n}/nl-NL strings.json", "application/json", {"content-language": "nl-NL"}),
    ("odd/plus+and%25percent/{n}.bin", "application/octet-stream", {}),
    ("odd/hash#and?query ~{n}.txt", "text/plain; charset=utf-8", {}),
    ("photos/2026/日本/{n}.jpg", "image/jpeg", {"cache-control": "public, max-age=86400"}),
)
#: Custom metadata as exports and backup tools write it (lower-case names, runs of spaces
#: inside values). A tab is left to tests/test_s3_wire.py: rclone's S3 client signs it in a
#: way SeaweedFS refuses (SignatureDoesNotMatch), which the rclone engine's tests would
#: report as failed copies.
METADATA = ({"department": "finance", "classification": "internal"},
            {"retention-years": "10"}, {}, {"source-system": "sap-export", "batch": "42"},
            {"description": "Q3  report   final", "author": "J. de  Vries"})
#: Characters of real keys (exported file names, terminal escapes, byte-order marks) that
#: XML 1.0 cannot carry or a listing's URL decoding could get wrong (``+``, ``%2B``): a
#: listing gets them only URL-encoded. moto_server refuses a key with a line feed.
XML_TROUBLE = ("\x01", "\x07", "\x08", "\t", "\x0b", "\x0c", "\r", "\x1b[0m", "\x1f",
               "\x7f", "\u0085", "\ufeff", "+", "%2B", "%", " + ")
#: Keys a path-keyed store cannot hold: a 300-byte segment, an empty segment.
#: Histories of keys in a versioned bucket, oldest step first: ``put`` writes a new version,
#: ``delete`` puts a delete marker on top (a key deleted by a user, an application or a
#: lifecycle rule), the way real buckets hold deleted and re-created documents.
HISTORIES = {
    "docs/live.txt": ("put", "put"),
    "docs/deleted.txt": ("put", "put", "delete"),
    "docs/deleted-once.txt": ("put", "delete"),
    "docs/re-created.txt": ("put", "delete", "put"),
    "docs/ünïcode deleted.txt": ("put", "put", "put", "delete"),
}
PATH_TROUBLE = ("deep/" + "long-segment-" * 23 + "x/report.pdf", "legacy//double-slash.txt")


@dataclass(frozen=True)
class EstateObject:
    """One object of a generated estate."""

    key: str
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    storage_class: str = "STANDARD"


def estate(seed: int, classes: tuple[str, ...] = ("STANDARD",),
           path_trouble: bool = True) -> list[EstateObject]:
    """About 20 objects: every encoded web asset, two documents per template, and (with
    *path_trouble*) the keys a path-keyed target cannot hold; classes cycle *classes*."""
    rng = random.Random(seed)
    objects = []
    for name, content_type, encoding, encoder in ENCODED_ASSETS:
        raw = rng.randbytes(rng.randint(200, 4000))
        body = encoder(raw) if encoder else raw
        objects.append(EstateObject(f"site/static/{name}", body, content_type,
                                    {"content-encoding": encoding}))
    for template, content_type, headers in DOCUMENTS:
        for _ in range(2):
            key = template.format(n=rng.randint(1, 9999))
            objects.append(EstateObject(key, rng.randbytes(rng.randint(0, 30_000)),
                                        content_type, dict(headers), dict(rng.choice(METADATA))))
    if path_trouble:
        objects += [EstateObject(key, rng.randbytes(100), "application/pdf")
                    for key in PATH_TROUBLE]
    unique = list({obj.key: obj for obj in objects}.values())
    return [EstateObject(obj.key, obj.body, obj.content_type, obj.headers, obj.metadata,
                         classes[index % len(classes)])
            for index, obj in enumerate(unique)]


def seed_s3(client, bucket: str, objects) -> None:
    """Put *objects* into an S3 bucket with their content settings and metadata."""
    client.create_bucket(Bucket=bucket)
    for obj in objects:
        put_s3(client, bucket, obj)


def put_s3(client, bucket: str, obj: EstateObject, key: str | None = None) -> None:
    """Put one estate object (under *key*, else its own) with its content settings and
    metadata."""
    settings = {"CacheControl": "cache-control", "ContentDisposition": "content-disposition",
                "ContentEncoding": "content-encoding", "ContentLanguage": "content-language"}
    extra = {name: obj.headers[header] for name, header in settings.items()
             if header in obj.headers}
    client.put_object(Bucket=bucket, Key=key or obj.key, Body=obj.body,
                      ContentType=obj.content_type, Metadata=obj.metadata, **extra)


def seed_versioned_s3(client, bucket: str, sets: int) -> Counter:
    """A versioned bucket of *sets* estates, each under a prefix of its own, whose objects
    were written one to three times (the encoded assets encoded again with new content,
    the documents rewritten); the number of versions of each key."""
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    versions = Counter()
    for number in range(sets):
        first, *rewrites = (estate(seed=number + 1000 * round_, path_trouble=False)
                            for round_ in range(3))
        later = [{obj.key: obj for obj in rewrite} for rewrite in rewrites]
        rng = random.Random(number)
        for index, obj in enumerate(first):
            key = f"set-{number}/{obj.key}"
            for version in range(index % 3 + 1):
                again = later[version - 1].get(obj.key) if version else obj
                body = again.body if again else rng.randbytes(rng.randint(0, 30_000))
                put_s3(client, bucket, replace(obj, body=body), key)
                versions[key] += 1
    return versions
