"""The Azure Blob adapter against Azurite, read back with the azure-storage-blob SDK (an
independent client): content settings, metadata, index tags, Content-MD5, blocks, access
tiers and rehydration, credentials (account key and SAS), and the stated gaps."""

import base64
import gzip
import hashlib
import os
import random
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from azure.storage.blob import (BlobServiceClient, ContainerSasPermissions, ContentSettings,
                                StandardBlobTier, generate_container_sas)
from pydantic import SecretStr, ValidationError

from exitkit.drill.spec import Credentials, Endpoint, TargetEndpoint
from exitkit.drill.spec_file import Keys, load_spec
from exitkit.errors import EndpointError, PermanentError, SpecError, UnreadableError
from exitkit.providers.azure import (CAPABILITIES, MAX_BLOCKS, AzureRestorer, AzureStore,
                                     block_size_for)
from exitkit.providers.contract import Attributes
from exitkit.providers.properties import ObjectProperties
from exitkit.providers.registry import open_restorer, open_source, open_target
from exitkit.redaction import scrub

MIB = 1024 * 1024
CREDS = Credentials(access_key_env="UNUSED_ACCOUNT", secret_key_env="UNUSED_KEY")
#: (key, content type, content settings, metadata, tags, class): a table of what real
#: containers hold; bodies are drawn per row.
BLOB_TABLE = [
    ("docs/Übersicht/résumé – final.pdf", "application/pdf",
     {"content-disposition": 'attachment; filename="resume.pdf"'}, {"owner": "hr"}, {},
     "STANDARD"),
    ("web/site/app.js", "application/javascript",
     {"content-encoding": "gzip", "cache-control": "max-age=86400"}, {"build": "2026_11"},
     {"team": "web"}, "COOL"),
    ("odd/a+b=c & 100%.txt", "text/plain; charset=utf-8", {"content-language": "nl"},
     {"Origin": "odd_names"}, {"Case": "Mixed", "project": "exit"}, "COLD"),
    ("odd/emoji 🚀/ leading space.txt", "text/plain", {}, {}, {}, "STANDARD"),
    ("empty/zero-bytes", "application/octet-stream", {}, {"marker": "true"}, {}, "STANDARD"),
    ("folders/marker/", "application/x-directory", {}, {}, {}, "STANDARD"),
    ("a//double/slash", "text/plain", {}, {}, {}, "STANDARD"),
]
SDK_TIERS = {"STANDARD": "Hot", "COOL": "Cool", "COLD": "Cold", "ARCHIVE": "Archive"}
_containers = iter(range(10**6))


def keys_of(azurite, sas: str | None = None) -> Keys:
    if sas:
        return Keys(SecretStr(azurite.account), SecretStr(sas), sas=True)
    return Keys(SecretStr(azurite.account), SecretStr(azurite.account_key))


def container_name() -> str:
    return f"az{os.getpid()}-{next(_containers)}"


def azure_store(azurite, container: str, part_size: int = 5 * MIB,
                keys: Keys | None = None) -> AzureStore:
    store = open_target(TargetEndpoint(provider="azure-blob", endpoint=azurite.blob_endpoint,
                                       bucket=container, credentials=CREDS),
                        keys or keys_of(azurite), part_size)
    store.prepare(create=True)
    return store


@pytest.fixture(scope="module")
def service(azurite) -> BlobServiceClient:
    """The independent client."""
    return BlobServiceClient.from_connection_string(azurite.connection_string())


def _body(rng: random.Random, key: str) -> bytes:
    if key.endswith(("/", "zero-bytes")):
        return b""
    raw = rng.randbytes(rng.randint(1, 50_000))
    return gzip.compress(raw) if key.endswith(".js") else raw


def _stored(service, container: str, key: str) -> tuple[bytes, object]:
    blob = service.get_blob_client(container, key)
    return blob.download_blob(decompress=False).readall(), blob.get_blob_properties()


def test_what_the_adapter_writes_the_sdk_reads_back(azurite, service):
    """Bytes (SHA-256), content settings, metadata, index tags and access tier of every row
    arrive; the adapter's own HEAD and listing agree, with the Content-MD5 Azure stored."""
    rng = random.Random(14)
    store = azure_store(azurite, container_name())
    bodies = {}
    for key, content_type, settings, metadata, tags, storage_class in BLOB_TABLE:
        body = bodies[key] = _body(rng, key)
        chunks = iter([body[:100], body[100:]])
        result = store.put(key, chunks, len(body), Attributes(
            content_type, settings, metadata, tags, ObjectProperties(storage_class=storage_class)))
        assert result.checksums == {"md5": base64.b64encode(hashlib.md5(body).digest()).decode()}
        stored, props = _stored(service, store.bucket, key)
        assert hashlib.sha256(stored).digest() == hashlib.sha256(body).digest(), key
        assert props.content_settings.content_type == content_type
        assert props.content_settings.content_encoding == settings.get("content-encoding")
        assert props.content_settings.cache_control == settings.get("cache-control")
        assert props.content_settings.content_language == settings.get("content-language")
        assert props.content_settings.content_disposition == settings.get("content-disposition")
        assert {name.lower(): value for name, value in props.metadata.items()} == {
            name.lower(): value for name, value in metadata.items()}
        assert service.get_blob_client(store.bucket, key).get_blob_tags() == tags
        assert props.blob_tier == SDK_TIERS[storage_class]
        head = store.head(key)
        assert head.size == len(body) and head.storage_class == storage_class
        assert head.attributes.metadata == {name.lower(): v for name, v in metadata.items()}
        assert dict(head.attributes.headers) == settings
        assert head.checksums == {"md5": base64.b64encode(props.content_settings.content_md5)
                                  .decode()}
        assert head.tag_count == len(tags) and store.tags(key) == tags
    listed = {info.key: info for info in store.list()}
    assert sorted(listed) == sorted(bodies)
    assert {key: (info.size, info.storage_class) for key, info in listed.items()} == {
        row[0]: (len(bodies[row[0]]), row[5]) for row in BLOB_TABLE}


def test_stored_bytes_are_read_undecoded_and_checked_against_content_md5(azurite, service):
    """A gzip-encoded blob comes back as stored, whatever its encoding; its Content-MD5
    (listing, HEAD and GET) is the MD5 of those stored bytes."""
    container = container_name()
    client = service.get_container_client(container)
    client.create_container()
    valid, invalid = gzip.compress(b"<p>site</p>\n" * 500), os.urandom(3000)
    for key, body in (("site/valid.js", valid), ("site/invalid.js", invalid)):
        client.upload_blob(key, body, content_settings=ContentSettings(
            content_type="application/javascript", content_encoding="gzip"))
    source = open_source(Endpoint(provider="azure-blob", endpoint=azurite.blob_endpoint,
                                  bucket=container, credentials=CREDS), keys_of(azurite))
    for key, body in (("site/valid.js", valid), ("site/invalid.js", invalid)):
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
        with source.open(key) as stream:
            assert b"".join(stream.chunks) == body
            assert stream.info.checksums == {"md5": md5}
            assert stream.info.attributes.headers == {"content-encoding": "gzip"}
        assert [info.checksums for info in source.list(key)] == [{"md5": md5}]


def _streamed_put(store, key: str, size: int) -> tuple[int, object, object, int]:
    """Put *size* bytes streamed in 64 KiB chunks: the peak of Python allocations during
    the put, the SHA-256 and MD5 of what was sent, and the block count."""
    piece, sent, md5 = os.urandom(64 * 1024), hashlib.sha256(), hashlib.md5()

    def chunks():
        for _ in range(size // len(piece)):
            sent.update(piece)
            md5.update(piece)
            yield piece

    tracemalloc.start()
    try:
        result = store.put(key, chunks(), size, Attributes("application/x-tar"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.size == size
    return peak, sent, md5, result.parts


def test_a_large_blob_goes_up_in_blocks_streamed_in_bounded_memory(azurite, service):
    """With 1 MiB blocks, a 24 MiB put allocates no more at its peak than an 8 MiB one (a
    few blocks in flight, far below the blob); the bytes arrive whole (read back and
    hashed) with the whole blob's MD5 committed as its Content-MD5."""
    store = azure_store(azurite, container_name(), part_size=MIB)
    peaks = {}
    for size in (8 * MIB, 24 * MIB):
        peak, sent, md5, blocks = _streamed_put(store, f"big/{size}.bin", size)
        assert blocks == size // MIB
        stored, props = _stored(service, store.bucket, f"big/{size}.bin")
        assert hashlib.sha256(stored).hexdigest() == sent.hexdigest()
        assert bytes(props.content_settings.content_md5) == md5.digest()
        assert props.content_settings.content_type == "application/x-tar"
        peaks[size] = peak
    assert peaks[24 * MIB] - peaks[8 * MIB] < MIB, peaks  # flat: not one block more
    assert peaks[24 * MIB] < 8 * MIB, peaks  # a few blocks, not the blob


def test_a_block_upload_that_breaks_off_leaves_nothing_visible(azurite, service):
    """Blocks already sent stay uncommitted when the source breaks off: no blob appears
    (HEAD, listing, and the SDK), and a later complete put commits only its own blocks."""
    store = azure_store(azurite, container_name(), part_size=MIB)
    body = os.urandom(3 * MIB + 5)

    def broken():
        yield body[:2 * MIB + 7]
        raise ConnectionResetError("source went away mid-blob")

    with pytest.raises(ConnectionResetError):
        store.put("half/blob.bin", broken(), len(body), Attributes())
    assert store.head("half/blob.bin") is None and list(store.list()) == []
    assert list(service.get_container_client(store.bucket).list_blobs()) == []
    result = store.put("half/blob.bin", iter([body]), len(body), Attributes())
    assert result.parts == 4
    stored, _props = _stored(service, store.bucket, "half/blob.bin")
    assert hashlib.sha256(stored).digest() == hashlib.sha256(body).digest()


def test_block_sizes_grow_to_stay_within_50000_blocks():
    assert block_size_for(100 * MIB, 8 * MIB) == 8 * MIB
    huge = 4 * 1024**4  # 4 TiB
    size = block_size_for(huge, 8 * MIB)
    assert size % MIB == 0 and -(-huge // size) <= MAX_BLOCKS


def test_an_archived_blob_is_unreadable_until_rehydrated(azurite, service):
    """Archive tier: GET answers BlobArchived, diagnosed as ``archived`` with the spec's
    restore option; the restorer sees no rehydration, requests one (Set Blob Tier) and
    the blob is then readable (Azurite rehydrates at once) and Hot."""
    container = container_name()
    client = service.get_container_client(container)
    client.create_container()
    body = os.urandom(2048)
    client.upload_blob("finance/2016.pdf", body, standard_blob_tier=StandardBlobTier.ARCHIVE)
    source = open_source(Endpoint(provider="azure-blob", endpoint=azurite.blob_endpoint,
                                  bucket=container, credentials=CREDS), keys_of(azurite))
    assert [info.storage_class for info in source.list()] == ["ARCHIVE"]
    with pytest.raises(UnreadableError) as caught:
        with source.open("finance/2016.pdf"):
            pass
    assert caught.value.kind == "archived"
    assert "ARCHIVE: needs a restore" in str(caught.value) and "restore:" in str(caught.value)
    restorer = open_restorer(source)
    assert isinstance(restorer, AzureRestorer)
    assert restorer.restore_status("finance/2016.pdf").state == "none"
    assert restorer.request_restore("finance/2016.pdf", None, 7, "standard").state in (
        "ready", "ongoing")
    assert restorer.restore_status("finance/2016.pdf").state == "ready"
    assert source.requests.snapshot().restores == 1
    with source.open("finance/2016.pdf") as stream:
        assert b"".join(stream.chunks) == body
    assert client.get_blob_client("finance/2016.pdf").get_blob_properties().blob_tier == "Hot"


def test_a_sas_token_reads_and_writes_and_a_wrong_key_names_the_endpoint(azurite, service):
    container = container_name()
    service.get_container_client(container).create_container()
    sas = generate_container_sas(azurite.account, container, account_key=azurite.account_key,
                                 permission=ContainerSasPermissions(read=True, write=True,
                                                                    list=True, delete=True,
                                                                    tag=True),
                                 expiry=datetime.now(UTC) + timedelta(hours=1))
    store = azure_store(azurite, container, keys=keys_of(azurite, sas))
    store.put("via/sas.txt", iter([b"sas"]), 3, Attributes("text/plain", tags={"k": "v"}))
    assert [info.key for info in store.list()] == ["via/sas.txt"]
    assert _stored(service, container, "via/sas.txt")[0] == b"sas"
    read_only = generate_container_sas(azurite.account, container,
                                       account_key=azurite.account_key,
                                       permission=ContainerSasPermissions(read=True, list=True),
                                       expiry=datetime.now(UTC) + timedelta(hours=1))
    limited = azure_store(azurite, container, keys=keys_of(azurite, read_only))
    with pytest.raises(PermanentError, match="lack permission"):
        limited.put("via/refused.txt", iter([b"x"]), 1, Attributes())
    wrong = Keys(SecretStr(azurite.account),
                 SecretStr(base64.b64encode(b"wrong-account-key-value").decode()))
    source = open_source(Endpoint(provider="azure-blob", endpoint=azurite.blob_endpoint,
                                  bucket=container, credentials=CREDS), wrong)
    with pytest.raises(EndpointError, match="check the credentials") as caught:
        source.check()
    assert "wrong-account-key" not in str(caught.value) and str(wrong.secret_key) not in str(
        caught.value)
    assert azurite.blob_endpoint in str(caught.value)


def test_sas_and_shared_key_signatures_are_scrubbed():
    text = ("GET http://127.0.0.1/acct/c/k?sv=2021-12-02&sig=abc%2Fdef%3D&se=2027 failed; "
            "Authorization: SharedKey devstoreaccount1:q0Zc+/9x=")
    assert scrub(text) == ("GET http://127.0.0.1/acct/c/k?sv=2021-12-02&sig=***&se=2027 "
                           "failed; Authorization: SharedKey devstoreaccount1:***")


def test_credentials_come_from_variable_names_and_sas_is_azure_only(tmp_path, azurite):
    spec = tmp_path / "drill.yaml"
    spec.write_text(f"""version: 1
name: azure-creds
source:
  provider: azure-blob
  endpoint: {azurite.blob_endpoint}
  bucket: c
  credentials: {{access_key_env: AZ_ACCOUNT, sas_token_env: AZ_SAS}}
target:
  provider: local
  path: {tmp_path}
  bucket: t
""", encoding="utf-8")
    loaded = load_spec(spec, {"AZ_ACCOUNT": azurite.account, "AZ_SAS": "sv=2021&sig=abc"})
    assert loaded.source_keys.sas and loaded.source_keys.secret_key.get_secret_value() == \
        "sv=2021&sig=abc"
    with pytest.raises(SpecError, match="AZ_SAS is not set"):
        load_spec(spec, {"AZ_ACCOUNT": azurite.account})
    with pytest.raises(ValidationError, match="'sas_token_env' is for provider 'azure-blob'"):
        Endpoint(provider="aws-s3", bucket="b", credentials=Credentials(
            access_key_env="A", sas_token_env="S"))
    with pytest.raises(ValidationError, match="exactly one of"):
        Credentials(access_key_env="A", secret_key_env="B", sas_token_env="S")
    with pytest.raises(ValidationError, match="needs 'endpoint'"):
        Endpoint(provider="azure-blob", bucket="b", credentials=CREDS)


def test_metadata_azure_cannot_hold_fails_with_the_reason(azurite):
    store = azure_store(azurite, container_name())
    with pytest.raises(PermanentError, match="metadata name 'original-name' is not valid on "
                                             "Azure"):
        store.put("k", iter([b"x"]), 1, Attributes(metadata={"original-name": "a.txt"}))
    with pytest.raises(PermanentError, match="the value of metadata 'city' is not ASCII"):
        store.put("k", iter([b"x"]), 1, Attributes(metadata={"city": "Zürich"}))
    assert store.head("k") is None
    with pytest.raises(EndpointError, match="the endpoint's path names account 'other'"):
        open_source(Endpoint(provider="azure-blob", endpoint=azurite.endpoint + "/other",
                             bucket="c", credentials=CREDS), keys_of(azurite))


def test_the_stated_gaps_hold_on_azurite(azurite, service):
    """Azurite keeps no blob versions (so the profile declares none) and no Expires header
    (so the five standard headers are not claimed)."""
    container = container_name()
    client = service.get_container_client(container)
    client.create_container()
    client.upload_blob("v", b"one")
    client.upload_blob("v", b"two", overwrite=True)
    assert [blob.version_id for blob in client.list_blobs(include=["versions"])] == [None]
    assert not CAPABILITIES.versioning and not CAPABILITIES.system_headers
    assert not CAPABILITIES.object_lock and not CAPABILITIES.legal_hold
