"""The drill record: the single product of a run. Reports and exit codes derive from it.

The JSON Schema of this model is committed as ``docs/record.schema.json``; bump
:data:`RECORD_SCHEMA_VERSION` whenever a field changes meaning or disappears.
"""

from datetime import date, datetime
from typing import Literal

from pydantic import ConfigDict, Field

from exitkit.evidence.bucket_config_record import BucketConfigRecord
from exitkit.evidence.listing_record import ListingRecord
from exitkit.evidence.properties_record import AcceptedGapRecord, PropertiesRecord
from exitkit.evidence.record_base import Model
from exitkit.evidence.scope_record import ProvenanceRecord, ScopeRecord
from exitkit.evidence.vm_move_record import VmMoveRecord
from exitkit.evidence.vm_record import VmPlan
from exitkit.evidence.workload_record import WorkloadRecord

RECORD_SCHEMA_VERSION = "1.6"

Verdict = Literal["passed", "failed", "error"]
DifferenceKind = Literal["missing", "extra", "size_differs", "content_differs",
                         "metadata_differs", "unrepresentable", "failed", "archived",
                         "sse_c_key_required", "requester_pays", "kms_access_denied",
                         "property_lost", "property_lost_accepted"]
#: Classes of objects the source holds but will not hand over as they are; each comes
#: with a reason that names the remedy.
UNREADABLE_CLASSES = ("archived", "sse_c_key_required", "requester_pays", "kms_access_denied")
VERIFICATION_CLASSES = ("matched", "not_sampled", "missing", "extra", "size_differs",
                        "content_differs", "metadata_differs", "unrepresentable", "failed",
                        *UNREADABLE_CLASSES, "property_lost", "property_lost_accepted")


class DrillIdentity(Model):
    """Which drill ran, and the exact spec (by digest)."""

    name: str
    description: str
    spec_path: str
    spec_sha256: str


class EndpointIdentity(Model):
    """One side of the drill, without credentials."""

    provider: str
    endpoint: str
    region: str | None
    bucket: str
    prefix: str
    catalog: str | None = Field(default=None, description="catalog entry that prices this side")
    jurisdiction: str | None = Field(default=None, description="where the provider is legally "
                                                               "seated (ISO country)")
    data_location: str | None = Field(default=None, description="where the data is held")


class ObjectLockRecord(Model):
    """The S3 Object Lock retention asked for on the evidence store, and whether it holds."""

    mode: Literal["governance", "compliance"]
    days: int
    retain_until: datetime
    applied: bool
    detail: str = Field(description="how it was confirmed, or why it was not applied")


class EvidenceStoreRecord(Model):
    """Where the record and its side files were also stored, beyond the results directory."""

    url: str = Field(description="s3 URL of the stored record's directory (no credentials)")
    files: list[str]
    object_lock: ObjectLockRecord | None


class PhaseRecord(Model):
    """Wall-clock timing and volume of one phase."""

    name: str
    started_at: datetime
    ended_at: datetime
    duration_s: float
    objects: int
    bytes: int
    objects_per_s: float
    bytes_per_s: float
    retries: int = 0
    concurrency: int | None = None
    samples: list[tuple[float, int, int]] = Field(
        default_factory=list, description="about once a second: (seconds since start, "
                                          "objects so far, bytes so far)")


class KeyProblem(Model):
    """A key and what went wrong with it."""

    key: str
    reason: str
    kind: str | None = Field(default=None, description="its verification class, when it has "
                                                       "one other than 'failed'")


class StorageClassCount(Model):
    """Objects and bytes in one storage class."""

    objects: int
    bytes: int


class Inventory(Model):
    """What the source held in scope when the drill started."""

    objects: int
    bytes: int
    storage_classes: dict[str, StorageClassCount] = Field(
        default_factory=dict, description="objects and bytes per storage class (S3's "
        "STANDARD when a listing names none; 'none' for stores without classes)")


class RestoreRequestRecord(Model):
    """One archived object (or version) and its restore."""

    key: str
    version_id: str | None = None
    storage_class: str
    bytes: int
    requested_at: datetime | None = Field(description="when this drill (or the run it "
                                          "resumed) requested the restore; None when it "
                                          "found one ongoing or done")
    state: Literal["copied", "ready", "pending", "not_requested"]


class RestoreRecord(Model):
    """Archived objects in scope and their restores (spec ``restore``)."""

    tier: str | None = Field(description="restore tier asked for; None without spec restore")
    days: int | None
    max_wait_s: float | None
    archived_objects: int
    archived_bytes: int
    requested: int = Field(description="RestoreObject requests this run sent")
    requested_before: int = Field(description="restores an interrupted run had requested, "
                                              "continued without a new request")
    found_restored: int = Field(description="already restored (or being restored) when the "
                                            "drill found them; no request sent")
    copied: int
    ready: int = Field(description="readable at the end of the run but not copied")
    pending: int = Field(description="restore still in progress when the run ended")
    not_requested: int = Field(description="archived, no restore asked for (no spec restore)")
    waited_s: float = Field(description="time spent waiting for restores")
    requests: list[RestoreRequestRecord] = Field(description="at most 1,000, in key order")
    requests_truncated: bool = False


class CopySummary(Model):
    """What is on the target from the copy, as one clean run would have it.

    A resumed run (``--resume``) counts the objects the interrupted run had copied, and
    that are still in place, in ``objects_copied`` too; the copy phase's own figures say
    what this run moved.
    """

    objects_copied: int
    bytes_copied: int
    resumed_from: str | None = Field(default=None, description="run id of the interrupted "
                                                               "run this one resumed")
    resumed_objects: int = Field(default=0, description="copied by the interrupted run(s), "
                                                        "found in place, not copied again")
    resumed_bytes: int = 0
    multipart_objects: int
    failed: int = Field(description="objects that could not be copied, unreadable ones "
                                    "included")
    unreadable: dict[str, int] = Field(default_factory=dict, description="of those, per "
                                       "class of UNREADABLE_CLASSES")
    failures: list[KeyProblem]
    unrepresentable: list[KeyProblem]
    restore: RestoreRecord | None = None
    engine: Literal["exitkit", "rclone"] = Field(default="exitkit", description="what copied "
                                                 "the bytes (options.engine); exitkit "
                                                 "inventoried and verified either way")
    engine_version: str | None = Field(default=None, description="the copier's version, "
                                       "e.g. 'rclone v1.75.2' (None for exitkit's own copy)")


class CleanupRecord(Model):
    """What ``cleanup: true`` deleted on the target, and the listing that proves it."""

    requested: int
    deleted: int
    failures: list[KeyProblem]
    remaining: int = Field(description="written objects still listed after the deletion")
    verified: bool


class Difference(Model):
    """One key (or key version) that is not identical on both sides."""

    key: str
    kind: DifferenceKind
    detail: str
    version_id: str | None = None
    version_age: int = 0


class StratumRecord(Model):
    """One stratum of a sample: what was drawn, what failed, and what that bounds."""

    name: str = Field(description="size (small, large), named storage class and prefix")
    objects: int = Field(description="objects present on both sides with equal size")
    bytes: int
    planned_objects: int | None = Field(description="the draw the spec's count or "
                                                    "max_defect_rate asked for")
    sampled_objects: int = Field(description="objects whose content was checked")
    failed_objects: int = Field(description="checked objects not proven identical")
    binomial_bound_pct: float = Field(description="Clopper-Pearson one-sided upper bound "
                                                  "on the share of objects that differ")
    bound_objects: int = Field(description="exact finite-population (hypergeometric) upper "
                                           "bound on the number of objects that differ")
    bound_objects_pct: float
    bound_bytes_pct: float = Field(description="bytes of the bound_objects largest objects, "
                                               "as a share of the stratum's bytes")


class SampleRecord(Model):
    """The sample whose content was verified, and the bound its result proves; the seed
    draws the same sample again."""

    fraction: float | None
    count: int | None
    seed: int
    sampled_objects: int
    max_defect_rate_pct: float | None = None
    confidence_pct: float = 95.0
    large_object_bytes: int = 0
    verifies_everything: bool = Field(default=False, description="the plan needed every "
                                      "object: sampling could not help")
    strata: list[StratumRecord] = Field(default_factory=list)
    bound_objects: int = Field(default=0, description="upper bound on objects that differ, "
                               "all strata together (Bonferroni: each at 1 - alpha/strata)")
    bound_objects_pct: float = 100.0
    bound_bytes_pct: float = 100.0
    bound_method: str = ""
    statement: str = Field(default="", description="the bound in words an auditor can quote")


class ManifestRecord(Model):
    """The manifest of verified objects beside the record, and its Merkle root."""

    file: str
    entries: int
    merkle_root: str
    leaf_hash: str = "sha256(0x00 || line)"
    node_hash: str = "sha256(0x01 || left || right)"


class Verification(Model):
    """Completeness: every source key classified against the target."""

    versions: Literal["latest", "all"]
    source_objects: int
    source_bytes: int
    target_objects: int
    counts: dict[str, int] = Field(description="objects per class; see VERIFICATION_CLASSES")
    storage_classes: dict[str, dict[str, StorageClassCount]] = Field(
        default_factory=dict, description="per side (source, target): objects and bytes per "
                                          "storage class, as listed during verification")
    methods: dict[str, int] = Field(
        description="objects proven per method: etag-md5, etag-multipart, "
                    "checksum-<algorithm>, sha256")
    sample: SampleRecord | None
    objects_verified: int = Field(description="objects whose content was proven identical")
    bytes_verified: int
    objects_verified_pct: float | None = Field(default=None, description="objects_verified "
                                               "per source object (absent before 1.5)")
    bytes_verified_pct: float | None = None
    objects_present: int | None = Field(default=None, description="objects listed on both "
                                        "sides with equal size: content proven or not "
                                        "sampled (absent before 1.5)")
    bytes_present: int | None = None
    completeness_objects_pct: float
    completeness_bytes_pct: float
    gaps: list[str] = Field(description="what the target cannot represent, in words")
    property_losses: dict[str, int] = Field(
        default_factory=dict, description="objects whose bytes arrived without this property "
                                          "(object_lock, legal_hold, website_redirect, ...)")
    accepted_gaps: list[AcceptedGapRecord] = Field(
        default_factory=list, description="losses the spec accepts, with its reason")
    differences: list[Difference]
    differences_truncated: bool
    read_back_objects: int | None = Field(
        default=None, description="objects whose target attributes and properties came "
                                  "from the HEAD the copy made right after writing them, "
                                  "because the target's listing still showed that same "
                                  "write (ETag, size, version, storage class, "
                                  "Last-Modified); the others were read during "
                                  "verification (absent in older records)")
    differences_file: str | None = Field(description="all differences, JSON Lines, beside "
                                                     "the record")
    manifest: ManifestRecord | None


class CostLine(Model):
    """One priced item, traceable to the catalog price it used."""

    item: str
    provider: str
    quantity: float
    unit: str
    unit_price: float
    currency: str
    amount_eur: float
    source: str
    as_of: date
    note: str = ""


class CostEstimate(Model):
    """All cost lines under one switching-charge regime."""

    regime: str
    total_eur: float
    lines: list[CostLine]


class ExchangeRateUsed(Model):
    """A conversion into EUR as it was applied."""

    currency: str
    eur: float
    source: str
    as_of: date


class CostReport(Model):
    """What the drill cost and what a full exit would cost, per regime, in EUR."""

    source_catalog: str
    target_catalog: str
    drill_date: date
    applicable_regime: str
    exchange_rates: list[ExchangeRateUsed]
    drill: list[CostEstimate]
    full_exit: list[CostEstimate]
    monthly_source_eur: float = Field(description="storing the estate at the source, per month")
    monthly_target_eur: float = Field(description="storing the estate at the target, per month")
    assumptions: list[str]


class Projection(Model):
    """The full exit projected from measured throughput, against the Data Act windows."""

    estate_objects: int
    estate_bytes: int
    basis_bytes_per_s: float
    basis_objects_per_s: float
    concurrency: int
    hosts: int
    duration_s: float = Field(description="at the drill's concurrency on one host")
    duration_on_hosts_s: float = Field(description="on the hosts, restore latency included")
    restore_tier: str | None = Field(default=None, description="tier the archived part of the "
                                     "estate is restored at")
    restore_latency_s: float = Field(default=0.0, description="the longest restore AWS "
                                     "documents for that tier and the estate's archived "
                                     "classes, added before their copy can finish")
    data_act_transition_days: int = 30
    data_act_extended_days: int = 213
    fits_transition: bool
    fits_extended: bool
    assumptions: list[str]
    workers_measured: int = Field(default=1, description="copy workers the per-worker rate "
                                  "was measured on (1: a drill in one process)")
    per_worker_bytes_per_s: float | None = Field(
        default=None, description="measured copy throughput of one worker (bytes/s)")
    per_worker_objects_per_s: float | None = Field(
        default=None, description="measured copy throughput of one worker (objects/s)")
    workers_for_transition: int | None = Field(
        default=None, description="workers, each at the measured per-worker rate, the full "
        "exit needs to fit the Data Act's 30-day transition; null when it cannot fit at any "
        "scale (restore latency) or no rate was measured")


class WorkerThroughput(Model):
    """What one Dask worker copied in a distributed drill, and how fast."""

    worker: str = Field(description="the worker's address")
    shards: int = Field(description="shard copies it ran to the end")
    objects: int
    bytes: int
    busy_s: float = Field(description="seconds spent copying its shards")
    objects_per_s: float
    bytes_per_s: float


class ShardRecord(Model):
    """One key range of a distributed drill's plan."""

    index: int
    first_key: str = Field(description="first relative key in the shard")
    last_key: str = Field(description="last relative key in the shard")
    objects: int = Field(description="object versions planned")
    bytes: int
    worker: str = Field(description="worker whose copy of the shard ran to the end")
    skipped_in_place: int = Field(default=0, description="objects an earlier attempt at the "
                                  "shard (a worker that died) had journaled and the target "
                                  "still held: not copied again")


class DistributedRecord(Model):
    """How a drill was spread over a Dask cluster (absent for a drill in one process)."""

    scheduler: str
    workers: int = Field(description="workers connected when the copy started")
    shard_objects: int = Field(description="planned object versions per shard (at most, "
                               "rounded up to keep a key's versions together)")
    shards: list[ShardRecord]
    reassigned_shards: int = Field(description="shards taken over after a worker died")
    per_worker: list[WorkerThroughput]


class RequestCounts(Model):
    """Requests one side answered during the drill, by billing class."""

    reads: int = Field(description="GET and HEAD on objects")
    writes: int = Field(description="PUT, POST, DELETE, and LIST on buckets")
    bytes_read: int
    retries: int = Field(default=0, description="retries of listing pages and preflight "
                                                "requests (object retries count per phase)")
    restores: int = Field(default=0, description="RestoreObject requests (POST ?restore), "
                                                 "priced as retrieval requests")


class ExpectationResult(Model):
    """One expectation from the spec with what was measured."""

    name: str
    expected: str
    measured: str
    passed: bool


class RunOptions(Model):
    """The options the drill ran with."""

    concurrency: int
    part_size: int
    max_retries: int
    verify_only: bool


class DrillRecord(Model):
    """Everything one drill run established, signed off with a verdict."""

    schema_version: str = RECORD_SCHEMA_VERSION
    run_id: str
    exitkit_version: str
    drill: DrillIdentity
    host: str
    operator: str
    started_at: datetime
    ended_at: datetime
    duration_s: float
    source: EndpointIdentity
    target: EndpointIdentity
    options: RunOptions
    phases: list[PhaseRecord]
    inventory: Inventory | None
    copy_summary: CopySummary | None = Field(alias="copy")
    verification: Verification | None
    requests: dict[str, RequestCounts] = Field(description="per side: source, target")
    cleanup: CleanupRecord | None = None
    projection: Projection | None
    cost: CostReport | None
    expectations: list[ExpectationResult]
    verdict: Verdict
    errors: list[str]
    evidence_store: EvidenceStoreRecord | None = None
    workloads: list[WorkloadRecord] = Field(default_factory=list)
    vms: VmPlan | None = Field(default=None, description="the VM migration plan")
    properties: PropertiesRecord | None = Field(
        default=None, description="source property census, target capabilities, mappings")
    bucket_config: BucketConfigRecord | None = Field(
        default=None, description="the bucket's settings carried to the target "
                                  "(bucket_config in the spec)")
    listing: ListingRecord | None = Field(
        default=None, description="the listing source (LIST or an inventory report) and "
                                  "the report's staleness check (schema 1.6)")
    distributed: DistributedRecord | None = Field(
        default=None, description="shards and workers of a drill run on Dask")
    scope: ScopeRecord | None = Field(default=None, description="the spec's scope: "
                                      "contract, function, exit plan tested (from 1.6)")
    provenance: ProvenanceRecord | None = Field(
        default=None, description="clock, code, dependencies and retention class (from 1.6)")
    vm_moves: list[VmMoveRecord] = Field(default_factory=list, description="(schema 1.6) VMs "
                                         "moved to the target, booted, checked and removed")

    model_config = ConfigDict(defer_build=True, extra="forbid", populate_by_name=True)

    def side_files(self) -> list[str]:
        """Names of the files written beside the record (differences, manifest)."""
        verification = self.verification
        if verification is None:
            return []
        names = [verification.differences_file,
                 verification.manifest.file if verification.manifest else None]
        return [name for name in names if name]

    def to_json(self) -> str:
        """The record as it is written to disk (UTF-8 JSON, field aliases applied)."""
        return self.model_dump_json(by_alias=True, indent=2)

    @property
    def exit_code(self) -> int:
        """0 passed, 1 an expectation failed, 2 the drill could not run to a verdict."""
        return {"passed": 0, "failed": 1, "error": 2}[self.verdict]
