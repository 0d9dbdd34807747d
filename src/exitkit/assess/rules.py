"""Judge each asset: findings (code, severity, verdict, detail with the remedy) and the
verdict they add up to (the worst of them). The rules are listed in docs/assess.md."""

from collections.abc import Iterable, Mapping

from exitkit.assess.bucket_settings import BucketSettings
from exitkit.assess.model import (SEVERITY_ORDER, VERDICT_ORDER, AssetVerdict, Finding,
                                  StorageClassSize)
from exitkit.evidence.summary import human_bytes
from exitkit.evidence.vm_record import VmPlanEntry
from exitkit.providers.archive import needs_restore, restore_hours
from exitkit.providers.contract import Capabilities

#: KMS key states in which S3 cannot decrypt an object for anyone
UNUSABLE_KEY_STATES = frozenset({"Disabled", "PendingDeletion", "PendingImport",
                                 "Unavailable", "PendingReplicaDeletion"})


def verdict_of(findings: Iterable[Finding]) -> AssetVerdict:
    """The worst verdict among *findings*; portable when there are none."""
    return max((finding.verdict for finding in findings), key=VERDICT_ORDER.index,
               default="portable")


def bucket_findings(settings: BucketSettings, classes: Mapping[str, StorageClassSize],
                    noncurrent: int, target_name: str, target: Capabilities) -> list[Finding]:
    """Every reason *settings* and the stored classes make a bucket hard to move to
    *target* (named *target_name*), worst first."""
    found = [*_encryption(settings, target_name, target),
             *_object_lock(settings, target_name, target),
             *_archive(classes, target_name, target), *_configuration(settings)]
    if noncurrent:
        found.append(Finding(
            code="noncurrent-versions", severity="low" if target.versioning else "high",
            verdict="needs work", detail=f"{noncurrent} noncurrent versions: drill with "
            f"'versions: all' to carry them" + ("" if target.versioning else
                                                 f"; {target_name} keeps no versions")))
    for name, code in sorted(settings.unreadable.items()):
        found.append(Finding(code="setting-unreadable", severity="medium", verdict="needs work",
                             detail=f"{name} could not be read ({code}): grant the assessing "
                                    f"principal read access to the bucket's configuration "
                                    f"and assess again"))
    return sorted(found, key=lambda f: (-VERDICT_ORDER.index(f.verdict),
                                        -SEVERITY_ORDER.index(f.severity), f.code))


def _encryption(settings: BucketSettings, target_name: str,
                target: Capabilities) -> list[Finding]:
    encryption = settings.encryption or {}
    algorithm = encryption.get("algorithm")
    if not algorithm:
        return []
    if not algorithm.startswith("aws:kms"):
        if target.sse_s3:
            return [Finding(code="sse-s3", severity="info", verdict="portable", detail=(
                f"default encryption {algorithm}: S3 decrypts on read; {target_name} "
                f"encrypts at rest with its own keys"))]
        return [Finding(code="encryption-lost", severity="medium", verdict="needs work",
                        detail=f"default encryption {algorithm}: {target_name} declares no "
                               f"server-side encryption, so a drill finds each object's "
                               f"encryption lost: encrypt the target's storage and accept "
                               f"the loss (accept_gaps: encryption) with that reason")]
    key = settings.kms_key
    key_id = encryption.get("kms_key_id", "aws/s3 (AWS managed)")
    if key and (key.error or key.state in UNUSABLE_KEY_STATES):
        why = f"is {key.state}" if key.state else f"cannot be described ({key.error}): it " \
              f"belongs to another account, was deleted, or the key policy denies this principal"
        return [Finding(code="kms-key-unusable", severity="high", verdict="blocked", detail=(
            f"objects are encrypted under KMS key {key_id}, which {why}; S3 decrypts them "
            f"for no one, so they cannot leave: enable the key (or cancel its deletion, or "
            f"grant kms:Decrypt), then re-encrypt on the target with a key of its own"))]
    origin = key.origin if key and key.origin else "unknown origin"
    return [Finding(code="kms-key-stays", severity="medium", verdict="needs work", detail=(
        f"SSE-KMS under key {key_id} ({origin}): its key material cannot be exported, so "
        f"objects leave only as S3 decrypts them: the exit principal needs kms:Decrypt until "
        f"the copy is verified, and the target must encrypt with a key of its own"))]


def _object_lock(settings: BucketSettings, target_name: str,
                 target: Capabilities) -> list[Finding]:
    lock = settings.object_lock
    if not lock or not lock.get("enabled"):
        return []
    mode = lock.get("mode")
    period = ", ".join(f"{value} {unit}" for unit, value in lock.items()
                       if unit in ("days", "years"))
    default = f"default retention {mode} {period}" if mode else "no default retention"
    if target.object_lock:
        return [Finding(code="object-lock", severity="low", verdict="needs work", detail=(
            f"Object Lock ({default}): {target_name} holds Object Lock; the drill carries "
            f"each object's retention and legal hold, and the bucket must be created with "
            f"Object Lock enabled"))]
    if mode == "COMPLIANCE":
        return [Finding(code="object-lock-compliance", severity="high", verdict="blocked",
                        detail=(f"Object Lock {default}: compliance-mode records must stay "
                                f"immutable until their retention ends, and {target_name} has "
                                f"no Object Lock: choose a target with Object Lock in "
                                f"compliance mode, or keep these objects until retention "
                                f"ends"))]
    return [Finding(code="object-lock-lost", severity="high", verdict="needs work", detail=(
        f"Object Lock ({default}): {target_name} has no Object Lock, so retention and legal "
        f"holds would be lost: choose a target with Object Lock, or accept the loss in the "
        f"drill (accept_losses) with the reason"))]


def _archive(classes: Mapping[str, StorageClassSize], target_name: str,
             target: Capabilities) -> list[Finding]:
    found = []
    archived = {name: size for name, size in classes.items() if needs_restore(name)}
    if archived:
        longest = max(restore_hours(name, "bulk") or 0.0 for name in archived)
        held = ", ".join(f"{size.objects} in {name} ({human_bytes(size.bytes)})"
                         for name, size in archived.items())
        found.append(Finding(code="archived-objects", severity="medium", verdict="needs work",
                             detail=f"{held}: each needs a restore before it can be read "
                                    f"(bulk: up to {longest:g} h, retrieval charged); give "
                                    f"the drill a restore section"))
    foreign = sorted(set(classes) - set(target.storage_classes) - {"STANDARD"})
    if foreign:
        found.append(Finding(code="storage-class-mapping", severity="low", verdict="needs work",
                             detail=f"{', '.join(foreign)} have no equivalent at {target_name}: "
                                    f"map them in the drill (target.storage_classes)"))
    return found


def _configuration(settings: BucketSettings) -> list[Finding]:
    """Settings that must be re-created or translated on the target."""
    found = []

    def add(code, severity, detail):
        found.append(Finding(code=code, severity=severity, verdict="needs work", detail=detail))

    if settings.replication_destinations:
        destinations = ", ".join(settings.replication_destinations)
        add("replication", "medium", f"replicates to {destinations}: "
            "the replicas are assets too; re-create replication on the target")
    if settings.website:
        add("website", "medium", "static website hosting: its endpoint and DNS change; carry "
            "the configuration with bucket_config where the target serves websites")
    block = settings.public_access_block or {}
    if ((settings.policy_public and not block.get("RestrictPublicBuckets"))
            or (settings.acl_public and not block.get("IgnorePublicAcls"))):
        add("public-access", "medium", "grants public read (policy or ACL): public URLs change "
            "with the endpoint; re-create the grant on the target and redirect clients")
    principals = [p for p in settings.policy_principals or [] if p.startswith("arn:aws:")]
    if principals:
        add("policy-principals", "medium", f"bucket policy names AWS principals "
            f"({', '.join(principals)}): translate them to the target's identities")
    if settings.notification_targets:
        add("notifications", "medium", f"event notifications to "
            f"{', '.join(settings.notification_targets)}: managed services to replace first")
    if settings.lifecycle_rules:
        transitions = sorted({c for rule in settings.lifecycle_rules for c in rule["transitions"]})
        add("lifecycle", "low", f"{len(settings.lifecycle_rules)} lifecycle rule(s)"
            + (f" moving objects to {', '.join(transitions)}" if transitions else "")
            + ": re-create them with the target's classes")
    if settings.cors_rules:
        add("cors", "low", f"{settings.cors_rules} CORS rule(s): carry with bucket_config")
    if settings.requester_pays:
        add("requester-pays", "low", "Requester Pays: readers outside the account pay; the "
            "exit copy must send x-amz-request-payer (source.requester_pays: true) or the "
            "owner switches it off for the exit")
    return found


def vm_findings(entry: VmPlanEntry) -> list[Finding]:
    """The VM plan's blockers as findings (docs/vm-plans.md has the rules)."""
    if not entry.blockers:
        return [Finding(code="image-exportable", severity="info", verdict="portable",
                        detail=entry.image.reason)]
    return [Finding(code=blocker.code, severity="high", verdict="blocked",
                    detail=blocker.detail) for blocker in entry.blockers]
