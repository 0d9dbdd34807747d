"""The drill spec model: what to copy from where to where, and what must hold afterwards."""

import re
from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from exitkit.drill.inventory_report import ReportLocation
from exitkit.drill.scope_spec import Scope
from exitkit.drill.spec_base import (ENV_NAME, Credentials, Duration, Euros, Percent, Size,
                                     Strict, refuse_sas)
from exitkit.drill.vm_spec import VmSection
from exitkit.drill.workload_spec import Workloads
from exitkit.evidence.retention import RETENTION_CLASSES, RetentionClassName

SPEC_VERSION = 1

S3_PROVIDERS = ("aws-s3", "minio", "seaweedfs", "ovhcloud", "scaleway", "hetzner", "ionos",
                "s3-compatible")
ProviderKind = Literal["aws-s3", "minio", "seaweedfs", "ovhcloud", "scaleway", "hetzner",
                       "ionos", "s3-compatible", "local", "azure-blob", "gcs", "rclone"]


class ServiceAccount(Strict):
    """Google Cloud credentials: the name of the environment variable that holds a
    service-account key (its JSON text, or the path of its JSON file)."""

    service_account_env: str = Field(pattern=ENV_NAME)


class RcloneRemote(Strict):
    """An rclone remote: defined here (``type`` and ``parameters``, secrets by environment
    variable name in ``secret_env``) or named in an rclone.conf (``config`` and ``remote``)."""

    type: str | None = Field(default=None, description="rclone backend, e.g. sftp, webdav, "
                             "drive, onedrive, swift, smb")
    parameters: dict[str, str] = Field(default_factory=dict, description="backend options "
                                       "as in rclone.conf (no secrets)")
    secret_env: dict[str, str] = Field(default_factory=dict, description="backend option -> "
                                       "environment variable that holds its value")
    config: str | None = Field(default=None, description="rclone.conf path, relative to the "
                               "spec")
    remote: str | None = Field(default=None, description="remote name in that rclone.conf")

    @model_validator(mode="after")
    def _one_definition(self) -> "RcloneRemote":
        if bool(self.type) == bool(self.config and self.remote):
            raise ValueError("give either 'type' (with 'parameters') or 'config' and 'remote'")
        if self.config and (self.parameters or self.secret_env):
            raise ValueError("a remote from 'config' takes no 'parameters' or 'secret_env'")
        for option, variable in self.secret_env.items():
            if not re.fullmatch(ENV_NAME, variable):
                raise ValueError(f"secret_env.{option}: not an environment variable name")
        return self


class Endpoint(Strict):
    """One side of a drill: a bucket (and optional prefix) at a provider."""

    provider: ProviderKind
    endpoint: str | None = Field(default=None, description="URL; defaults from the provider")
    region: str | None = None
    bucket: str = Field(min_length=1)
    prefix: str = ""
    path: str | None = Field(default=None, description="base directory, for provider 'local'")
    credentials: Credentials | ServiceAccount | None = None
    rclone: RcloneRemote | None = Field(default=None, description="the remote, for provider "
                                        "'rclone' (bucket is the path on it)")
    catalog: str | None = Field(default=None, description="catalog entry for prices; default "
                                                          "from provider and region")
    requester_pays: bool = Field(default=False, description="read a Requester Pays bucket, "
                                 "accepting its charges (x-amz-request-payer: requester)")

    @model_validator(mode="after")
    def _provider_fields(self) -> "Endpoint":
        if (self.provider == "rclone") != (self.rclone is not None):
            raise ValueError("provider 'rclone' needs 'rclone' (the remote), and only it")
        if isinstance(self.credentials, ServiceAccount) != (self.provider == "gcs"
                                                              and self.credentials is not None):
            raise ValueError("'service_account_env' credentials are for provider 'gcs'")
        if self.provider == "local":
            if not self.path:
                raise ValueError("provider 'local' needs 'path' (a base directory)")
        elif self.credentials is None and self.provider not in ("gcs", "rclone"):
            raise ValueError(f"provider {self.provider!r} needs 'credentials'")
        if self.provider in ("minio", "seaweedfs", "s3-compatible", "azure-blob") and \
                not self.endpoint:
            raise ValueError(f"provider {self.provider!r} needs 'endpoint'")
        if self.provider != "azure-blob" and isinstance(self.credentials, Credentials):
            refuse_sas(self.credentials, f"provider {self.provider!r}")
        elif self.requester_pays:
            raise ValueError("'requester_pays' is an S3 setting; provider 'azure-blob' has none")
        return self


class TargetEncryption(Strict):
    """Server-side encryption every copy gets on the target, verified per object."""

    type: Literal["sse-s3", "sse-kms"]
    kms_key_id: str | None = Field(default=None, description="the target's KMS key, for sse-kms")

    @model_validator(mode="after")
    def _key_for_kms(self) -> "TargetEncryption":
        if (self.type == "sse-kms") != bool(self.kms_key_id):
            raise ValueError("sse-kms needs 'kms_key_id'; sse-s3 takes none")
        return self


class TargetEndpoint(Endpoint):
    """The target side, which a drill may create when it is missing."""

    create_bucket: bool = False
    allow_foreign_data: bool = Field(default=False, description="run even when the target "
                                     "bucket holds data outside the drill's prefix")
    storage_classes: dict[str, str] = Field(
        default_factory=dict, description="source storage class -> target storage class")
    encryption: TargetEncryption | None = None
    capabilities_file: str | None = Field(
        default=None, description="capabilities measured by 'exitkit probe' (JSON), used "
                                  "instead of the provider profile; relative to the spec")

    @model_validator(mode="after")
    def _class_names(self) -> "TargetEndpoint":
        for source_class, target_class in self.storage_classes.items():
            if not (source_class.isupper() and target_class.isupper()):
                raise ValueError("storage_classes: write class names as S3 does, in upper "
                                 f"case ({source_class}: {target_class})")
        return self


class ObjectLock(Strict):
    """S3 Object Lock retention for everything written to the evidence store; what is left
    out comes from ``evidence.retention_class``."""

    mode: Literal["governance", "compliance"] | None = None
    days: int | None = Field(default=None, ge=1, le=36500)


class EvidenceStore(Strict):
    """An S3-compatible bucket that receives the record and its side files after each run."""

    provider: Literal["aws-s3", "minio", "seaweedfs", "ovhcloud", "scaleway", "hetzner", "ionos",
                      "s3-compatible"]
    endpoint: str | None = None
    region: str | None = None
    bucket: str = Field(min_length=1)
    prefix: str = ""
    credentials: Credentials
    object_lock: ObjectLock | None = None

    @model_validator(mode="after")
    def _no_sas(self) -> "EvidenceStore":
        refuse_sas(self.credentials, "an evidence store")
        return self


class Timestamps(Strict):
    """The RFC 3161 time-stamping authority that stamps each ledger entry."""

    tsa_url: str = Field(pattern=r"^https?://", description="the TSA's HTTP(S) endpoint")
    timeout: Duration = Field(default=timedelta(seconds=10), description="per request; "
                              "two more attempts follow a failure")


class Evidence(Strict):
    """Where evidence goes besides the local results directory, how long it is kept, and
    who stamps its time."""

    store: EvidenceStore | None = None
    retention_class: RetentionClassName | None = Field(
        default=None, description="short, operational, regulatory or archive: recorded, and "
                                  "the Object Lock defaults of the store")
    timestamps: Timestamps | None = Field(default=None, description="stamp each ledger "
                                          "entry by this TSA")

    @model_validator(mode="after")
    def _lock_from_retention_class(self) -> "Evidence":
        store = self.store
        if store is None:
            return self
        retention = RETENTION_CLASSES.get(self.retention_class or "")
        lock = store.object_lock
        if lock is None and retention is None:
            return self
        lock = lock or ObjectLock()
        if retention is not None:
            lock = lock.model_copy(update={"mode": lock.mode or retention.mode,
                                           "days": lock.days or retention.days})
        if lock.mode is None or lock.days is None:
            raise ValueError("store.object_lock: give 'mode' and 'days', or set "
                             "'retention_class' to take them from it")
        return self.model_copy(update={"store": store.model_copy(update={"object_lock": lock})})


class Options(Strict):
    """How the drill runs."""

    concurrency: int = Field(default=8, ge=1, le=256)
    part_size: Size = Field(default=8 * 1024 * 1024, ge=5 * 1024 * 1024)
    max_retries: int = Field(default=5, ge=0, le=50)
    engine: Literal["exitkit", "rclone"] = Field(
        default="exitkit", description="what copies: exitkit's own streaming copy, or "
        "'rclone copy' (exitkit still inventories, verifies, times and records)")


class Restore(Strict):
    """Restore archived objects (S3 Glacier Flexible Retrieval, Deep Archive) so the drill
    can copy them; restores cost money and take hours (see docs/drill-spec.md)."""

    tier: Literal["bulk", "standard", "expedited"]
    days: int = Field(default=7, ge=1, le=365, description="days the restored copy stays")
    max_wait: Duration = Field(default=timedelta(days=2),
                               description="how long the drill waits for restores; --resume "
                                           "waits on without a new request")
    poll_interval: Duration = Field(default=timedelta(minutes=15),
                                    description="longest wait between two status checks "
                                                "(backoff starts at one second)")


class Sample(Strict):
    """Verify the content of a reproducible, stratified sample instead of every object.

    Give exactly one size: ``fraction`` of each stratum, ``count`` objects spread over the
    strata, or ``max_defect_rate``: the smallest sample whose clean result proves, at
    ``confidence``, that fewer than that share of objects differ (see docs/sampling.md).
    """

    fraction: float | None = Field(default=None, gt=0, le=1)
    count: int | None = Field(default=None, ge=1)
    max_defect_rate: Percent | None = Field(default=None, gt=0, description="plan the "
                                            "sample so a clean result proves this bound")
    confidence: Percent = Field(default=95.0, gt=0, lt=100, description="confidence of "
                                "every recorded bound")
    seed: int = 0
    large_object_size: Size | None = Field(default=None, description="objects of at least "
                                           "this size form their own strata (default: "
                                           "options.part_size, where copies go multipart)")
    storage_classes: list[str] = Field(default_factory=list, description="each named "
                                       "storage class is its own stratum")
    prefixes: list[str] = Field(default_factory=list, description="each named key prefix "
                                "(relative to the source prefix) is its own stratum")

    @model_validator(mode="after")
    def _one_size(self) -> "Sample":
        sizes = (self.fraction, self.count, self.max_defect_rate)
        if sum(size is not None for size in sizes) != 1:
            raise ValueError("give exactly one of 'fraction', 'count' or 'max_defect_rate'")
        return self


class Verification(Strict):
    """How thoroughly the target is compared with the source."""

    versions: Literal["latest", "all"] = "latest"
    sample: Sample | None = None
    metadata: bool = True
    properties: bool = Field(default=True, description="read every source object's "
                             "properties (lock, hold, redirect, encryption, storage class, "
                             "checksum) and verify each arrived")

    @property
    def reads_target_attributes(self) -> bool:
        """Whether verification HEADs every target object (to compare metadata or
        properties) and so may reuse the copy's read-back. A sampled drill does not: it
        HEADs only the objects it draws."""
        return self.sample is None and (self.metadata or self.properties)


class Staleness(Strict):
    """How an inventory report is checked against the bucket before the drill trusts it."""

    heads: int = Field(default=100, ge=0, le=100_000, description="report keys HEADed "
                       "(a seeded draw, verification.sample.seed or 0)")
    prefixes: int = Field(default=3, ge=0, le=100, description="prefixes of drawn keys "
                          "LISTed (up to 1,000 keys each) and compared with the report")


class Listing(Strict):
    """Where the source listing comes from: LIST requests, or an S3 Inventory report."""

    source: Literal["list", "inventory-report"] = "list"
    manifest: str | None = Field(default=None, description="s3://<bucket>/<path>/manifest.json "
                                 "of the report, read with the source's endpoint and "
                                 "credentials")
    staleness: Staleness = Staleness()

    @model_validator(mode="after")
    def _manifest_for_reports(self) -> "Listing":
        if (self.source == "inventory-report") != (self.manifest is not None):
            raise ValueError("source: inventory-report needs 'manifest' (and list takes none)")
        if self.manifest is not None:
            ReportLocation.parse(self.manifest)
        return self


class Cost(Strict):
    """How the drill is priced."""

    keep_days: float = Field(default=1.0, ge=0, description="days the drill copy is kept")
    catalog_dirs: list[str] = Field(default_factory=list,
                                    description="extra catalog directories (override by name), "
                                                "relative to the spec file")


class Projection(Strict):
    """How the full exit is projected."""

    hosts: int = Field(default=1, ge=1, description="parallel hosts for the full exit")


class Distributed(Strict):
    """Copy and verify the plan on a Dask cluster, shard by shard (see docs/distributed.md)."""

    scheduler: str | None = Field(default=None, description="the Dask scheduler's address "
                                  "(tcp://host:8786); --scheduler overrides it; without one "
                                  "the drill runs in one process")
    shard_objects: int = Field(default=10_000, ge=1, description="object versions per shard "
                               "(a key's versions stay in one shard)")
    work_dir: str | None = Field(default=None, description="directory every worker and the "
                                 "coordinator share, for the shards' checkpoint journals; "
                                 "default: the results directory")
    connect_timeout: Duration = Field(default=timedelta(seconds=30),
                                      description="how long to wait for the scheduler")


GapName = Literal["object_lock", "legal_hold", "website_redirect", "encryption",
                  "storage_class", "checksum", "tags", "metadata",
                  # bucket settings (bucket_config); names as in providers/bucket_settings.py
                  "bucket.versioning", "bucket.lifecycle", "bucket.cors", "bucket.website",
                  "bucket.tags", "bucket.object_lock", "bucket.policy",
                  "bucket.public_access_block", "bucket.default_encryption",
                  "bucket.ownership_controls", "bucket.replication", "bucket.notifications",
                  "bucket.logging", "bucket.request_payment", "bucket.transfer_acceleration",
                  "bucket.inventory", "bucket.analytics", "bucket.metrics",
                  "bucket.intelligent_tiering"]


class AcceptedGap(Strict):
    """A property the exit may lose, with the reason the record keeps."""

    property: GapName
    reason: str = Field(min_length=1)


class BucketConfig(Strict):
    """Carry the source bucket's configuration (versioning, lifecycle, CORS, website, tags,
    default Object Lock retention, policy, public access block, default encryption,
    ownership) to the target, read each back, and report every setting not carried.
    ``bucket_config: true`` is this with no principals."""

    principals: dict[str, str] = Field(
        default_factory=dict, description="source principal (ARN or account) -> target "
                                          "principal, for bucket policies")


class Expectations(Strict):
    """What must hold for the drill to pass."""

    accept_gaps: list[AcceptedGap] = Field(
        default_factory=list, description="properties whose loss does not fail completeness")

    completeness: Percent = 100.0
    max_undetected_loss: Percent | None = Field(
        default=None, description="the sample's combined upper bound on the share of "
                                  "objects that differ must not exceed this")
    max_duration: Duration | None = None
    max_cost: Euros | None = Field(default=None, description="this drill, applicable regime")
    max_projected_cost: Euros | None = Field(default=None, description="the full exit")
    max_projected_duration: Duration | None = None
    max_time_to_healthy: Duration | None = Field(default=None, description="each workload, "
                                                 "from container start to healthy")
    max_vm_time_to_healthy: Duration | None = Field(default=None, description="each moved VM, "
                                                    "from create to healthy")


class DrillSpec(Strict):
    """A complete drill: source, target, options and expectations."""

    version: Literal[1] = SPEC_VERSION
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = ""
    source: Endpoint
    target: TargetEndpoint
    options: Options = Options()
    verification: Verification = Verification()
    cost: Cost = Cost()
    projection: Projection = Projection()
    cleanup: bool = Field(default=False, description="delete what the drill wrote on the "
                                                     "target at the end, also after failure")
    expectations: Expectations = Expectations()
    evidence: Evidence = Evidence()
    restore: Restore | None = Field(default=None, description="restore archived objects "
                                    "before copying them")
    workloads: Workloads | None = None
    vms: VmSection | None = Field(default=None, description="plan the move of VMs, and move "
                                  "some for real")
    bucket_config: BucketConfig | None = Field(
        default=None, description="carry the bucket's configuration (true, or principals)")

    @field_validator("bucket_config", mode="before")
    @classmethod
    def _bucket_config_switch(cls, value):
        if value is True:
            return {}
        return None if value is False else value

    @model_validator(mode="after")
    def _bucket_config_scope(self) -> "DrillSpec":
        if self.bucket_config is None:
            return self
        if self.source.provider not in S3_PROVIDERS:
            raise ValueError(f"bucket_config: carries the settings of an S3 bucket; a "
                             f"{self.source.provider} source has none exitkit can read")
        if self.target.allow_foreign_data:
            raise ValueError("bucket_config: bucket settings apply to the whole bucket, so the "
                             "target must not hold foreign data (target.allow_foreign_data)")
        return self
    listing: Listing = Field(default=Listing(), description="list the source with LIST or "
                             "from an S3 Inventory report")
    distributed: Distributed | None = Field(default=None, description="run the copy and the "
                                            "verification on a Dask cluster")
    scope: Scope | None = Field(default=None, description="the contract, function and exit "
                                "plan this drill tests (recorded and signed)")
