"""The record's account of each VM moved to a target: how it was built, its image
digests and size, boot and health, the data it served, what it costs, and its removal.

Made by :mod:`exitkit.drill.vm_moves`. A leaf module (pydantic and the workload record's
health and data checks), so that ``evidence/record.py`` imports it without a cycle.
"""

from typing import Literal

from pydantic import Field

from exitkit.evidence.record_base import Model
from exitkit.evidence.workload_record import DataCheckRecord, HealthRecord


class ImageFile(Model):
    """One file the VM was built from, digested before the VM started."""

    role: Literal["kernel", "initrd", "exported-disk", "converted-disk"]
    path: str
    sha256: str
    bytes: int


class VmImage(Model):
    """What the VM booted: the files and their digests, and for an import the conversion."""

    kind: Literal["kernel+initrd", "disk", "none"]
    files: list[ImageFile] = Field(default_factory=list)
    source_format: str | None = Field(default=None, description="the exported disk's format")
    conversion_verified: bool | None = Field(default=None, description="qemu-img compare found "
                                             "the converted disk identical to the export")


class ExportState(Model):
    """Whether the source VM's disks could be exported for an import, and why not."""

    available: bool
    detail: str


class VmSizing(Model):
    """The machine's size on the target, from the plan's target size and volumes."""

    size: str | None = Field(description="the catalog size it was created as")
    vcpus: int
    memory_mib: int
    disk_gib: int = Field(description="the VM's disk: the plan's volumes, at least the image")


class UserDataCarried(Model):
    """The source's user data, read again at move time and given to the VM in its seed."""

    present: bool
    sha256: str | None = None
    matches_plan: bool = Field(description="its digest equals the one the plan recorded")


class VmMonthlyCost(Model):
    """Monthly list price of the VM where it runs now and as sized on the target (EUR)."""

    source_eur: float | None
    target_eur: float | None
    source_size: str | None
    target_size: str | None


class VmTeardownRecord(Model):
    """What the drill removed from the target, and libvirt asked again that it is gone."""

    done: bool
    domain_removed: bool
    stale_removed: int = Field(description="domains of earlier interrupted runs of this VM")
    disks_removed: int
    remaining_domains: int | None = Field(description="this run's domains of this VM still "
                                          "defined (None: the target could not be asked)")
    remaining_files: int
    detail: str = ""


class VmMoveRecord(Model):
    """One VM moved to the target, end to end."""

    vm: str
    instance_id: str | None
    strategy: Literal["rebuild", "import"]
    status: Literal["healthy", "unhealthy", "not-exported", "error"]
    target: str = Field(description="the target (libvirt URI without credentials)")
    domain: str | None = None
    domain_type: str
    sizing: VmSizing | None = None
    image: VmImage = Field(default_factory=lambda: VmImage(kind="none"))
    export: ExportState | None = Field(default=None, description="import only")
    user_data: UserDataCarried | None = None
    boot_s: float | None = Field(default=None, description="from create to the boot marker "
                                 "on the console")
    time_to_healthy_s: float | None = Field(default=None, description="from create to the "
                                            "first passing health check")
    health: HealthRecord | None = None
    data: DataCheckRecord | None = None
    cost: VmMonthlyCost | None = None
    teardown: VmTeardownRecord | None = None
    console_tail: str | None = Field(default=None, description="last console lines when it "
                                     "was not healthy")
    errors: list[str] = Field(default_factory=list)
