"""Which adapter and libcloud driver serve each provider kind, and how to open one.

Like libcloud's driver registry: a provider kind names a profile (driver family, default
endpoint, default region, capabilities); :func:`open_source` and :func:`open_target` turn
a spec endpoint into an adapter. EU S3 services differ only in endpoint and region.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

from exitkit.drill.spec import Endpoint, TargetEndpoint
from exitkit.drill.spec_file import Keys
from exitkit.errors import EndpointError
from exitkit.providers.azure import CAPABILITIES as AZURE_CAPABILITIES
from exitkit.providers.azure import AzureRestorer, AzureSource, AzureStore, blob_driver_factory
from exitkit.providers.contract import Capabilities, ObjectSource, ObjectTarget, Restorer
from exitkit.providers.rclone import PROFILE_CAPABILITIES as RCLONE_CAPABILITIES
from exitkit.providers.rclone import RcloneSource, RcloneStore, remote_label
from exitkit.providers.local import CAPABILITIES as LOCAL_CAPABILITIES
from exitkit.providers.local import LocalSource, LocalStore
from exitkit.providers.s3 import DRIVERS, S3Restorer, S3Source, S3Store, split_endpoint

# GCS (google-cloud-storage) and boto3 (bucket settings) are imported where an endpoint
# needs them: a drill between S3 buckets loads neither.
if TYPE_CHECKING:
    from exitkit.providers.bucket_settings import BucketSettingsReader, BucketSettingsWriter


@dataclass(frozen=True)
class S3Profile:
    """How to reach one S3 provider kind, and what it declares it can hold.

    Every profile states its capabilities in full; anything not stated is not held (see
    :class:`Capabilities`). docs/portability.md gives the source of each claim.
    """

    driver: str
    endpoint: str | None
    region: str
    capabilities: Capabilities
    location_constraint: bool = False


ALL_CHECKSUMS = frozenset({"crc32", "crc32c", "crc64nvme", "sha1", "sha256"})
#: What every S3 API offers per object: user metadata, content-type, the standard
#: headers, tags, versioning, 1,024-byte keys, listings in key order, folder markers.
S3_BASICS = Capabilities(user_metadata=True, content_type=True, system_headers=True,
                         tags=True, versioning=True, lists_in_key_order=True,
                         max_key_bytes=1024, directory_markers=True,
                         storage_classes=frozenset({"STANDARD"}))

S3_PROFILES: dict[str, S3Profile] = {
    "aws-s3": S3Profile("aws", "https://s3.{region}.amazonaws.com", "us-east-1", replace(
        S3_BASICS, additional_checksums=ALL_CHECKSUMS, object_lock=True, legal_hold=True,
        website_redirect=True, sse_s3=True, sse_kms=True,
        storage_classes=frozenset({"STANDARD", "STANDARD_IA", "ONEZONE_IA",
                                   "INTELLIGENT_TIERING", "GLACIER", "GLACIER_IR",
                                   "DEEP_ARCHIVE", "REDUCED_REDUNDANCY"})),
        location_constraint=True),
    "minio": S3Profile("compatible", None, "us-east-1", replace(
        S3_BASICS, additional_checksums=frozenset({"sha256"}), object_lock=True,
        legal_hold=True, storage_classes=frozenset({"STANDARD", "REDUCED_REDUNDANCY"}))),
    "seaweedfs": S3Profile("compatible", None, "us-east-1", replace(
        S3_BASICS, additional_checksums=ALL_CHECKSUMS, lists_in_key_order=False,
        path_keys=True, max_segment_bytes=255, object_lock=True, legal_hold=True,
        storage_classes=frozenset({"STANDARD", "STANDARD_IA"}))),
    "ovhcloud": S3Profile("compatible", "https://s3.{region}.io.cloud.ovh.net", "gra",
                          S3_BASICS, location_constraint=True),
    "scaleway": S3Profile("compatible", "https://s3.{region}.scw.cloud", "fr-par", replace(
        S3_BASICS, object_lock=True, legal_hold=True,
        storage_classes=frozenset({"STANDARD", "ONEZONE_IA", "GLACIER"})),
        location_constraint=True),
    "hetzner": S3Profile("compatible", "https://{region}.your-objectstorage.com", "fsn1",
                         replace(S3_BASICS, object_lock=True, legal_hold=True)),
    "ionos": S3Profile("compatible", "https://s3.{region}.ionoscloud.com", "eu-central-3",
                       S3_BASICS),
    "s3-compatible": S3Profile("compatible", None, "us-east-1",
                               replace(S3_BASICS, lists_in_key_order=False)),
}


#: Where GCS's JSON API answers unless the spec names another endpoint (an emulator).
GCS_ENDPOINT = "https://storage.googleapis.com"
#: Azure Blob Storage: the region its prices default to (the endpoint names the account).
AZURE_REGION = "westeurope"


def endpoint_url(endpoint: Endpoint) -> str:
    """The URL a spec endpoint resolves to (its own, or the provider's default)."""
    if endpoint.provider == "local":
        return f"file://{endpoint.path}"
    if endpoint.provider == "gcs":
        return endpoint.endpoint or GCS_ENDPOINT
    if endpoint.provider == "rclone":
        return remote_label(endpoint.rclone)
    if endpoint.provider == "azure-blob":
        return endpoint.endpoint
    profile = S3_PROFILES[endpoint.provider]
    template = endpoint.endpoint or profile.endpoint
    return template.format(region=endpoint.region or profile.region)


def region_of(endpoint: Endpoint) -> str | None:
    """The region the endpoint signs with (None for local and rclone; for GCS the
    bucket's location as the spec states it)."""
    if endpoint.provider in ("local", "rclone"):
        return None
    if endpoint.provider == "gcs":
        return endpoint.region
    if endpoint.provider == "azure-blob":
        return endpoint.region or AZURE_REGION
    return endpoint.region or S3_PROFILES[endpoint.provider].region


def label_of(endpoint: Endpoint) -> str:
    """A short, secret-free name for error messages: ``provider url/bucket``."""
    return f"{endpoint.provider} {endpoint_url(endpoint)}/{endpoint.bucket}"


def _driver_factory(endpoint: Endpoint, keys: Keys):
    profile = S3_PROFILES[endpoint.provider]
    url = endpoint_url(endpoint)
    try:
        secure, host, port = split_endpoint(url)
    except ValueError as exc:
        raise EndpointError(label_of(endpoint), str(exc)) from None
    return partial(DRIVERS[profile.driver], keys.access_key.get_secret_value(),
                   keys.secret_key.get_secret_value(), secure, host, port, region_of(endpoint))


def _azure_driver_factory(endpoint: Endpoint, keys: Keys):
    """Drivers for an Azure endpoint: ``https://<account>.blob.core.windows.net``, or a
    path-style one (Azurite: ``http://host:port/<account>``; the account's name comes from
    the credentials, the path's last segment is that name)."""
    url = endpoint_url(endpoint).rstrip("/")
    base, _, named = url.rpartition("/") if url.count("/") > 2 else (url, "", "")
    account = keys.access_key.get_secret_value()
    if named and named != account:
        raise EndpointError(label_of(endpoint), f"the endpoint's path names account "
                                                f"{named!r}, the credentials another")
    try:
        secure, host, port = split_endpoint(base)
    except ValueError as exc:
        raise EndpointError(label_of(endpoint), str(exc)) from None
    return blob_driver_factory(keys.access_key.get_secret_value(),
                               keys.secret_key.get_secret_value(), keys.sas, secure, host, port)


def open_source(endpoint: Endpoint, keys: Keys | None) -> ObjectSource:
    """Return a read-only adapter for the drill's source."""
    if endpoint.provider == "local":
        return LocalSource(endpoint.path, endpoint.bucket)
    if endpoint.provider == "gcs":
        from exitkit.providers.gcs import GcsSource, gcs_client_factory

        return GcsSource(label_of(endpoint), endpoint.bucket,
                         gcs_client_factory(endpoint_url(endpoint), keys))
    if endpoint.provider == "rclone":
        return RcloneSource(label_of(endpoint), endpoint.rclone, endpoint.bucket, keys)
    if endpoint.provider == "azure-blob":
        return AzureSource(label_of(endpoint), endpoint.bucket,
                           _azure_driver_factory(endpoint, keys))
    profile = S3_PROFILES[endpoint.provider]
    return S3Source(label_of(endpoint), endpoint.bucket, _driver_factory(endpoint, keys),
                    profile.capabilities, endpoint.requester_pays)


def open_restorer(source: ObjectSource) -> Restorer | None:
    """The restores of *source*'s archived objects, or None for a store without archive
    classes (a directory)."""
    if isinstance(source, AzureSource):
        return AzureRestorer(source)
    return S3Restorer(source) if isinstance(source, S3Source) else None


def profile_capabilities(endpoint: Endpoint) -> Capabilities:
    """What the provider's profile declares it holds."""
    if endpoint.provider == "local":
        return LOCAL_CAPABILITIES
    if endpoint.provider == "gcs":
        from exitkit.providers.gcs import CAPABILITIES as GCS_CAPABILITIES

        return GCS_CAPABILITIES
    if endpoint.provider == "rclone":
        return RCLONE_CAPABILITIES
    if endpoint.provider == "azure-blob":
        return AZURE_CAPABILITIES
    return S3_PROFILES[endpoint.provider].capabilities


def open_target(endpoint: TargetEndpoint, keys: Keys | None, part_size: int,
                capabilities: Capabilities | None = None,
                concurrency: int = 1) -> ObjectTarget:
    """Return a writable adapter for the drill's target, with *capabilities* (measured by
    a probe) instead of its profile's when given. Its writes hold at most two upload parts
    per *concurrency* in memory, together."""
    if endpoint.provider == "local":
        store = LocalStore(endpoint.path, endpoint.bucket)
        store.capabilities = capabilities or store.capabilities
        return store
    if endpoint.provider == "gcs":
        from exitkit.providers.gcs import CAPABILITIES as GCS_CAPABILITIES
        from exitkit.providers.gcs import GcsStore, gcs_client_factory

        return GcsStore(label_of(endpoint), endpoint.bucket,
                        gcs_client_factory(endpoint_url(endpoint), keys),
                        capabilities or GCS_CAPABILITIES)
    if endpoint.provider == "rclone":
        return RcloneStore(label_of(endpoint), endpoint.rclone, endpoint.bucket, keys,
                           capabilities)
    if endpoint.provider == "azure-blob":
        return AzureStore(label_of(endpoint), endpoint.bucket,
                          _azure_driver_factory(endpoint, keys),
                          capabilities or AZURE_CAPABILITIES, part_size)
    profile = S3_PROFILES[endpoint.provider]
    return S3Store(label_of(endpoint), endpoint.bucket, _driver_factory(endpoint, keys),
                   capabilities or profile.capabilities, part_size, region_of(endpoint),
                   profile.location_constraint, part_buffers=2 * concurrency)


def _settings_client(endpoint: Endpoint, keys: Keys):
    from exitkit.providers.boto import s3_client

    return s3_client(endpoint_url(endpoint), keys.access_key.get_secret_value(),
                     keys.secret_key.get_secret_value(), region_of(endpoint))


def open_settings_reader(endpoint: Endpoint, keys: Keys | None) -> BucketSettingsReader:
    """The source bucket's configuration, read-only (GET requests only)."""
    from exitkit.providers.bucket_settings import BucketSettingsReader

    return BucketSettingsReader(_settings_client(endpoint, keys), endpoint.bucket,
                                label_of(endpoint))


def open_settings_writer(endpoint: TargetEndpoint,
                         keys: Keys | None) -> BucketSettingsWriter | None:
    """The target bucket's configuration, writable; None for a target that is not an S3
    bucket (a directory, Azure, GCS, an rclone remote)."""
    if endpoint.provider not in S3_PROFILES:
        return None
    from exitkit.providers.bucket_settings import BucketSettingsWriter

    return BucketSettingsWriter(_settings_client(endpoint, keys), endpoint.bucket,
                                label_of(endpoint))
