"""Provider adapters against real servers: listing, odd keys, metadata, libcloud fixes."""

import hashlib
import os
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from urllib.parse import urlsplit

import pytest

from exitkit.drill.spec import Credentials, Endpoint, TargetEndpoint
from exitkit.drill.spec_file import Keys
from exitkit.errors import EndpointError
from exitkit.providers.contract import Attributes, Capabilities, key_problem
from exitkit.providers.local import LocalStore
from exitkit.providers.registry import open_source, open_target
from exitkit.providers.boto import s3_client
from exitkit.providers.s3 import part_size_for, split_endpoint
from pydantic import SecretStr
from tests.faultproxy import FaultProxy, Faults

MIB = 1024 * 1024
ODD_KEYS = ["docs/Übersicht/résumé – final.txt", "docs/日本語/ファイル.csv", "odd/a+b=c.txt",
            "odd/100%-done.txt", "odd/already%20encoded.txt", "odd/plus+and space+mixed.txt",
            "odd/ leading space.txt", "odd/emoji 🚀.txt", "empty/zero-bytes", "folder/marker/"]
CREDS = Credentials(access_key_env="UNUSED_A", secret_key_env="UNUSED_B")


def keys_of(server) -> Keys:
    return Keys(SecretStr(server.access_key), SecretStr(server.secret_key))


def seaweed_target(seaweed, bucket, provider="seaweedfs", **extra):
    endpoint = TargetEndpoint(provider=provider, endpoint=seaweed.endpoint, bucket=bucket,
                              credentials=CREDS, create_bucket=True, **extra)
    store = open_target(endpoint, keys_of(seaweed), part_size=5 * MIB)
    store.prepare(create=True)
    return store


def moto_source(moto, bucket):
    endpoint = Endpoint(provider="aws-s3", endpoint=moto.endpoint, region="us-east-1",
                        bucket=bucket, credentials=CREDS)
    return open_source(endpoint, keys_of(moto))


def put_bytes(store, key, body, content_type="application/octet-stream", metadata=None):
    chunks = iter([body[i:i + 65536] for i in range(0, len(body), 65536)] or [b""])
    return store.put(key, chunks, len(body), Attributes(content_type, metadata=metadata or {}))


def read_all(store, key):
    with store.open(key) as stream:
        return stream.info, b"".join(stream.chunks)


def test_source_adapter_is_read_only_by_construction(moto, source_client, bucket_name):
    bucket = bucket_name("ro")
    source_client.create_bucket(Bucket=bucket)
    source = moto_source(moto, bucket)
    for method in ("put", "remove", "prepare"):
        assert not hasattr(source, method)


def bucket_of_keys(client, bucket: str, keys) -> None:
    """Create *bucket* holding *keys*, each object's body its key."""
    client.create_bucket(Bucket=bucket)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: client.put_object(Bucket=bucket, Key=k, Body=k.encode()),
                      keys))


@pytest.mark.parametrize("server_name", ["moto", "seaweed"])
def test_listing_pages_beyond_1000_keys(request, server_name, bucket_name):
    server = request.getfixturevalue(server_name)
    client = s3_client(server.endpoint, server.access_key, server.secret_key)
    bucket = bucket_name("page")
    expected = {f"p/{i:04d}/k-{i}" for i in range(1105)}
    bucket_of_keys(client, bucket, expected)
    client.put_object(Bucket=bucket, Key="outside/prefix", Body=b"x")
    store = (moto_source(moto=server, bucket=bucket) if server_name == "moto"
             else seaweed_target(server, bucket))
    listed = [info.key for info in store.list("p/")]
    assert len(listed) == 1105
    assert set(listed) == expected
    sizes = {info.key: info.size for info in store.list("p/")}
    assert all(sizes[key] == len(key) for key in expected)


def test_a_store_that_answers_listobjects_v1_is_paged_with_markers(moto, bucket_name):
    """The listing asks for ListObjectsV2 and pages on with ``start-after``; a store that
    answers V1 instead (here moto_server behind a proxy that drops ``list-type=2``)
    ignores ``start-after``, so the listing must notice and page on with ``marker``."""
    bucket = bucket_name("v1")
    expected = {f"p/{i:04d}" for i in range(1105)}
    bucket_of_keys(s3_client(moto.endpoint, moto.access_key, moto.secret_key), bucket, expected)
    faults = Faults(list_version_1=True)
    with FaultProxy(int(urlsplit(moto.endpoint).port), faults) as proxy:
        endpoint = Endpoint(provider="aws-s3", endpoint=proxy.endpoint, region="us-east-1",
                            bucket=bucket, credentials=CREDS)
        listed = [info.key for info in islice(open_source(endpoint, keys_of(moto)).list(),
                                              2 * len(expected))]
    assert len(listed) == len(expected) and set(listed) == expected


def test_odd_keys_and_metadata_round_trip_on_seaweedfs(seaweed, bucket_name):
    store = seaweed_target(seaweed, bucket_name("odd"))
    for i, key in enumerate(ODD_KEYS):
        body = b"" if key.endswith(("/", "zero-bytes")) else f"{i}:{key}".encode()
        metadata = {} if key.endswith("/") else {"origin": "test", "index": str(i)}
        result = put_bytes(store, key, body, "text/plain; charset=utf-8", metadata)
        assert result.size == len(body)
        info, got = read_all(store, key)
        assert got == body
        assert info.attributes.content_type == "text/plain; charset=utf-8"
        assert info.attributes.metadata == metadata
        head = store.head(key)
        assert head.size == len(body) and head.attributes.metadata == metadata
    assert sorted(info.key for info in store.list()) == sorted(ODD_KEYS)


def test_multipart_put_sizes_parts_and_is_byte_exact(seaweed, bucket_name):
    store = seaweed_target(seaweed, bucket_name("mp"))
    body = os.urandom(12 * MIB + 12345)
    result = put_bytes(store, "big/object.bin", body, metadata={"kind": "multipart"})
    assert result.parts == 3
    assert result.etag.endswith("-3")
    info, got = read_all(store, "big/object.bin")
    assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest()
    assert info.attributes.metadata == {"kind": "multipart"}


def test_part_size_grows_to_stay_within_10000_parts():
    assert part_size_for(100 * MIB, 8 * MIB) == 8 * MIB
    huge = 200 * 1024**3
    size = part_size_for(huge, 8 * MIB)
    assert size % MIB == 0 and -(-huge // size) <= 10_000


def test_seaweedfs_lists_through_the_adapter(seaweed, bucket_name):
    """libcloud adds ?Version=2006-03-01 to signed GETs, and SeaweedFS answers 501 to such a
    listing; the adapter lists without it (whatever libcloud's own driver does)."""
    store = seaweed_target(seaweed, bucket_name("ver"))
    for key in ("k", "p/one", "p/two"):
        put_bytes(store, key, key.encode())
    assert [info.key for info in store.list()] == ["k", "p/one", "p/two"]
    assert [(info.key, info.size) for info in store.list("p/")] == [("p/one", 5), ("p/two", 5)]


def test_minio_profile_signs_with_a_region_and_keeps_hosts_apart(moto, seaweed, bucket_name,
                                                                 source_client):
    """libcloud's MinIO driver signs with region '' and keeps the host on the class; the
    adapter signs with a region and keeps each store's host its own."""
    bucket = bucket_name("minio")
    minio_on_seaweed = seaweed_target(seaweed, bucket, provider="minio")
    source_client.create_bucket(Bucket=bucket)
    minio_on_moto = open_target(
        TargetEndpoint(provider="minio", endpoint=moto.endpoint, bucket=bucket, credentials=CREDS),
        keys_of(moto), part_size=5 * MIB)
    assert minio_on_seaweed._driver().region_name == "us-east-1"
    put_bytes(minio_on_seaweed, "which", b"seaweed")
    put_bytes(minio_on_moto, "which", b"moto")
    assert read_all(minio_on_seaweed, "which")[1] == b"seaweed"
    assert read_all(minio_on_moto, "which")[1] == b"moto"
    assert source_client.get_object(Bucket=bucket, Key="which")["Body"].read() == b"moto"


def test_missing_bucket_and_wrong_credentials_name_the_endpoint(moto, seaweed, bucket_name):
    with pytest.raises(EndpointError, match=r"seaweedfs http://127\.0\.0\.1:\d+/nope-bucket: "
                                            r"bucket 'nope-bucket' does not exist"):
        open_target(TargetEndpoint(provider="seaweedfs", endpoint=seaweed.endpoint,
                                   bucket="nope-bucket", credentials=CREDS),
                    keys_of(seaweed), 5 * MIB).prepare(create=False)
    bad = Keys(SecretStr(seaweed.access_key), SecretStr("wrong-secret-value"))
    store = open_target(TargetEndpoint(provider="seaweedfs", endpoint=seaweed.endpoint,
                                       bucket="anything", credentials=CREDS), bad, 5 * MIB)
    with pytest.raises(EndpointError, match="access denied") as caught:
        store.check()
    assert "wrong-secret-value" not in str(caught.value)


def test_key_problems_for_path_like_stores():
    seaweed = Capabilities(path_keys=True, max_segment_bytes=255, max_key_bytes=1024,
                           directory_markers=True)
    flat = Capabilities(max_key_bytes=1024)
    assert key_problem("a/b c+d%e.txt", seaweed) is None
    assert "empty" in key_problem("a//b", seaweed)
    assert "empty" in key_problem("/lead", seaweed)
    assert "'..'" in key_problem("a/../b", seaweed)
    assert "255" in key_problem("x/" + "é" * 128, seaweed)
    assert "1024" in key_problem("k" * 1025, flat)
    assert key_problem("a//b", flat) is None
    assert key_problem("a", Capabilities()) is not None  # undeclared: holds no key at all
    assert key_problem("dir/", seaweed) is None
    assert "folder" in key_problem("dir/", Capabilities(path_keys=True, max_key_bytes=1024))


def test_local_store_never_shows_a_partial_object(tmp_path):
    store = LocalStore(str(tmp_path), "bucket")
    store.prepare(create=True)

    def broken():
        yield b"first part"
        raise ConnectionResetError("source went away")

    with pytest.raises(ConnectionResetError):
        store.put("dir/file.bin", broken(), 100, Attributes())
    assert store.head("dir/file.bin") is None
    assert list(store.list()) == []
    put_bytes(store, "dir/file.bin", b"complete")
    assert read_all(store, "dir/file.bin")[1] == b"complete"
    assert [info.key for info in store.list()] == ["dir/file.bin"]


def test_split_endpoint():
    assert split_endpoint("http://127.0.0.1:9000") == (False, "127.0.0.1", 9000)
    assert split_endpoint("s3.fr-par.scw.cloud") == (True, "s3.fr-par.scw.cloud", None)
    with pytest.raises(ValueError):
        split_endpoint("ftp://x")


def streamed_put_peak(store, key: str, size: int) -> tuple[int, str, int]:
    """Put *size* bytes streamed in 64 KiB chunks; the peak of Python allocations during
    the put, the SHA-256 of what was sent, and the part count."""
    block = os.urandom(64 * 1024)
    sent = hashlib.sha256()

    def chunks():
        for _ in range(size // len(block)):
            sent.update(block)
            yield block

    tracemalloc.start()
    try:
        result = store.put(key, chunks(), size, Attributes())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, sent.hexdigest(), result.parts


def test_a_multipart_put_holds_a_few_parts_in_memory_whatever_the_size(seaweed, bucket_name):
    """With 5 MiB parts, a 90 MiB put allocates no more at its peak than a 30 MiB one (the
    part being sent, the next being filled and their transient copies), far below the
    object; the bytes arrive whole (read back with boto3 and hashed)."""
    from exitkit.providers.boto import s3_client

    store = seaweed_target(seaweed, bucket_name("mem"))
    client = s3_client(seaweed.endpoint, seaweed.access_key, seaweed.secret_key)
    peaks = {}
    for size in (30 * MIB, 90 * MIB):
        peak, sent, parts = streamed_put_peak(store, f"big/{size}.bin", size)
        assert parts == size // (5 * MIB)
        body = client.get_object(Bucket=store.bucket, Key=f"big/{size}.bin")["Body"]
        digest = hashlib.sha256()
        for piece in iter(lambda: body.read(MIB), b""):
            digest.update(piece)
        assert digest.hexdigest() == sent
        peaks[size] = peak
    assert peaks[90 * MIB] - peaks[30 * MIB] < 5 * MIB, peaks  # flat: not one part more
    assert peaks[90 * MIB] < 6 * 5 * MIB, peaks  # a few parts, not the object


def test_parts_of_one_upload_go_up_in_parallel_in_order_and_within_the_part_buffers(
        seaweed, bucket_name):
    """A store for two writers (four part buffers) sends up to three parts of one upload at
    once; the object arrives whole, its parts in order (the multipart ETag S3 computes from
    the parts' MD5s in order), read back with boto3."""
    import threading

    from exitkit.providers.boto import s3_client

    endpoint = TargetEndpoint(provider="seaweedfs", endpoint=seaweed.endpoint,
                              bucket=bucket_name("parallel"), credentials=CREDS,
                              create_bucket=True)
    store = open_target(endpoint, keys_of(seaweed), part_size=5 * MIB, concurrency=2)
    store.prepare(create=True)
    body = os.urandom(4 * 5 * MIB + 12345)
    in_flight, peak, lock = [0], [0], threading.Lock()
    send = store._request

    def counted(what, *args, **kwargs):  # instrumentation of our adapter, not a mock
        if " part " not in what:
            return send(what, *args, **kwargs)
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        try:
            return send(what, *args, **kwargs)
        finally:
            with lock:
                in_flight[0] -= 1

    store._request = counted
    chunks = (body[offset:offset + 700_001] for offset in range(0, len(body), 700_001))
    result = store.put("parallel/object.bin", chunks, len(body), Attributes())
    parts = [body[offset:offset + 5 * MIB] for offset in range(0, len(body), 5 * MIB)]
    expected = hashlib.md5(b"".join(hashlib.md5(part).digest() for part in parts)).hexdigest()
    assert result.parts == 5 and result.etag == f"{expected}-5"
    assert 2 <= peak[0] <= 3, peak
    client = s3_client(seaweed.endpoint, seaweed.access_key, seaweed.secret_key)
    stored = client.get_object(Bucket=store.bucket, Key="parallel/object.bin")["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(body).hexdigest()
