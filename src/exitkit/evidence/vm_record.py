"""The record's VM migration plan: each VM, its prices at source and target, what blocks it.

Made by :func:`exitkit.drill.vm_plan.plan_vms`. A leaf module (pydantic, the catalog
model and the sizing model only), so that ``evidence/record.py`` can import it without a
cycle.
"""

from datetime import date
from typing import Literal

from pydantic import Field

from exitkit.evidence.record_base import Model

from exitkit.catalog.model import ExchangeRate
from exitkit.measure.sizing import PricedSize


BlockerCode = Literal["image-not-exportable", "encrypted-volume", "unknown-instance-type",
                      "no-target-size", "volume-too-large", "managed-service"]


class Blocker(Model):
    """One reason a VM cannot move as it is, in words that say what to do."""

    code: BlockerCode
    detail: str


class ImagePlan(Model):
    """The VM's image and whether its disks can be exported."""

    id: str
    name: str | None
    owner_id: str | None
    platform: str | None
    product_codes: list[str]
    exportable: bool
    reason: str


class VolumePlan(Model):
    """One attached EBS volume."""

    id: str
    device: str | None
    size_gib: int
    volume_type: str | None
    encrypted: bool


class UserDataPlan(Model):
    """Whether the VM has user data, and its SHA-256 (the content may hold secrets)."""

    present: bool
    sha256: str | None = None
    bytes: int = 0


class VmPlanEntry(Model):
    """One VM: what it is, what it costs now, what it would be and cost on the target."""

    id: str
    name: str
    state: str
    instance_type: str
    vcpus: float | None
    memory_gib: float | None
    gpus: int
    architecture: str | None
    image: ImagePlan
    tags: dict[str, str]
    user_data: UserDataPlan
    volumes: list[VolumePlan]
    source_size: PricedSize | None = Field(description="the instance type at the source's "
                                                       "list price, if the catalog has it")
    target_size: PricedSize | None = Field(description="the nearest target size")
    status: Literal["portable", "blocked"]
    blockers: list[Blocker]


class VmTotals(Model):
    """Counts, and monthly cost at the source and the target for VMs priced on both sides."""

    vms: int
    portable: int
    blocked: int
    compared_vms: int
    monthly_source_eur: float
    monthly_target_eur: float


class VmSourceIdentity(Model):
    """The EC2 side of the plan, without credentials."""

    provider: str
    endpoint: str
    region: str
    filters: dict[str, str | list[str]]


class VmPlan(Model):
    """The migration plan for a drill's VMs."""

    planned_on: date
    source: VmSourceIdentity
    source_catalog: str | None
    target_catalog: str
    vms: list[VmPlanEntry]
    totals: VmTotals
    exchange_rates: dict[str, ExchangeRate] = Field(description="catalog rates used to convert "
                                                    "into EUR, by currency")
    assumptions: list[str]
