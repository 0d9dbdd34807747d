"""The copy HEADs each object right after writing it; verification reuses that read-back
only while the target's listing still shows the same write, and reads again whatever can
change without a new write (tags here; retention and legal holds in
tests/test_properties.py).

Servers: moto_server (source) and SeaweedFS (target)."""

import time
from contextlib import contextmanager
from dataclasses import replace

import pytest

from exitkit.api import run_drill
from exitkit.drill.copy import CopiedObject
from exitkit.drill.events import SilentObserver
from exitkit.drill.journal import CopyJournal, JournalHeader
from exitkit.providers.contract import Attributes, ObjectInfo
from exitkit.providers.properties import ObjectProperties
from exitkit.verify.writes import same_write
from tests.estates import estate, seed_s3

LISTED = ObjectInfo("docs/a.pdf", 2048, "5d41402abc4b2a76b9719d911017c592",
                    "2026-12-03T18:00:00.734Z", storage_class="STANDARD")
#: The HEAD of that write as S3 answers it (Last-Modified in whole seconds).
HEAD = LISTED._replace(last_modified="2026-12-03T18:00:00+00:00")

#: (what the listing shows instead, what the HEAD showed instead, the same write?)
SAME_WRITE_CASES = [
    ({}, {}, True),
    ({"last_modified": "2026-12-03T18:00:00Z"}, {}, True),
    ({"version_id": "v2"}, {"version_id": "v2"}, True),
    ({}, {"version_id": "v1"}, True),  # a latest-only listing names no version
    ({"storage_class": None}, {}, True),  # a store that lists no classes
    ({"etag": "7d793037a0760186574b0282f2f435e7"}, {}, False),
    ({"size": 2049}, {}, False),
    ({"last_modified": "2026-12-03T18:00:01.002Z"}, {}, False),
    ({"version_id": "v2"}, {"version_id": "v1"}, False),
    ({"storage_class": "GLACIER"}, {}, False),
    ({"last_modified": None}, {}, False),
    ({}, {"last_modified": None}, False),
    ({"last_modified": "2026-12-03T18:00:00"}, {}, False),  # no zone: not comparable
    ({"last_modified": "yesterday"}, {}, False),
]


@pytest.mark.parametrize("listed_changes, head_changes, expected", SAME_WRITE_CASES)
def test_a_read_back_applies_only_to_the_write_the_listing_still_shows(
        listed_changes, head_changes, expected):
    assert same_write(HEAD._replace(**head_changes), LISTED._replace(**listed_changes)) is expected


def test_the_journal_keeps_each_read_back_as_it_was_read(tmp_path):
    documents = estate(seed=8, path_trouble=False)
    copied = {}
    for age, obj in enumerate(documents):
        attributes = Attributes(content_type=obj.content_type, headers=obj.headers,
                                metadata=obj.metadata)
        head = ObjectInfo(obj.key, len(obj.body), f"{age:032x}", "2026-12-03T18:00:00+00:00",
                          version_id=f"v{age}" if age % 2 else None,
                          attributes=replace(attributes, properties=ObjectProperties(
                              redirect="/moved.html" if age % 3 == 0 else None,
                              encryption="AES256" if age % 4 == 0 else "none",
                              storage_class=obj.storage_class,
                              checksum_algorithm="crc32c" if age % 5 == 0 else None,
                              checksum_type="FULL_OBJECT" if age % 5 == 0 else None)),
                          checksums={"crc32c": "yZRlqg=="} if age % 5 == 0 else None,
                          tag_count=0, storage_class=obj.storage_class)
        copied[(obj.key, 0)] = CopiedObject(
            size=len(obj.body), sha256="ab" * 32, source_etag=head.etag, attributes=attributes,
            checksums={}, parts=1, target_key=obj.key, validated=True,
            read_back=head if age % 7 else None)
    path = tmp_path / "journal.sqlite"
    journal = CopyJournal(path, JournalHeader("drill", "00" * 32, "run", "2026-12-03"))
    for order, obj in copied.items():
        journal[order] = obj
    journal.close(remove=False)
    reopened = CopyJournal(path, None)
    try:
        assert dict(reopened.items()) == copied
    finally:
        reopened.close(remove=False)


class ChangeTargetBeforeVerifying(SilentObserver):
    """Between copy and verification: rewrites one object's metadata on the target (a new
    write, a second later) and retags another in place (no new write)."""

    def __init__(self, client, bucket: str, rewritten: str, retagged: str) -> None:
        self.client, self.bucket = client, bucket
        self.rewritten, self.retagged = rewritten, retagged

    def phase_started(self, phase, total_objects, total_bytes):
        if phase != "verify":
            return
        time.sleep(1.1)  # Last-Modified has whole seconds
        self.client.copy_object(Bucket=self.bucket, Key=self.rewritten,
                                CopySource={"Bucket": self.bucket, "Key": self.rewritten},
                                MetadataDirective="REPLACE", ContentType="text/plain",
                                Metadata={"changed": "after the copy"})
        self.client.put_object_tagging(Bucket=self.bucket, Key=self.retagged, Tagging={
            "TagSet": [{"Key": "retention", "Value": "1y"}]})


@pytest.fixture
def tagged_estate(source_client, bucket_name):
    """Real-bucket-shaped documents and encoded assets, plus two tagged records."""
    bucket = bucket_name("src")
    objects = estate(seed=31, path_trouble=False)
    seed_s3(source_client, bucket, objects)
    for key in ("records/tagged-1.json", "records/tagged-2.json"):
        source_client.put_object(Bucket=bucket, Key=key, Body=b'{"kept": true}',
                                 Tagging="retention=7y&owner=legal")
    return bucket, [obj.key for obj in objects]


def test_verification_reuses_each_read_back_and_reads_tagged_objects_again(
        tagged_estate, write_spec, server_env, tmp_path, bucket_name):
    bucket, plain = tagged_estate
    result = run_drill(write_spec(bucket, bucket_name("tgt")), tmp_path, environ=server_env)
    record = result.record
    assert record.verdict == "passed", record.verification.differences
    assert record.verification.counts["matched"] == len(plain) + 2
    # every untagged object's HEAD came from the copy: its Last-Modified second in
    # SeaweedFS's listing is the one its HEAD gave
    assert record.verification.read_back_objects == len(plain)
    # one HEAD per object: at the copy, or (with GetObjectTagging) at verification for
    # the tagged two, which the copy does not read back
    assert record.requests["target"].reads == len(plain) + 2 * 2


def test_a_change_on_the_target_after_the_copy_is_caught_not_hidden_by_the_read_back(
        tagged_estate, write_spec, server_env, tmp_path, bucket_name, target_client):
    bucket, plain = tagged_estate
    target_bucket = bucket_name("tgt")
    rewritten = sorted(plain)[3]
    observer = ChangeTargetBeforeVerifying(target_client, target_bucket, rewritten,
                                           "records/tagged-2.json")
    result = run_drill(write_spec(bucket, target_bucket), tmp_path, environ=server_env,
                       observer=observer)
    verification = result.record.verification
    assert result.exit_code == 1
    found = {difference.key: difference for difference in verification.differences}
    assert set(found) == {rewritten, "records/tagged-2.json"}
    assert found[rewritten].kind == "metadata_differs"
    assert "changed" in found[rewritten].detail
    assert "retention" in found["records/tagged-2.json"].detail
    assert verification.counts["matched"] == len(plain) + 2 - 2
    assert verification.read_back_objects == len(plain) - 1


@pytest.mark.parametrize("verification, most_reads", [
    ("verification:\n  metadata: false\n  properties: false\n", 0),
    ("verification:\n  sample:\n    count: 5\n    seed: 3\n", 5 + 2),
], ids=["etags-only", "sampled"])
def test_drills_that_head_few_target_objects_read_nothing_back(
        tagged_estate, write_spec, server_env, tmp_path, bucket_name, verification, most_reads):
    bucket, plain = tagged_estate
    spec = write_spec(bucket, bucket_name("tgt"), extra=verification)
    record = run_drill(spec, tmp_path, environ=server_env).record
    assert record.verdict == "passed", record.verification.differences
    assert record.verification.read_back_objects == 0
    # etags only: nothing; sampled: a HEAD per drawn object (and tags, if it is tagged)
    assert record.requests["target"].reads <= most_reads


def test_read_backs_hold_no_transfer_slot_and_transfers_stay_within_the_concurrency(
        tagged_estate, write_spec, server_env, tmp_path, bucket_name, monkeypatch):
    """At most ``concurrency`` (4) transfers, GET to completed write, are in flight; a
    read-back HEAD runs beside them, so a worker's next GET does not wait for it. The
    first read-back waits (up to 5 s) for all four transfer slots to be taken meanwhile,
    which cannot happen while a read-back holds one."""
    import threading

    from exitkit.providers.s3 import S3Source, S3Store

    bucket, plain = tagged_estate
    target_bucket = bucket_name("tgt")
    lock, transfers, peak = threading.Lock(), [0], [0]
    full_beside_a_read_back = threading.Event()
    source_open, target_head = S3Source.open, S3Store.head

    @contextmanager
    def counted_open(self, key, version_id=None):  # instrumentation, not a mock
        if self.bucket != bucket:
            with source_open(self, key, version_id) as stream:
                yield stream
            return
        with lock:
            transfers[0] += 1
            peak[0] = max(peak[0], transfers[0])
        try:
            with source_open(self, key, version_id) as stream:
                yield stream  # the copy writes to the target inside this block
        finally:
            with lock:
                transfers[0] -= 1

    def waiting_head(self, key, version_id=None):
        deadline = time.monotonic() + 5
        while not full_beside_a_read_back.is_set() and time.monotonic() < deadline:
            if transfers[0] == 4:
                full_beside_a_read_back.set()
            time.sleep(0.002)
        return target_head(self, key, version_id)

    monkeypatch.setattr(S3Source, "open", counted_open)
    monkeypatch.setattr(S3Store, "head", waiting_head)
    record = run_drill(write_spec(bucket, target_bucket), tmp_path, environ=server_env).record
    assert record.verdict == "passed", record.verification.differences
    assert record.verification.counts["matched"] == len(plain) + 2
    assert record.verification.read_back_objects == len(plain)
    assert full_beside_a_read_back.is_set()
    assert peak[0] == 4
