"""What a copy asks the target to hold, and which of an object's properties did not arrive.

An object whose bytes arrived but whose retention, legal hold, redirect, encryption,
storage class, additional checksum, tags or user metadata did not, is never ``matched``:
:func:`property_losses` names each lost property, and the verifier classifies the object
``property_lost`` (or ``property_lost_accepted`` when the spec accepts every loss it has).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from exitkit.providers.contract import Attributes, Capabilities
from exitkit.providers.properties import DEFAULT_STORAGE_CLASS, ObjectProperties

#: Every property a loss can name, in the order reports list them.
PROPERTY_NAMES = ("object_lock", "legal_hold", "website_redirect", "encryption",
                  "storage_class", "checksum", "tags", "metadata")


class PropertyLoss(NamedTuple):
    """A lost property: its name (one of :data:`PROPERTY_NAMES`) and what the source holds
    against what the target shows."""

    name: str
    detail: str


@dataclass(frozen=True)
class PropertyPlan:
    """How source properties map onto the target: the spec's storage-class mapping and
    target-side encryption (``AES256`` or ``aws:kms`` with a key id; None keeps the
    source's SSE-S3 and puts SSE-S3 where the source used a KMS key it cannot take)."""

    storage_classes: Mapping[str, str] = field(default_factory=dict)
    encryption: str | None = None
    kms_key_id: str | None = None

    def storage_class(self, source_class: str) -> str:
        """The target class a source class maps to (itself unless the spec maps it)."""
        return self.storage_classes.get(source_class, source_class)

    def encryption_for(self, source: ObjectProperties) -> tuple[str, str | None]:
        """The encryption (type, KMS key id) the target copy should report."""
        if self.encryption:
            return self.encryption, self.kms_key_id
        return ("none", None) if source.encryption == "none" else ("AES256", None)

    def for_target(self, source: ObjectProperties, capabilities: Capabilities
                   ) -> ObjectProperties:
        """The properties a copy asks the target for: each one the target holds."""
        locked = capabilities.object_lock and source.lock_mode and source.retain_until
        storage_class = self.storage_class(source.storage_class)
        encryption, key_id = self.encryption_for(source)
        checksum = source.checksum_algorithm
        encryption_held = {"AES256": capabilities.sse_s3, "aws:kms": capabilities.sse_kms,
                           "none": True}.get(encryption, False)
        return ObjectProperties(
            lock_mode=source.lock_mode if locked else None,
            retain_until=source.retain_until if locked else None,
            legal_hold=source.legal_hold and capabilities.legal_hold,
            redirect=source.redirect if capabilities.website_redirect else None,
            encryption=encryption if encryption_held else "none",
            kms_key_id=key_id if encryption_held else None,
            storage_class=(storage_class if storage_class in capabilities.storage_classes
                           else DEFAULT_STORAGE_CLASS),
            checksum_algorithm=checksum if checksum in capabilities.additional_checksums else None,
            checksum_type=source.checksum_type if checksum in capabilities.additional_checksums
            else None)


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _lock_text(properties: ObjectProperties) -> str:
    if not properties.lock_mode:
        return "none"
    return f"{properties.lock_mode} until {properties.retain_until}"


def property_losses(source: ObjectProperties, source_attributes: Attributes,
                    target: ObjectProperties, plan: PropertyPlan,
                    capabilities: Capabilities) -> list[PropertyLoss]:
    """Every property the source version holds that the target copy does not, named.

    Tags and user metadata count here only where the target cannot hold them at all;
    where it can, a difference is a metadata difference.
    """
    losses = []
    if source.lock_mode and (source.lock_mode != target.lock_mode or
                             _instant(source.retain_until) != _instant(target.retain_until)):
        losses.append(PropertyLoss("object_lock", f"retention {_lock_text(source)} not held "
                                                  f"(target: {_lock_text(target)})"))
    if source.legal_hold and not target.legal_hold:
        losses.append(PropertyLoss("legal_hold", "legal hold ON not held (target: OFF)"))
    if source.redirect and source.redirect != target.redirect:
        losses.append(PropertyLoss("website_redirect", f"{source.redirect!r} not held (target: "
                                                       f"{target.redirect or 'none'!r})"))
    wanted, key_id = plan.encryption_for(source)
    if wanted != "none":
        held = (target.encryption == wanted and (key_id is None or target.kms_key_id == key_id)
                if plan.encryption else target.encryption != "none")
        if not held:
            source_text = source.encryption + (f" ({source.kms_key_id})" if source.kms_key_id
                                               else "")
            losses.append(PropertyLoss("encryption", f"{source_text} not held (target: "
                                                     f"{target.encryption})"))
    mapped = plan.storage_class(source.storage_class)
    if mapped != target.storage_class and (mapped != DEFAULT_STORAGE_CLASS or
                                           source.storage_class != DEFAULT_STORAGE_CLASS):
        losses.append(PropertyLoss("storage_class", f"{source.storage_class} (mapped to "
                                                    f"{mapped}) not held (target: "
                                                    f"{target.storage_class})"))
    if source.checksum_algorithm and source.checksum_algorithm != target.checksum_algorithm:
        losses.append(PropertyLoss("checksum", f"{source.checksum_algorithm.upper()} checksum "
                                               f"({source.checksum_type}) not held (target: "
                                               f"{target.checksum_algorithm or 'none'})"))
    if source_attributes.tags and not capabilities.tags:
        losses.append(PropertyLoss("tags", f"{len(source_attributes.tags)} tags not held"))
    if source_attributes.metadata and not capabilities.user_metadata:
        losses.append(PropertyLoss("metadata", f"{len(source_attributes.metadata)} user "
                                               "metadata fields not held"))
    return losses

