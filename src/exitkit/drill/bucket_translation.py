"""Translate a source bucket's settings for the target: bucket names and key prefixes in
lifecycle filters, website routing rules and policy resources; principals named in the
spec; storage classes through the spec's mapping; the target's KMS key.

What cannot be translated is a *blocker*: the setting is then not written at all (a
partial policy or lifecycle could open access or delete data the source keeps), and the
record says what blocked it and how to fix that.
"""

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from exitkit.drill.keys import KeyMap

#: Policy condition keys that name the source provider's accounts, networks, organisations
#: or keys: they mean nothing on another platform (compared in lower case).
PROVIDER_CONDITION_KEYS = frozenset({
    "aws:sourcevpc", "aws:sourcevpce", "aws:vpcsourceip", "aws:principalorgid",
    "aws:principalorgpaths", "aws:principalaccount", "aws:principalarn", "aws:sourceaccount",
    "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths", "aws:resourceaccount",
    "aws:resourceorgid", "aws:resourceorgpaths", "aws:calledvia", "aws:calledviafirst",
    "aws:calledvialast", "aws:viaawsservice", "aws:principalisawsservice",
    "aws:principalservicename", "s3:x-amz-server-side-encryption-aws-kms-key-id"})
_PROVIDER_CONDITION_PREFIXES = ("kms:", "aws:principaltag/", "aws:resourcetag/",
                                "aws:requesttag/")
_S3_ARN = re.compile(r"^arn:[a-z-]+:s3:::(?P<bucket>[^/]+)(?:/(?P<key>.*))?$")
#: The AWS default for lifecycle transitions of small objects; other values are reported.
DEFAULT_MINIMUM_SIZE = "all_storage_classes_128K"


@dataclass(frozen=True)
class TranslationContext:
    """What differs between the two buckets."""

    source_bucket: str
    target_bucket: str
    keys: KeyMap
    principals: Mapping[str, str] = field(default_factory=dict)
    storage_classes: Mapping[str, str] = field(default_factory=dict)
    held_classes: frozenset[str] = frozenset()
    target_kms_key: str | None = None

    def prefix(self, source_prefix: str) -> str | None:
        """The target prefix for a key prefix of the source: mapped under the drill's
        prefixes; narrowed to the target prefix when it covers more than the drill's
        scope; None when it lies outside the scope."""
        source, target = self.keys.source_prefix, self.keys.target_prefix
        if source_prefix.startswith(source):
            return target + source_prefix[len(source):]
        if source.startswith(source_prefix):
            return target
        return None


@dataclass
class Translation:
    """The value to write, what changed on the way, and what could not be translated."""

    value: Any
    changes: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)


def translate(name: str, value: Any, context: TranslationContext) -> Translation:
    """Translate setting *name*'s source *value* (never modified) for the target."""
    translation = Translation(copy.deepcopy(value))
    translator = _TRANSLATORS.get(name)
    if translator is not None:
        translator(translation, context)
    return translation


def _versioning(translation: Translation, context: TranslationContext) -> None:
    value = translation.value
    if value.pop("MFADelete", "Disabled") == "Enabled":
        translation.blockers.append("MFA delete can only be enabled by the bucket owner with "
                                    "an MFA device: enable it on the target by hand, or "
                                    "accept the gap")
    if "Status" not in value:
        translation.value = None


def _tags(translation: Translation, context: TranslationContext) -> None:
    tags = translation.value["TagSet"]
    kept = [tag for tag in tags if not tag["Key"].lower().startswith("aws:")]
    for tag in tags:
        if tag not in kept:
            translation.changes.append(f"tag {tag['Key']} left out: aws: tags are set by "
                                       f"the source provider's services")
    translation.value = {"TagSet": kept} if kept else None


def _with_prefix(rule_filter: dict, prefix: str) -> dict:
    """*rule_filter* narrowed to keys under *prefix*."""
    conditions = dict(rule_filter.get("And", {}))
    if "Tag" in rule_filter:
        conditions.setdefault("Tags", []).append(rule_filter["Tag"])
    for size in ("ObjectSizeGreaterThan", "ObjectSizeLessThan"):
        if size in rule_filter:
            conditions[size] = rule_filter[size]
    conditions["Prefix"] = prefix
    return {"And": conditions} if len(conditions) > 1 else {"Prefix": prefix}


def _lifecycle(translation: Translation, context: TranslationContext) -> None:
    rules = []
    for rule in translation.value["Rules"]:
        label = f"lifecycle rule {rule.get('ID') or '(no ID)'}"
        rule_filter = rule.pop("Filter", None)
        if rule_filter is None:
            rule_filter = {"Prefix": rule.pop("Prefix", "")}
        old = rule_filter.get("Prefix", rule_filter.get("And", {}).get("Prefix", ""))
        new = context.prefix(old)
        if new is None:
            translation.changes.append(f"{label} left out: its prefix {old!r} lies outside "
                                       f"the drill's scope")
            continue
        if new != old:
            translation.changes.append(f"{label}: prefix {old!r} -> {new!r}")
            rule_filter = _with_prefix(rule_filter, new)
        rule["Filter"] = rule_filter
        for transitions in ("Transitions", "NoncurrentVersionTransitions"):
            for transition in rule.get(transitions, []):
                _storage_class(translation, context, label, transition)
        rules.append(rule)
    translation.value = {"Rules": rules} if rules else None


def _storage_class(translation: Translation, context: TranslationContext, label: str,
                   transition: dict) -> None:
    source_class = transition["StorageClass"]
    mapped = context.storage_classes.get(source_class, source_class)
    if mapped not in context.held_classes:
        translation.blockers.append(f"{label} moves objects to {source_class}"
                                    + (f" (mapped to {mapped})" if mapped != source_class else "")
                                    + ", which the target does not hold: map it with "
                                      "target.storage_classes")
    elif mapped != source_class:
        translation.changes.append(f"{label}: transition to {source_class} -> {mapped}")
        transition["StorageClass"] = mapped


def _website(translation: Translation, context: TranslationContext) -> None:
    rules = []
    for number, rule in enumerate(translation.value.get("RoutingRules", []), 1):
        condition = rule.get("Condition", {})
        if "KeyPrefixEquals" in condition:
            new = context.prefix(condition["KeyPrefixEquals"])
            if new is None:
                translation.changes.append(f"routing rule {number} left out: its prefix lies "
                                           f"outside the drill's scope")
                continue
            if new != condition["KeyPrefixEquals"]:
                translation.changes.append(f"routing rule {number}: prefix "
                                           f"{condition['KeyPrefixEquals']!r} -> {new!r}")
                condition["KeyPrefixEquals"] = new
        redirect = rule.get("Redirect", {})
        if "ReplaceKeyPrefixWith" in redirect and context.keys.source_prefix != \
                context.keys.target_prefix:
            new = context.prefix(redirect["ReplaceKeyPrefixWith"])
            if new is None:
                translation.blockers.append(f"routing rule {number} redirects outside the "
                                            f"drill's scope")
            else:
                redirect["ReplaceKeyPrefixWith"] = new
        rules.append(rule)
    if "RoutingRules" in translation.value:
        translation.value["RoutingRules"] = rules


def _default_encryption(translation: Translation, context: TranslationContext) -> None:
    for rule in translation.value.get("Rules", []):
        default = rule.get("ApplyServerSideEncryptionByDefault", {})
        if not default.get("SSEAlgorithm", "").startswith("aws:kms"):
            continue
        source_key = default.get("KMSMasterKeyID", "the provider-managed key")
        if context.target_kms_key is None:
            translation.blockers.append(
                f"default encryption uses the source's KMS key {source_key}, which cannot "
                f"leave: name the target's key with target.encryption (type sse-kms)")
            continue
        default["SSEAlgorithm"] = "aws:kms"
        default["KMSMasterKeyID"] = context.target_kms_key
        translation.changes.append(f"KMS key {source_key} -> {context.target_kms_key}")


def _policy(translation: Translation, context: TranslationContext) -> None:
    statements = translation.value.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for number, statement in enumerate(statements, 1):
        label = f"statement {statement.get('Sid') or number}"
        for key in ("Principal", "NotPrincipal"):
            if key in statement:
                statement[key] = _principal(translation, context, label, statement[key])
        for key in ("Resource", "NotResource"):
            if key in statement:
                statement[key] = _each(statement[key], lambda arn: _resource(
                    translation, context, label, arn))
        for operator, conditions in statement.get("Condition", {}).items():
            for condition_key in conditions:
                lowered = condition_key.lower()
                if lowered in PROVIDER_CONDITION_KEYS or lowered.startswith(
                        _PROVIDER_CONDITION_PREFIXES):
                    translation.blockers.append(
                        f"{label}: condition {operator} {condition_key} names the source "
                        f"provider's accounts, networks or keys")
                elif lowered == "s3:prefix":
                    conditions[condition_key] = _each(conditions[condition_key], lambda p: (
                        _mapped_prefix(translation, context, label, p)))


def _each(value: Any, function) -> Any:
    return [function(item) for item in value] if isinstance(value, list) else function(value)


def _principal(translation: Translation, context: TranslationContext, label: str,
               principal: Any) -> Any:
    if principal == "*":
        return principal

    def mapped(name: str) -> str:
        if name == "*":
            return name
        if name in context.principals:
            translation.changes.append(f"{label}: principal {name} -> {context.principals[name]}")
            return context.principals[name]
        translation.blockers.append(f"{label}: principal {name} has no counterpart on the "
                                    f"target: name one in bucket_config.principals")
        return name

    return {kind: _each(names, mapped) for kind, names in principal.items()}


def _resource(translation: Translation, context: TranslationContext, label: str,
              arn: str) -> str:
    match = _S3_ARN.match(arn)
    if match is None or match["bucket"] != context.source_bucket:
        translation.blockers.append(f"{label}: resource {arn} is not this bucket")
        return arn
    new = f"arn:aws:s3:::{context.target_bucket}"
    if match["key"] is not None:
        key = _mapped_prefix(translation, context, label, match["key"])
        new += f"/{key}"
    if new != arn:
        translation.changes.append(f"{label}: resource {arn} -> {new}")
    return new


def _mapped_prefix(translation: Translation, context: TranslationContext, label: str,
                   pattern: str) -> str:
    """A key pattern (``logs/*``, ``*``) or prefix moved under the target prefix."""
    if context.keys.source_prefix == context.keys.target_prefix:
        return pattern
    literal = pattern.split("*", 1)[0].split("?", 1)[0]
    new = context.prefix(literal)
    if new is None:
        translation.blockers.append(f"{label}: {pattern!r} lies outside the drill's scope")
        return pattern
    if literal.startswith(context.keys.source_prefix):
        return new + pattern[len(literal):]
    return new + ("*" if "*" in pattern or "?" in pattern else "")


_TRANSLATORS = {"versioning": _versioning, "tags": _tags, "lifecycle": _lifecycle,
                "website": _website, "default_encryption": _default_encryption,
                "policy": _policy}
