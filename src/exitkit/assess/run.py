"""One assessment: read the estate (account, state files), judge each asset, project its
exit from the ledger's measurements, and state what was covered."""

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from exitkit import __version__
from exitkit.assess.bucket_settings import BucketSettings, read_bucket_settings
from exitkit.assess.bucket_size import BucketSize, measure_bucket
from exitkit.assess.coverage import LedgerEvidence, read_ledger
from exitkit.assess.model import (VERDICT_ORDER, Asset, Assessment, Coverage, EstateTotals,
                                  InputDigest, SizeMeasure, SkippedResource, SourceAccount)
from exitkit.assess.projection import (Throughput, add_usage, asset_throughput,
                                       default_throughput, estate_throughput, price,
                                       project_asset)
from exitkit.assess.rules import bucket_findings, verdict_of, vm_findings
from exitkit.assess.services import AccountServices, FoundService, registry_images, service_asset
from exitkit.assess.state_file import StateEstate, read_state
from exitkit.catalog.load import Catalog, load_catalog
from exitkit.catalog.model import CatalogEntry
from exitkit.drill.spec_base import Credentials
from exitkit.drill.spec_file import Keys
from exitkit.drill.vm_plan import MANAGED_SERVICE_TAG, plan_instance, plan_vms
from exitkit.drill.vm_spec import VmSection, VmSource
from exitkit.errors import EndpointError, ExitkitError
from exitkit.evidence.vm_record import VmPlanEntry
from exitkit.measure.cost import CostModel, Usage, applicable_regime
from exitkit.measure.projection import DATA_ACT_EXTENDED, DATA_ACT_TRANSITION
from exitkit.providers.contract import Capabilities
from exitkit.providers.registry import S3_BASICS, S3_PROFILES

GIB = 2**30
#: buckets read at once (settings, location and size of each)
BUCKET_CONCURRENCY = 8
NOT_COVERED = [
    "regions other than the one assessed",
    "identities, permissions, networks and DNS (re-created on the target, not moved)",
    "each object's own properties (per-object Object Lock, legal holds, SSE-C, checksums): "
    "'exitkit scan' counts them for a drill's scope",
    "managed services other than databases (RDS), queues (SQS), functions (Lambda), "
    "tables (DynamoDB) and keys (KMS) unless a state file names them",
]


@dataclass(frozen=True)
class AssessOptions:
    """What to assess and against which target; credentials by variable name only."""

    region: str = "us-east-1"
    endpoint: str | None = None
    credentials: Credentials | None = None
    state_files: tuple[str, ...] = ()
    target_catalog: str = "self-hosted"
    vm_target_catalog: str | None = None
    source_catalog: str | None = None
    ledger: str | None = None
    quick: bool = False
    catalog_dirs: tuple[str, ...] = ()
    on: date | None = None


@dataclass
class _Estate:
    """Everything read, before judging."""

    buckets: list[tuple[str, str | None, str, BucketSettings, BucketSize | None]] = \
        field(default_factory=list)
    vms: list[tuple[str, VmPlanEntry]] = field(default_factory=list)
    images: list[Asset] = field(default_factory=list)
    services: list[FoundService] = field(default_factory=list)
    skipped: list[SkippedResource] = field(default_factory=list)
    state_resources: int = 0


def _keys(credentials: Credentials, environ: Mapping[str, str]) -> Keys:
    values = []
    for name in (credentials.access_key_env, credentials.secret_key_env):
        if not environ.get(name):
            raise ExitkitError(f"credentials: environment variable {name} is not set")
        values.append(SecretStr(environ[name]))
    return Keys(*values)


def _digest(path: str | os.PathLike[str]) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise ExitkitError(f"{path}: cannot read ({exc.strerror})") from None


class _Account:
    """boto3 clients for one account and region (checksums only when required)."""

    def __init__(self, options: AssessOptions, keys: Keys) -> None:
        self.options, self.keys = options, keys
        self.label = options.endpoint or f"aws {options.region}"

    def client(self, service: str):
        config = Config(s3={"addressing_style": "path"},
                        retries={"mode": "standard", "max_attempts": 5},
                        max_pool_connections=BUCKET_CONCURRENCY * 2,
                        request_checksum_calculation="when_required",
                        response_checksum_validation="when_required")
        return boto3.client(service, endpoint_url=self.options.endpoint,
                            region_name=self.options.region, config=config,
                            aws_access_key_id=self.keys.access_key.get_secret_value(),
                            aws_secret_access_key=self.keys.secret_key.get_secret_value())


def _read_account(account: _Account, options: AssessOptions, catalog: Catalog,
                  vm_target: CatalogEntry | None, on: date, estate: _Estate) -> None:
    s3, kms = account.client("s3"), account.client("kms")
    try:
        buckets = [bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise EndpointError(account.label, f"ListBuckets refused ({code})") from None
    except BotoCoreError as exc:
        raise EndpointError(account.label, f"cannot list buckets ({type(exc).__name__})") \
            from None
    def read(name: str):
        settings = read_bucket_settings(s3, name, kms, f"s3://{name}")
        try:
            location = s3.get_bucket_location(Bucket=name).get("LocationConstraint")
        except (ClientError, BotoCoreError):
            location = None
        try:
            size = measure_bucket(s3, name, settings.versioning in ("Enabled", "Suspended"),
                                  options.quick)
        except EndpointError as exc:
            estate.skipped.append(SkippedResource(kind="bucket size", name=name,
                                                  reason=str(exc)))
            size = None
        return name, location or "us-east-1", "api", settings, size

    # boto3 clients are thread-safe; the pool's map keeps the buckets in name order
    with ThreadPoolExecutor(BUCKET_CONCURRENCY) as pool:
        estate.buckets += pool.map(read, sorted(buckets))
    if vm_target is not None:
        section = VmSection(source=VmSource(provider="aws-ec2", endpoint=options.endpoint,
                                            region=options.region,
                                            credentials=options.credentials),
                            target_catalog=vm_target.name)
        try:
            plan = plan_vms(section, account.keys, catalog, on)
            estate.vms += [("api", entry) for entry in plan.vms]
        except EndpointError as exc:
            estate.skipped.append(SkippedResource(kind="ec2", name="*", reason=str(exc)))
    images, registries = registry_images(account.client("ecr"), options.region,
                                         estate.skipped)
    estate.images += images
    services = AccountServices(account.client, options.region)
    estate.services += [*registries, *services.all()]
    estate.skipped += services.skipped


def _add_state(state: StateEstate, catalog: Catalog, vm_target: CatalogEntry | None,
               source_entry: CatalogEntry | None, estate: _Estate) -> None:
    """Add what *state* describes and the account did not already show."""
    known = {name for name, *_ in estate.buckets}
    for name, (region, settings) in sorted(state.buckets.items()):
        if name in known:
            estate.skipped.append(SkippedResource(kind="aws_s3_bucket", name=name, reason=(
                f"also found in the account; the live reading is assessed ({state.path})")))
            continue
        estate.buckets.append((name, region, "state file", settings, None))
    known_vms = {entry.id for _, entry in estate.vms}
    for instance in state.instances:
        if instance.id in known_vms:
            continue
        if vm_target is None:
            estate.skipped.append(SkippedResource(kind="aws_instance", name=instance.id,
                                                  reason="no VM target catalog entry"))
            continue
        estate.vms.append(("state file", plan_instance(instance, source_entry, vm_target,
                                                       catalog)))
    known_services = {(s.service, s.name) for s in estate.services}
    estate.services += [s for s in state.services if (s.service, s.name) not in known_services]
    estate.skipped += state.skipped
    estate.state_resources += state.counted


def _target_capabilities(entry: CatalogEntry) -> Capabilities:
    profile = S3_PROFILES.get(entry.provider)
    return profile.capabilities if profile else S3_BASICS


def _bucket_asset(row, target: CatalogEntry, capabilities: Capabilities) -> Asset:
    name, region, found_by, settings, size = row
    classes = size.storage_classes if size else {}
    measure = size.measure if size else SizeMeasure(
        method="unknown", exact=False, caveat="read from a state file, which holds no object "
                                              "counts: assess the account to measure it")
    findings = bucket_findings(settings, classes, size.noncurrent_versions if size else 0,
                               target.name, capabilities)
    return Asset(id=f"s3://{name}", kind="bucket", name=name, region=region,
                 found_by=found_by, size=measure, storage_classes=classes,
                 settings=settings.as_dict(), findings=findings, verdict=verdict_of(findings))


def _vm_asset(found_by: str, entry: VmPlanEntry) -> Asset:
    findings = vm_findings(entry)
    gib = sum(volume.size_gib for volume in entry.volumes)
    settings = {"instance_type": entry.instance_type, "state": entry.state,
                "image": entry.image.id, "volumes": len(entry.volumes),
                "target_size": entry.target_size.name if entry.target_size else None,
                "monthly_source_eur": entry.source_size.price_month_eur
                if entry.source_size else None,
                "monthly_target_eur": entry.target_size.price_month_eur
                if entry.target_size else None,
                "managed_services": [name.strip() for name in entry.tags.get(
                    MANAGED_SERVICE_TAG, "").split(",") if name.strip()] or None}
    return Asset(id=f"ec2:{entry.id}", kind="vm", name=entry.name or entry.id,
                 found_by=found_by, size=SizeMeasure(
                     bytes=gib * GIB, method="provisioned", exact=False,
                     caveat="sum of attached EBS volume sizes: provisioned, not used "
                            "(the data is at most this)") if entry.volumes else SizeMeasure(
                     method="unknown", exact=False, caveat="no volume described"),
                 settings={k: v for k, v in settings.items() if v is not None},
                 findings=findings, verdict=verdict_of(findings))


def _cost_model(catalog: Catalog, options: AssessOptions, target: CatalogEntry
                ) -> tuple[CostModel, list[str]]:
    notes = []
    if options.source_catalog:
        source = catalog.get(options.source_catalog)
    else:
        source = catalog.for_endpoint("aws-s3", options.region)
        if source is None:
            source = catalog.get("aws-s3-us-east-1")
            notes.append(f"no catalog entry for aws-s3 in {options.region}: source priced as "
                         f"{source.name}")
    return CostModel(catalog, source, target), notes


def _ordered(assets: list[Asset]) -> list[Asset]:
    return sorted(assets, key=lambda a: (bool(a.drills), -VERDICT_ORDER.index(a.verdict),
                                         a.kind, a.id))


def assess(options: AssessOptions, environ: Mapping[str, str] | None = None) -> Assessment:
    """Assess the estate *options* name: the account (when it has credentials) and the
    state files. Raises ExitkitError for bad input and unreachable endpoints."""
    environ = os.environ if environ is None else environ
    if options.credentials is None and not options.state_files:
        raise ExitkitError("nothing to assess: give credential variables for an account, "
                           "or a state file (--state) for the offline mode")
    on = options.on or date.today()
    catalog = load_catalog(options.catalog_dirs)
    target = catalog.get(options.target_catalog)
    vm_target_name = options.vm_target_catalog or (target.name if target.compute_sizes
                                                   else None)
    vm_target = catalog.get(vm_target_name) if vm_target_name else None
    model, notes = _cost_model(catalog, options, target)
    estate = _Estate()
    inputs: list[InputDigest] = []
    if options.credentials is not None:
        account = _Account(options, _keys(options.credentials, environ))
        _read_account(account, options, catalog, vm_target, on, estate)
    for path in options.state_files:
        state = read_state(path)
        inputs.append(InputDigest(name=f"state file {path}", sha256=state.sha256))
        _add_state(state, catalog, vm_target, model.source, estate)
    evidence = read_ledger(options.ledger)
    if options.ledger:
        inputs.append(InputDigest(name=f"ledger {options.ledger}", sha256=_digest(options.ledger)))
    used = [model.source.name, target.name, *([vm_target.name] if vm_target else [])]
    inputs += [InputDigest(name=f"catalog {catalog.origins[name]}",
                           sha256=_digest(catalog.origins[name])) for name in dict.fromkeys(used)]
    for origin in (catalog.replacements_origin, catalog.fx_origin):
        if origin:
            inputs.append(InputDigest(name=f"catalog {origin}", sha256=_digest(origin)))
    capabilities = _target_capabilities(target)
    assets = [_bucket_asset(row, target, capabilities) for row in estate.buckets]
    assets += [_vm_asset(found_by, entry) for found_by, entry in estate.vms]
    assets += estate.images
    assets += [service_asset(found, catalog.replacements) for found in estate.services]
    estate_rate = estate_throughput(evidence)
    assets, total_usage = _projected(assets, evidence, estate_rate, model, on)
    return Assessment(
        assessed_at=datetime.now(UTC), assessed_on=on, exitkit_version=__version__,
        source=SourceAccount(provider="aws", endpoint=options.endpoint,
                             region=options.region if options.credentials else None,
                             catalog=model.source.name, state_files=list(options.state_files)),
        target_catalog=target.name, vm_target_catalog=vm_target_name, quick=options.quick,
        ledger=options.ledger,
        default_throughput={"bytes_per_s": default_throughput().bytes_per_s,
                            "objects_per_s": default_throughput().objects_per_s},
        assets=assets,
        coverage=Coverage(counted=_counted(assets, estate), skipped=estate.skipped,
                          inputs=inputs, not_covered=NOT_COVERED),
        totals=_totals(assets, total_usage, model, on),
        assumptions=[
            "durations: each asset at its basis throughput on one host, one asset after "
            "another; restores of archived objects at the bulk tier, their longest latency "
            "added",
            "costs: list prices from the catalog (each line cites its source and date) "
            "under every switching-charge regime; egress tiers applied to the estate as one "
            "billing month",
            "requests: one GET per object and one LIST per 1,000 at the source, one PUT per "
            "object at the target; the data kept on the target for the exit's duration "
            "(at least a day)",
            *notes])


def _projected(assets: list[Asset], evidence: LedgerEvidence, estate_rate: Throughput,
               model: CostModel, on: date) -> tuple[list[Asset], Usage | None]:
    done, total = [], None
    for asset in assets:
        drills = evidence.drills_of(asset.id)
        size = asset.size
        projection = None
        if size.bytes is not None:
            rate = asset_throughput(asset.id, evidence, estate_rate)
            projection, usage = project_asset(size.objects or 0, size.bytes,
                                              asset.storage_classes, size.exact, rate,
                                              model, on)
            if size.method == "provisioned":
                projection = projection.model_copy(update={"cost_bound": "upper bound"})
            total = usage if total is None else add_usage(total, usage)
        done.append(asset.model_copy(update={"drills": drills, "projection": projection}))
    return _ordered(done), total


def _counted(assets: list[Asset], estate: _Estate) -> dict[str, int]:
    counted: dict[str, int] = {}
    for asset in assets:
        counted[asset.kind] = counted.get(asset.kind, 0) + 1
    if estate.state_resources:
        counted["state file resources"] = estate.state_resources
    return counted


def _estate_bound(assets: list[Asset]) -> str:
    """Exact when every size is; a lower bound when a size is sampled or unknown (the
    exit moves at least what was counted); else an upper bound (provisioned capacity)."""
    bounds = {asset.projection.cost_bound if asset.projection else "lower bound"
              for asset in assets}
    if "lower bound" in bounds:
        return "lower bound"
    return "upper bound" if "upper bound" in bounds else "exact"


def _totals(assets: list[Asset], usage: Usage | None, model: CostModel, on: date
            ) -> EstateTotals:
    projected = [asset.projection for asset in assets if asset.projection]
    duration = sum(projection.duration_s for projection in projected)
    verdicts = {verdict: sum(asset.verdict == verdict for asset in assets)
                for verdict in VERDICT_ORDER}
    exact = all(asset.size.exact and asset.size.bytes is not None for asset in assets)
    return EstateTotals(
        assets=len(assets), verdicts=verdicts,
        never_drilled=sum(not asset.drills for asset in assets),
        bytes=sum(asset.size.bytes or 0 for asset in assets), bytes_exact=exact,
        duration_s=round(duration, 3),
        unsized=sum(asset.projection is None for asset in assets),
        costs=price(model, usage, on) if usage else [],
        cost_bound=_estate_bound(assets), applicable_regime=applicable_regime(on),
        data_act_transition_days=DATA_ACT_TRANSITION.days,
        data_act_extended_days=DATA_ACT_EXTENDED.days,
        fits_transition=duration <= DATA_ACT_TRANSITION.total_seconds(),
        fits_extended=duration <= DATA_ACT_EXTENDED.total_seconds())
