"""Plan the exit of VM workloads: inventory EC2 instances, size them for a target, judge them.

The ``vms`` section of a drill (:mod:`exitkit.drill.vm_spec`) names an EC2 source and a
target catalog entry. :func:`plan_vms` lists the instances through libcloud
(:mod:`exitkit.providers.ec2`), prices each instance type from the source's catalog
entry, matches it to the nearest target size (:mod:`exitkit.measure.sizing`) and marks it
*portable* or *blocked*, with every reason. The rules are in ``docs/vm-plans.md``. The
plan holds no credential and no user data, only the user data's SHA-256.
"""

from datetime import date

from exitkit.catalog.load import Catalog
from exitkit.catalog.model import CatalogEntry
from exitkit.drill.spec_file import Keys
from exitkit.drill.vm_spec import VmSection, VmSource
from exitkit.evidence.vm_record import (Blocker, ImagePlan, UserDataPlan, VmPlan, VmPlanEntry,
                                        VmSourceIdentity, VmTotals, VolumePlan)
from exitkit.measure.sizing import PricedSize, nearest_size, size_named
from exitkit.providers.ec2 import Ec2Instance, open_ec2

DEFAULT_EC2_ENDPOINT = "https://ec2.{region}.amazonaws.com"
#: catalog provider whose entry for the region prices a VM source by default
SOURCE_CATALOG_PROVIDER = {"aws-ec2": "aws-s3"}
#: instance tag naming the proprietary managed services a VM depends on (comma-separated)
MANAGED_SERVICE_TAG = "exitkit:managed-service"
ASSUMPTIONS = [
    "Prices are list prices from the catalog (on demand, Linux, excluding VAT), each with "
    "its source and date.",
    "A month is the provider's own monthly price where the catalog has one, else 730 hours.",
    "Target size: the nearest with at least the instance's vCPUs, memory and GPUs (least "
    "relative over-provisioning, cheapest among equals); vCPU kind (shared, dedicated, "
    "burstable) and CPU architecture are not compared.",
    "Volumes, snapshots, IP addresses and data transfer are not priced.",
    "Monthly totals compare the VMs priced on both sides.",
]

def source_url(source: VmSource) -> str:
    """The EC2 endpoint URL (the spec's, or AWS's for the region)."""
    return source.endpoint or DEFAULT_EC2_ENDPOINT.format(region=source.region)


def plan_vms(section: VmSection, keys: Keys, catalog: Catalog, on: date) -> VmPlan:
    """Inventory the section's instances and plan each for the target catalog entry.

    Raises EndpointError when the EC2 endpoint cannot be reached or refuses, and
    ExitkitError when a named catalog entry does not exist.
    """
    target = catalog.get(section.target_catalog)
    source_entry = _source_entry(section.source, catalog)
    url = source_url(section.source)
    instances = open_ec2(url, section.source.region, keys).instances(section.filters)
    entries = [_plan_one(instance, source_entry, target, catalog) for instance in instances]
    compared = [entry for entry in entries if entry.source_size and entry.target_size]
    portable = sum(entry.status == "portable" for entry in entries)
    totals = VmTotals(
        vms=len(entries), portable=portable, blocked=len(entries) - portable,
        compared_vms=len(compared),
        monthly_source_eur=round(sum(entry.source_size.price_month_eur for entry in compared), 2),
        monthly_target_eur=round(sum(entry.target_size.price_month_eur for entry in compared), 2))
    currencies = {entry.currency for entry in (source_entry, target) if entry} - {"EUR"}
    rates = {currency: catalog.fx.rates[currency] for currency in sorted(currencies)}
    return VmPlan(
        planned_on=on,
        source=VmSourceIdentity(provider=section.source.provider, endpoint=url,
                                region=section.source.region, filters=dict(section.filters)),
        source_catalog=source_entry.name if source_entry else None,
        target_catalog=target.name, vms=entries, totals=totals, exchange_rates=rates,
        assumptions=ASSUMPTIONS)


def _source_entry(source: VmSource, catalog: Catalog) -> CatalogEntry | None:
    if source.catalog:
        return catalog.get(source.catalog)
    return catalog.for_endpoint(SOURCE_CATALOG_PROVIDER[source.provider], source.region)


def plan_instance(instance: Ec2Instance, source: CatalogEntry | None, target: CatalogEntry,
                  catalog: Catalog) -> VmPlanEntry:
    """Plan one instance (inventoried, or read from a Terraform state by ``exitkit
    assess``) for *target*, priced at *source* where given."""
    return _plan_one(instance, source, target, catalog)


def _plan_one(instance: Ec2Instance, source: CatalogEntry | None, target: CatalogEntry,
              catalog: Catalog) -> VmPlanEntry:
    image = image_plan(instance)
    shape = instance.shape
    target_size = nearest_size(target, shape.vcpus, shape.memory_gib, fx=catalog.fx,
                               gpus=shape.gpus) if shape else None
    blockers = _blockers(instance, image, target, target_size)
    digest = instance.user_data
    return VmPlanEntry(
        id=instance.id, name=instance.name, state=instance.state,
        instance_type=instance.instance_type, vcpus=shape.vcpus if shape else None,
        memory_gib=shape.memory_gib if shape else None, gpus=shape.gpus if shape else 0,
        architecture=instance.architecture, image=image, tags=dict(instance.tags),
        user_data=UserDataPlan(present=True, sha256=digest.sha256, bytes=digest.bytes)
        if digest else UserDataPlan(present=False),
        volumes=[VolumePlan(id=v.id, device=v.device, size_gib=v.size_gib,
                            volume_type=v.volume_type, encrypted=v.encrypted)
                 for v in instance.volumes],
        source_size=size_named(source, instance.instance_type, catalog.fx) if source else None,
        target_size=target_size, status="blocked" if blockers else "portable",
        blockers=blockers)


def _blockers(instance: Ec2Instance, image: ImagePlan, target: CatalogEntry,
              target_size: PricedSize | None) -> list[Blocker]:
    """Every reason the instance cannot move to *target* as it is (docs/vm-plans.md)."""
    blockers = []
    if not image.exportable:
        blockers.append(Blocker(code="image-not-exportable", detail=image.reason))
    blockers += [Blocker(code="encrypted-volume", detail=(
        f"volume {volume.id} ({volume.device}) is encrypted: VM Import/Export does not export "
        "encrypted EBS snapshots; copy its data at file level or export a decrypted copy"))
        for volume in instance.volumes if volume.encrypted]
    shape = instance.shape
    if shape is None:
        blockers.append(Blocker(code="unknown-instance-type", detail=(
            f"instance type {instance.instance_type} is not in libcloud's size table, so its "
            "vCPUs and memory are unknown")))
    elif target_size is None:
        gpus = f" and {shape.gpus} GPU(s)" if shape.gpus else ""
        blockers.append(Blocker(code="no-target-size", detail=(
            f"no size at {target.name} has at least {shape.vcpus:g} vCPUs, "
            f"{shape.memory_gib:g} GiB{gpus}")))
    limit = target.block_storage
    if limit:
        blockers += [Blocker(code="volume-too-large", detail=(
            f"volume {volume.id} is {volume.size_gib} GiB; the largest volume at {target.name} "
            f"is {limit.max_volume_gib} GiB ({limit.source}, {limit.as_of})"))
            for volume in instance.volumes if volume.size_gib > limit.max_volume_gib]
    services = [name.strip() for name in instance.tags.get(MANAGED_SERVICE_TAG, "").split(",")
                if name.strip()]
    if services:
        blockers.append(Blocker(code="managed-service", detail=(
            f"depends on proprietary managed service(s) {', '.join(services)} (tag "
            f"{MANAGED_SERVICE_TAG}): plan their replacement on the target first")))
    return blockers


def image_plan(instance: Ec2Instance) -> ImagePlan:
    """Whether the instance's disks can leave as an image, and why (docs/vm-plans.md).

    Not exportable: AWS Marketplace product codes on the instance or its image, or an
    operating system AWS licenses (Windows, or any ``platformDetails`` other than
    Linux/UNIX that is not BYOL). Everything else is exportable through an image of the
    instance itself, whoever owns the image it was started from.
    """
    image = instance.image
    codes = sorted(set(instance.product_codes) | set(image.product_codes if image else ()))
    licensed = _aws_licensed_os(instance)
    if codes:
        exportable, reason = False, (
            f"AWS Marketplace product code(s) {', '.join(codes)}: VM Import/Export does not "
            "export images that contain Marketplace software; reinstall it on the target "
            "under the vendor's licence")
    elif licensed:
        exportable, reason = False, (
            f"{licensed} licensed through AWS: VM Import/Export does not export it; reinstall "
            "on the target with your own licence")
    else:
        exportable, reason = True, (
            "no Marketplace product code and no AWS-licensed operating system: create an "
            "image of the instance (CreateImage) and export it with VM Import/Export "
            "(ExportImage to S3 as VMDK, VHD or RAW)")
    if image is None:
        reason += (f"; image {instance.image_id} is no longer described (deregistered or not "
                   "shared), so this is judged from the instance alone")
    return ImagePlan(id=instance.image_id, name=image.name if image else None,
                     owner_id=image.owner_id if image else None,
                     platform=instance.platform or (image.platform if image else None),
                     product_codes=codes, exportable=exportable, reason=reason)


def _aws_licensed_os(instance: Ec2Instance) -> str | None:
    """The operating system AWS licenses to this instance, or None (Linux/UNIX, BYOL)."""
    image = instance.image
    platforms = {instance.platform, image.platform if image else None}
    details = {instance.platform_details, image.platform_details if image else None}
    details -= {None, "", "Linux/UNIX"}
    named = sorted(detail for detail in details if "BYOL" not in detail)
    if named:
        return named[0]
    if "windows" in platforms and not details:
        return "Windows"
    return None
