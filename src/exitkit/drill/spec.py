"""The drill spec model: what to copy from where to where, and what must hold afterwards."""

from datetime import timedelta
from typing import Literal

from pydantic import Field, model_validator

from exitkit.drill.spec_base import Credentials, Duration, Euros, Percent, Size, Strict
from exitkit.drill.vm_spec import VmSection
from exitkit.drill.workload_spec import Workloads

SPEC_VERSION = 1

S3_PROVIDERS = ("aws-s3", "minio", "seaweedfs", "ovhcloud", "scaleway", "hetzner", "ionos",
                "s3-compatible")
ProviderKind = Literal["aws-s3", "minio", "seaweedfs", "ovhcloud", "scaleway", "hetzner",
                       "ionos", "s3-compatible", "local"]


class Endpoint(Strict):
    """One side of a drill: a bucket (and optional prefix) at a provider."""

    provider: ProviderKind
    endpoint: str | None = Field(default=None, description="URL; defaults from the provider")
    region: str | None = None
    bucket: str = Field(min_length=1)
    prefix: str = ""
    path: str | None = Field(default=None, description="base directory, for provider 'local'")
    credentials: Credentials | None = None
    catalog: str | None = Field(default=None, description="catalog entry for prices; default "
                                                          "from provider and region")
    requester_pays: bool = Field(default=False, description="read a Requester Pays bucket, "
                                 "accepting its charges (x-amz-request-payer: requester)")

    @model_validator(mode="after")
    def _provider_fields(self) -> "Endpoint":
        if self.provider == "local":
            if not self.path:
                raise ValueError("provider 'local' needs 'path' (a base directory)")
        elif self.credentials is None:
            raise ValueError(f"provider {self.provider!r} needs 'credentials'")
        if self.provider in ("minio", "seaweedfs", "s3-compatible") and not self.endpoint:
            raise ValueError(f"provider {self.provider!r} needs 'endpoint'")
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
    """S3 Object Lock retention for everything written to the evidence store."""

    mode: Literal["governance", "compliance"]
    days: int = Field(ge=1, le=36500)


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


class Evidence(Strict):
    """Where evidence goes besides the local results directory."""

    store: EvidenceStore | None = None


class Options(Strict):
    """How the drill runs."""

    concurrency: int = Field(default=8, ge=1, le=256)
    part_size: Size = Field(default=8 * 1024 * 1024, ge=5 * 1024 * 1024)
    max_retries: int = Field(default=5, ge=0, le=50)


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


class Cost(Strict):
    """How the drill is priced."""

    keep_days: float = Field(default=1.0, ge=0, description="days the drill copy is kept")
    catalog_dirs: list[str] = Field(default_factory=list,
                                    description="extra catalog directories (override by name), "
                                                "relative to the spec file")


class Projection(Strict):
    """How the full exit is projected."""

    hosts: int = Field(default=1, ge=1, description="parallel hosts for the full exit")


GapName = Literal["object_lock", "legal_hold", "website_redirect", "encryption",
                  "storage_class", "checksum", "tags", "metadata"]


class AcceptedGap(Strict):
    """A property the exit may lose, with the reason the record keeps."""

    property: GapName
    reason: str = Field(min_length=1)


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
