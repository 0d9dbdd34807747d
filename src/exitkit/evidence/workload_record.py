"""The record's account of each workload: image moved, started, healthy, serving, removed."""

from typing import Literal

from pydantic import Field

from exitkit.evidence.record_base import Model


class ImageRecord(Model):
    """The image copy: references, digests read back from both registries, and size."""

    source: str
    target: str
    source_digest: str | None = None
    target_digest: str | None = None
    digests_match: bool = False
    media_type: str | None = None
    platforms: int = 0
    layers: int = 0
    bytes: int = Field(default=0, description="compressed layers and configs, all platforms")
    copy_s: float | None = None


class HealthRecord(Model):
    """The health check's outcome."""

    kind: Literal["http", "exec", "tcp"]
    target: str = Field(description="URL or command checked")
    passed: bool
    attempts: int
    detail: str = Field(description="the last answer seen")


class ServedObject(Model):
    """One migrated object fetched through the workload."""

    key: str
    size: int
    sha256_target: str = Field(description="digest of the object read from the target bucket")
    sha256_served: str | None = Field(description="digest of what the workload returned")
    status: int | None
    matched: bool


class DataCheckRecord(Model):
    """Whether the workload on the target serves the drill's migrated objects."""

    url_template: str
    checked: int
    matched: int
    objects: list[ServedObject]
    passed: bool


class SizePrice(Model):
    """The catalog size a workload's CPU and memory fit in, with its monthly price."""

    catalog: str
    size: str
    vcpus: float
    memory_gib: float
    monthly_eur: float
    source: str
    as_of: str


class WorkloadCost(Model):
    """Monthly cost of running the workload where it runs now and on the target."""

    cpus: float
    memory_gib: float
    source: SizePrice | None
    target: SizePrice | None
    note: str = ""


class TeardownRecord(Model):
    """What the drill removed from the target runtime, and proof that it is gone."""

    done: bool
    containers_removed: int
    stale_removed: int = Field(description="containers of earlier interrupted runs")
    image_removed: bool
    remaining: int | None = Field(description="containers of this run still on the runtime "
                                              "(None: the runtime could not be asked)")
    detail: str = ""


class WorkloadRecord(Model):
    """One service of the drill, end to end."""

    name: str
    status: Literal["healthy", "unhealthy", "error"]
    image: ImageRecord
    pull_s: float | None = None
    time_to_healthy_s: float | None = Field(default=None, description="from container create "
                                            "to the first passing health check")
    health: HealthRecord | None = None
    data: DataCheckRecord | None = None
    cost: WorkloadCost | None = None
    teardown: TeardownRecord | None = None
    errors: list[str] = Field(default_factory=list)
