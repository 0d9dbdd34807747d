"""What a drill (or a scan) assumes of its target's properties: its capabilities (the
profile's, or those a probe measured) and the property plan (storage-class mapping,
target-side encryption)."""

from pathlib import Path

from exitkit.drill.spec_file import LoadedSpec
from exitkit.errors import SpecError
from exitkit.providers.contract import Capabilities
from exitkit.providers.measured import load_capabilities
from exitkit.providers.registry import profile_capabilities
from exitkit.verify.properties import PropertyPlan

ENCRYPTION_TYPES = {"sse-s3": "AES256", "sse-kms": "aws:kms"}


def target_capabilities(loaded: LoadedSpec) -> tuple[Capabilities, str]:
    """The target's capabilities and where they come from ('profile <provider>' or
    'measured <file>')."""
    target = loaded.spec.target
    if target.capabilities_file is None:
        return profile_capabilities(target), f"profile {target.provider}"
    path = Path(loaded.path).parent / target.capabilities_file
    return (load_capabilities(path, loaded.path, "target.capabilities_file"),
            f"measured {target.capabilities_file}")


def property_plan(loaded: LoadedSpec, capabilities: Capabilities) -> PropertyPlan:
    """The spec's storage-class mapping and target encryption; refuses encryption the
    target does not hold (SpecError)."""
    target = loaded.spec.target
    encryption = target.encryption
    if encryption is None:
        return PropertyPlan(storage_classes=target.storage_classes)
    held = {"sse-s3": capabilities.sse_s3, "sse-kms": capabilities.sse_kms}
    if not held[encryption.type]:
        raise SpecError(loaded.path, None, "target.encryption",
                        f"{target.provider} does not hold {encryption.type} (see "
                        f"docs/portability.md, or measure it with 'exitkit probe')")
    return PropertyPlan(storage_classes=target.storage_classes,
                        encryption=ENCRYPTION_TYPES[encryption.type],
                        kms_key_id=encryption.kms_key_id)


def accepted_gaps(loaded: LoadedSpec) -> dict[str, str]:
    """The losses the spec accepts: property -> reason."""
    return {gap.property: gap.reason for gap in loaded.spec.expectations.accept_gaps}
