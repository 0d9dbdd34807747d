"""Offline mode: read an estate from a Terraform/OpenTofu state file, without credentials.

The raw state (``terraform.tfstate``, format version 4; no ``terraform`` binary is needed)
lists every managed resource with its attributes. Buckets (with
the settings of their ``aws_s3_bucket_*`` companion resources), EC2 instances and managed
services are read; every other resource type is counted as skipped with its reason. A
state holds no object counts: bucket sizes are "unknown".
"""

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from libcloud.compute.constants.ec2_instance_types import INSTANCE_TYPES

from exitkit.assess.bucket_settings import BucketSettings, KmsKey, policy_principals
from exitkit.assess.model import SkippedResource
from exitkit.assess.services import FoundService, engine_kind, provisioned
from exitkit.errors import SpecError
from exitkit.providers.ec2 import Ec2Instance, Ec2Volume, InstanceShape

#: managed-service resource types -> (replacement-table kind, service label)
SERVICE_TYPES = {
    "aws_sqs_queue": ("queue", "sqs"), "aws_sns_topic": ("topic", "sns"),
    "aws_lambda_function": ("function", "lambda"), "aws_kms_key": ("kms", "kms"),
    "aws_dynamodb_table": ("dynamodb", "dynamodb"),
    "aws_elasticache_cluster": ("redis", "elasticache"),
    "aws_elasticache_replication_group": ("redis", "elasticache"),
    "aws_ecr_repository": ("registry", "ecr"), "aws_kinesis_stream": ("kinesis", "kinesis"),
    "aws_cognito_user_pool": ("identity", "cognito"), "aws_redshift_cluster":
    ("warehouse", "redshift"),
}
#: resource types that configure something assessed elsewhere, or need no move
IGNORED_TYPES = {
    "aws_iam_": "identities and permissions are re-created on the target, not moved",
    "aws_security_group": "network rules are re-created with the target's network",
    "aws_vpc": "networks are re-created on the target", "aws_subnet": "networks are "
    "re-created on the target", "aws_route53_": "DNS moves with the domain, not the cloud",
}


@dataclass
class StateEstate:
    """What a state file describes."""

    path: str
    sha256: str
    buckets: dict[str, tuple[str | None, BucketSettings]] = field(default_factory=dict)
    instances: list[Ec2Instance] = field(default_factory=list)
    services: list[FoundService] = field(default_factory=list)
    skipped: list[SkippedResource] = field(default_factory=list)
    counted: int = 0


def read_state(path: str | os.PathLike[str]) -> StateEstate:
    """Read *path*; a malformed state raises SpecError naming file, line and field."""
    label = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise SpecError(label, None, None, f"cannot read the state file ({exc.strerror})") \
            from None
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise SpecError(label, line, None, "not a JSON Terraform/OpenTofu state") from None
    if not isinstance(document, dict) or not isinstance(document.get("resources"), list):
        raise SpecError(label, 1, "resources", "missing: not a Terraform/OpenTofu state")
    if document.get("version") != 4:
        raise SpecError(label, _line(raw, '"version"'), "version",
                        f"state format {document.get('version')!r} is not supported (4 is)")
    estate = StateEstate(label, hashlib.sha256(raw).hexdigest())
    companions = []
    for index, resource in enumerate(document["resources"]):
        where = f"resources[{index}]"
        if not isinstance(resource, dict) or not isinstance(resource.get("type"), str):
            raise SpecError(label, _line(raw, '"resources"'), f"{where}.type", "missing")
        kind, name = resource["type"], resource.get("name", "?")
        for attributes in _instances(resource, raw, label, where):
            if resource.get("mode") == "data":
                estate.skipped.append(SkippedResource(kind=kind, name=name, reason=(
                    "a data source: read by Terraform, not managed in this state")))
            elif kind == "aws_s3_bucket":
                bucket = attributes.get("bucket") or attributes.get("id") or name
                estate.buckets[bucket] = (attributes.get("region"),
                                          _inline_bucket_settings(attributes))
                estate.counted += 1
            elif kind.startswith("aws_s3_bucket_"):
                companions.append((kind, name, attributes))
            elif kind == "aws_instance":
                estate.instances.append(_instance(attributes, name))
                estate.counted += 1
            elif kind in ("aws_db_instance", "aws_rds_cluster"):
                estate.services.append(_database(attributes, name))
                estate.counted += 1
            elif kind in SERVICE_TYPES:
                service_kind, service = SERVICE_TYPES[kind]
                estate.services.append(FoundService(
                    kind=service_kind, service=service, found_by="state file",
                    name=str(attributes.get("name") or attributes.get("id") or name),
                    region=attributes.get("region")))
                estate.counted += 1
            else:
                reason = next((why for prefix, why in IGNORED_TYPES.items()
                               if kind.startswith(prefix)),
                              f"no assessment rule for resource type {kind}")
                estate.skipped.append(SkippedResource(kind=kind, name=name, reason=reason))
    for kind, name, attributes in companions:
        _apply_companion(estate, kind, name, attributes)
    return estate


def _line(raw: bytes, needle: str) -> int | None:
    at = raw.find(needle.encode())
    return raw.count(b"\n", 0, at) + 1 if at >= 0 else None


def _instances(resource: dict, raw: bytes, label: str, where: str) -> Iterator[dict]:
    instances = resource.get("instances", [])
    if not isinstance(instances, list):
        raise SpecError(label, _line(raw, f'"name": "{resource.get("name")}"'),
                        f"{where}.instances", "must be a list")
    for number, instance in enumerate(instances):
        attributes = instance.get("attributes") if isinstance(instance, dict) else None
        if not isinstance(attributes, dict):
            raise SpecError(label, _line(raw, f'"name": "{resource.get("name")}"'),
                            f"{where}.instances[{number}].attributes", "missing")
        yield attributes


def _first(attributes: dict, name: str) -> dict:
    """The first block of a nested block list (Terraform stores blocks as lists)."""
    value = attributes.get(name) or [{}]
    return value[0] if isinstance(value, list) and value else {}


def _inline_bucket_settings(attributes: dict) -> BucketSettings:
    """Settings an ``aws_s3_bucket`` holds inline (AWS provider < 4 keeps them there)."""
    settings = BucketSettings()
    if _first(attributes, "versioning").get("enabled"):
        settings.versioning = "Enabled"
    if attributes.get("object_lock_enabled"):
        settings.object_lock = {"enabled": True}
    settings.requester_pays = attributes.get("request_payer") == "Requester"
    settings.tags = attributes.get("tags") or None
    return settings


def _apply_companion(estate: StateEstate, kind: str, name: str, attributes: dict) -> None:
    bucket = attributes.get("bucket")
    if bucket not in estate.buckets:
        estate.skipped.append(SkippedResource(kind=kind, name=name, reason=(
            f"configures bucket {bucket!r}, which this state does not manage")))
        return
    settings = estate.buckets[bucket][1]
    if kind == "aws_s3_bucket_versioning":
        settings.versioning = _first(attributes, "versioning_configuration").get("status")
    elif kind == "aws_s3_bucket_object_lock_configuration":
        retention = _first(_first(attributes, "rule"), "default_retention")
        settings.object_lock = {"enabled": True, **({"mode": retention["mode"]}
                                                    if retention.get("mode") else {}),
                                **{unit: retention[unit] for unit in ("days", "years")
                                   if retention.get(unit)}}
    elif kind == "aws_s3_bucket_server_side_encryption_configuration":
        default = _first(_first(attributes, "rule"), "apply_server_side_encryption_by_default")
        settings.encryption = {"algorithm": default.get("sse_algorithm"),
                               **({"kms_key_id": default["kms_master_key_id"]}
                                  if default.get("kms_master_key_id") else {})}
        if default.get("kms_master_key_id"):  # offline: the key's state cannot be known
            settings.kms_key = KmsKey(default["kms_master_key_id"], None, None, None, None)
    elif kind == "aws_s3_bucket_website_configuration":
        settings.website = {"IndexDocument": _first(attributes, "index_document")}
    elif kind == "aws_s3_bucket_cors_configuration":
        settings.cors_rules = len(attributes.get("cors_rule") or [])
    elif kind == "aws_s3_bucket_lifecycle_configuration":
        settings.lifecycle_rules = [{"id": rule.get("id", ""), "status": rule.get("status", ""),
                                     "transitions": sorted(t.get("storage_class", "") for t in
                                                           rule.get("transition") or []),
                                     "expires": bool(rule.get("expiration"))}
                                    for rule in attributes.get("rule") or []]
    elif kind == "aws_s3_bucket_replication_configuration":
        settings.replication_destinations = sorted(
            _first(rule, "destination").get("bucket", "") for rule in attributes.get("rule") or [])
    elif kind == "aws_s3_bucket_policy":
        settings.policy_principals, settings.policy_public = policy_principals(
            attributes.get("policy") or "{}")
    elif kind == "aws_s3_bucket_public_access_block":
        settings.public_access_block = {  # named as the S3 API names them
            "".join(part.title() for part in key.split("_")): bool(attributes.get(key))
            for key in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                        "restrict_public_buckets")}
    elif kind == "aws_s3_bucket_notification":
        settings.notification_targets = sorted(
            item.get(arn, "") for block, arn in (("topic", "topic_arn"), ("queue", "queue_arn"),
                                                  ("lambda_function", "lambda_function_arn"))
            for item in attributes.get(block) or []) or None
    elif kind == "aws_s3_bucket_request_payment_configuration":
        settings.requester_pays = attributes.get("payer") == "Requester"
    else:
        estate.skipped.append(SkippedResource(kind=kind, name=name, reason=(
            f"no assessment rule for bucket setting {kind}")))
        return
    estate.counted += 1


def _shape(instance_type: str) -> InstanceShape | None:
    size = INSTANCE_TYPES.get(instance_type)
    if not size or not size.get("extra", {}).get("vcpu"):
        return None
    return InstanceShape(vcpus=float(size["extra"]["vcpu"]), memory_gib=size["ram"] / 1024,
                         gpus=int(size["extra"].get("gpu") or 0))


def _instance(attributes: dict, name: str) -> Ec2Instance:
    volumes = [(block, "root") for block in attributes.get("root_block_device") or []]
    volumes += [(block, "ebs") for block in attributes.get("ebs_block_device") or []]
    tags = attributes.get("tags") or {}
    return Ec2Instance(
        id=attributes.get("id") or name, name=tags.get("Name", name),
        state=attributes.get("instance_state") or "unknown",
        instance_type=attributes.get("instance_type", ""),
        shape=_shape(attributes.get("instance_type", "")), architecture=None,
        platform=attributes.get("platform"), platform_details=None, product_codes=(),
        image_id=attributes.get("ami", ""), image=None, tags=tags, user_data=None,
        volumes=tuple(Ec2Volume(id=block.get("volume_id") or f"{name}-{kind}-{number}",
                                device=block.get("device_name"),
                                size_gib=int(block.get("volume_size") or 0),
                                volume_type=block.get("volume_type"),
                                encrypted=bool(block.get("encrypted")))
                      for number, (block, kind) in enumerate(volumes)))


def _database(attributes: dict, name: str) -> FoundService:
    engine = attributes.get("engine") or "unknown"
    storage = attributes.get("allocated_storage")
    return FoundService(
        kind=engine_kind(engine), service=f"rds-{engine}", found_by="state file",
        name=str(attributes.get("identifier") or attributes.get("cluster_identifier") or name),
        region=attributes.get("region"),
        **({"size": provisioned(float(storage), "allocated_storage")} if storage else {}),
        settings={"engine_version": attributes.get("engine_version"),
                  "encrypted": bool(attributes.get("storage_encrypted"))})
