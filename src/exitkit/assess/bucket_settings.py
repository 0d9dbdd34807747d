"""Read a bucket's configuration: what must move with it, and what may stop it moving.

Read with boto3: libcloud's storage drivers have no call for any bucket configuration
(versioning, Object Lock, lifecycle, replication, website, CORS, policy, public access,
default encryption, notifications, Requester Pays, tags). Every read is a GET; a setting
the source does not hold (its ``NoSuch...``/``...NotFound`` answer) is None, and one the
credentials may not read is listed in :attr:`BucketSettings.unreadable` with its error
code, never guessed.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from exitkit.errors import EndpointError

#: the answer codes S3 gives for a setting the bucket does not have
ABSENT_CODES = frozenset({
    "NoSuchLifecycleConfiguration", "ReplicationConfigurationNotFoundError",
    "NoSuchWebsiteConfiguration", "NoSuchCORSConfiguration", "NoSuchBucketPolicy",
    "NoSuchPublicAccessBlockConfiguration", "ServerSideEncryptionConfigurationNotFoundError",
    "ObjectLockConfigurationNotFoundError", "NoSuchTagSet", "NoSuchKey",
    "OwnershipControlsNotFoundError", "NotImplemented"})
PUBLIC_GRANTEES = ("http://acs.amazonaws.com/groups/global/AllUsers",
                   "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")


@dataclass
class KmsKey:
    """A KMS key a bucket encrypts with, as DescribeKey reports it (None fields: unknown)."""

    key_id: str
    state: str | None
    origin: str | None
    manager: str | None
    multi_region: bool | None
    error: str | None = None


@dataclass
class BucketSettings:
    """One bucket's configuration, secret-free (policies are kept as principals and
    whether they grant the public, not as documents)."""

    versioning: str | None = None
    object_lock: dict[str, Any] | None = None
    lifecycle_rules: list[dict[str, Any]] | None = None
    replication_destinations: list[str] | None = None
    website: dict[str, Any] | None = None
    cors_rules: int | None = None
    policy_principals: list[str] | None = None
    policy_public: bool = False
    public_access_block: dict[str, bool] | None = None
    acl_public: bool = False
    encryption: dict[str, Any] | None = None
    kms_key: KmsKey | None = None
    notification_targets: list[str] | None = None
    requester_pays: bool = False
    tags: dict[str, str] | None = None
    unreadable: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The settings held, for the assessment (unset ones left out)."""
        shown = {name: value for name, value in vars(self).items()
                 if value not in (None, False, {}, [])}
        if self.kms_key:
            shown["kms_key"] = {name: value for name, value in vars(self.kms_key).items()
                                if value is not None}
        return shown


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "") or str(
        exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "error"))


class _Reader:
    """Runs each read, sorting its answer into held, absent or unreadable."""

    def __init__(self, label: str, settings: BucketSettings) -> None:
        self.label, self.settings = label, settings

    def read(self, name: str, call, *args, **kwargs) -> dict[str, Any] | None:
        try:
            return call(*args, **kwargs)
        except ClientError as exc:
            code = _code(exc)
            if code in ABSENT_CODES:
                return None
            self.settings.unreadable[name] = code
            return None
        except BotoCoreError as exc:
            raise EndpointError(self.label, f"reading {name}: {type(exc).__name__}") from None


def read_bucket_settings(s3, bucket: str, kms=None, label: str = "") -> BucketSettings:
    """Read every setting of *bucket* with the boto3 client *s3*; with *kms* (a boto3 KMS
    client), also describe the default encryption's key."""
    settings = BucketSettings()
    reader = _Reader(label or f"s3://{bucket}", settings)
    answer = reader.read("versioning", s3.get_bucket_versioning, Bucket=bucket)
    settings.versioning = answer.get("Status") if answer else None
    answer = reader.read("object_lock", s3.get_object_lock_configuration, Bucket=bucket)
    if answer:
        config = answer.get("ObjectLockConfiguration", {})
        retention = config.get("Rule", {}).get("DefaultRetention", {})
        settings.object_lock = {"enabled": config.get("ObjectLockEnabled") == "Enabled",
                                **({"mode": retention["Mode"]} if "Mode" in retention else {}),
                                **{unit.lower(): retention[unit] for unit in ("Days", "Years")
                                   if retention.get(unit)}}
    answer = reader.read("lifecycle", s3.get_bucket_lifecycle_configuration, Bucket=bucket)
    if answer:
        settings.lifecycle_rules = [_lifecycle_rule(rule) for rule in answer.get("Rules", [])]
    answer = reader.read("replication", s3.get_bucket_replication, Bucket=bucket)
    if answer:
        settings.replication_destinations = sorted({
            rule.get("Destination", {}).get("Bucket", "")
            for rule in answer.get("ReplicationConfiguration", {}).get("Rules", [])})
    answer = reader.read("website", s3.get_bucket_website, Bucket=bucket)
    if answer:
        settings.website = {key: answer[key] for key in ("IndexDocument", "ErrorDocument",
                                                         "RedirectAllRequestsTo") if key in answer}
        settings.website["routing_rules"] = len(answer.get("RoutingRules", []))
    answer = reader.read("cors", s3.get_bucket_cors, Bucket=bucket)
    settings.cors_rules = len(answer.get("CORSRules", [])) if answer else None
    answer = reader.read("policy", s3.get_bucket_policy, Bucket=bucket)
    if answer and answer.get("Policy"):
        settings.policy_principals, settings.policy_public = policy_principals(
            answer["Policy"])
    answer = reader.read("public_access_block", s3.get_public_access_block, Bucket=bucket)
    if answer:
        settings.public_access_block = dict(answer.get("PublicAccessBlockConfiguration", {}))
    answer = reader.read("acl", s3.get_bucket_acl, Bucket=bucket)
    settings.acl_public = bool(answer) and any(
        grant.get("Grantee", {}).get("URI") in PUBLIC_GRANTEES
        for grant in answer.get("Grants", []))
    answer = reader.read("encryption", s3.get_bucket_encryption, Bucket=bucket)
    if answer:
        rule = (answer.get("ServerSideEncryptionConfiguration", {}).get("Rules") or [{}])[0]
        default = rule.get("ApplyServerSideEncryptionByDefault", {})
        settings.encryption = {"algorithm": default.get("SSEAlgorithm"),
                               **({"kms_key_id": default["KMSMasterKeyID"]}
                                  if default.get("KMSMasterKeyID") else {}),
                               "bucket_key": bool(rule.get("BucketKeyEnabled"))}
        key_id = default.get("KMSMasterKeyID")
        if key_id and kms is not None:
            settings.kms_key = describe_key(kms, key_id)
    answer = reader.read("notifications", s3.get_bucket_notification_configuration,
                         Bucket=bucket)
    if answer:
        targets = [item.get(arn) for kind, arn in (
            ("TopicConfigurations", "TopicArn"), ("QueueConfigurations", "QueueArn"),
            ("LambdaFunctionConfigurations", "LambdaFunctionArn"))
            for item in answer.get(kind, [])]
        settings.notification_targets = sorted(filter(None, targets)) or None
        if answer.get("EventBridgeConfiguration") is not None:
            settings.notification_targets = [*(settings.notification_targets or []),
                                             "eventbridge"]
    answer = reader.read("request_payment", s3.get_bucket_request_payment, Bucket=bucket)
    settings.requester_pays = bool(answer) and answer.get("Payer") == "Requester"
    answer = reader.read("tags", s3.get_bucket_tagging, Bucket=bucket)
    settings.tags = {tag["Key"]: tag["Value"] for tag in answer.get("TagSet", [])} \
        if answer else None
    return settings


def describe_key(kms, key_id: str) -> KmsKey:
    """What KMS says of *key_id*; a refusal (another account, no permission, deleted) is
    kept as its error code."""
    try:
        meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    except ClientError as exc:
        return KmsKey(key_id, None, None, None, None, error=_code(exc))
    except BotoCoreError as exc:
        return KmsKey(key_id, None, None, None, None, error=type(exc).__name__)
    return KmsKey(key_id, meta.get("KeyState"), meta.get("Origin"), meta.get("KeyManager"),
                  meta.get("MultiRegion"))


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    transitions = sorted({t.get("StorageClass", "") for t in rule.get("Transitions", [])})
    return {"id": rule.get("ID", ""), "status": rule.get("Status", ""),
            "transitions": transitions, "expires": "Expiration" in rule}


def policy_principals(document: str) -> tuple[list[str], bool]:
    """The principals a policy names and whether it grants anyone (``*``) anything."""
    try:
        statements = json.loads(document).get("Statement", [])
    except (ValueError, AttributeError):
        return ["(unparsable policy)"], False
    if isinstance(statements, dict):
        statements = [statements]
    principals, public = set(), False
    for statement in statements:
        principal = statement.get("Principal")
        values = ([principal] if isinstance(principal, str) else
                  [v for group in (principal or {}).values()
                   for v in (group if isinstance(group, list) else [group])])
        principals.update(values)
        public |= statement.get("Effect") == "Allow" and "*" in values and not statement.get(
            "Condition")
    return sorted(principals), public
