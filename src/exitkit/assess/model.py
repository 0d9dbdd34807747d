"""The assessment: every asset of an estate with its verdict, size, projection and drill
evidence, plus what was covered. Written as JSON by ``exitkit assess --json`` and rendered
as the exit plan."""

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from exitkit.evidence.record import CostEstimate
from exitkit.evidence.record_base import Model

ASSESSMENT_SCHEMA_VERSION = "1.0"

AssetVerdict = Literal["portable", "needs work", "blocked"]
Severity = Literal["info", "low", "medium", "high"]
AssetKind = Literal["bucket", "vm", "image", "managed service"]
SizeMethod = Literal["listing", "inventory report", "sample", "provisioned", "unknown"]
CostBound = Literal["exact", "lower bound", "upper bound"]
ThroughputBasis = Literal["measured: this asset", "measured: this estate", "default"]
#: verdicts from best to worst; an asset takes the worst of its findings
VERDICT_ORDER: tuple[AssetVerdict, ...] = ("portable", "needs work", "blocked")
SEVERITY_ORDER: tuple[Severity, ...] = ("info", "low", "medium", "high")


class Finding(Model):
    """One reason for an asset's verdict, with the remedy in its detail."""

    code: str
    severity: Severity
    verdict: AssetVerdict = Field(description="what this finding alone makes of the asset")
    detail: str


class SizeMeasure(Model):
    """How big an asset is and how that was found out."""

    objects: int | None = None
    bytes: int | None = None
    method: SizeMethod
    exact: bool = Field(description="False when the figure is an estimate or a bound")
    caveat: str


class StorageClassSize(Model):
    """Objects and bytes in one storage class (as measured by the asset's size method)."""

    objects: int
    bytes: int


class DrillEvidence(Model):
    """One drill run that covered the asset, as the ledger holds it."""

    drill: str
    run_id: str
    verdict: str
    started_at: datetime
    ledger: str
    ledger_entry: int
    entry_sha256: str


class Replacement(Model):
    """An EU-managed or self-hosted option for a proprietary managed service."""

    name: str
    kind: Literal["eu-managed", "self-hosted"]
    operator: str
    jurisdiction: str
    source: str
    as_of: date


class AssetProjection(Model):
    """The projected exit of one asset: time at the basis throughput and cost per regime."""

    basis: ThroughputBasis
    basis_detail: str
    bytes_per_s: float
    objects_per_s: float
    duration_s: float
    restore_latency_s: float = 0.0
    costs: list[CostEstimate] = Field(description="one per switching-charge regime")
    cost_bound: CostBound = Field(description="exact sizes; estimated ones (lower bound); "
                                  "provisioned capacity (upper bound)")


class Asset(Model):
    """One thing that must leave: a bucket, a VM, a registry image or a managed service."""

    id: str = Field(description="kind-qualified name, e.g. s3://bucket or ec2:i-0abc")
    kind: AssetKind
    name: str
    region: str | None = None
    found_by: Literal["api", "state file"]
    size: SizeMeasure
    storage_classes: dict[str, StorageClassSize] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict, description="configuration read "
                                     "from the source, secret-free")
    findings: list[Finding] = Field(default_factory=list)
    verdict: AssetVerdict
    projection: AssetProjection | None = None
    drills: list[DrillEvidence] = Field(default_factory=list, description="newest first")
    replacements: list[Replacement] | None = Field(
        default=None, description="managed services only; empty: no known replacement")


class SkippedResource(Model):
    """A resource seen but not assessed, and why."""

    kind: str
    name: str
    reason: str


class InputDigest(Model):
    """One input the assessment read, by its SHA-256."""

    name: str
    sha256: str


class Coverage(Model):
    """What the assessment counted, what it skipped and why, and the inputs it read."""

    counted: dict[str, int]
    skipped: list[SkippedResource]
    inputs: list[InputDigest]
    not_covered: list[str] = Field(description="what this assessment does not look at")


class EstateTotals(Model):
    """The estate as a whole against the EU Data Act windows."""

    assets: int
    verdicts: dict[str, int]
    never_drilled: int
    bytes: int
    bytes_exact: bool
    duration_s: float = Field(description="assets moved one after another on one host, "
                                          "restore latency included")
    unsized: int = Field(description="assets of unknown size, in neither time nor cost")
    costs: list[CostEstimate]
    cost_bound: CostBound
    applicable_regime: str
    data_act_transition_days: int
    data_act_extended_days: int
    fits_transition: bool
    fits_extended: bool


class SourceAccount(Model):
    """Where the estate was read, without credentials."""

    provider: str
    endpoint: str | None
    region: str | None
    catalog: str | None
    state_files: list[str] = Field(default_factory=list)


class Assessment(Model):
    """The whole assessment of one estate."""

    schema_version: str = ASSESSMENT_SCHEMA_VERSION
    assessed_at: datetime
    assessed_on: date
    exitkit_version: str
    source: SourceAccount
    target_catalog: str
    vm_target_catalog: str | None
    quick: bool
    ledger: str | None
    default_throughput: dict[str, float] = Field(description="stated default where no drill "
                                                 "measured: bytes_per_s, objects_per_s")
    assets: list[Asset] = Field(description="never-drilled assets first, then by verdict, "
                                            "worst first")
    coverage: Coverage
    totals: EstateTotals
    assumptions: list[str]

    @property
    def exit_code(self) -> int:
        """0 when no asset is blocked, 1 when one is."""
        return 1 if any(asset.verdict == "blocked" for asset in self.assets) else 0
