"""Compare object metadata field by field."""

from collections.abc import Mapping

from exitkit.providers.contract import SYSTEM_HEADERS, Attributes, Capabilities


def _compare_maps(kind: str, source: Mapping[str, str], target: Mapping[str, str]) -> list[str]:
    return [f"{kind} {name}: {source.get(name)!r} != {target.get(name)!r}"
            for name in sorted(set(source) | set(target)) if source.get(name) != target.get(name)]


def attribute_differences(source: Attributes, target: Attributes,
                          capabilities: Capabilities) -> list[str]:
    """Every field the target holds that differs from the source, named."""
    problems = []
    if capabilities.content_type and (source.content_type or None) != (target.content_type or None):
        problems.append(f"content-type: {source.content_type!r} != {target.content_type!r}")
    if capabilities.system_headers:
        for name in SYSTEM_HEADERS:
            if source.headers.get(name) != target.headers.get(name):
                problems.append(f"{name}: {source.headers.get(name)!r} != "
                                f"{target.headers.get(name)!r}")
    if capabilities.user_metadata:
        problems += _compare_maps("metadata", source.metadata, target.metadata)
    if capabilities.tags:
        problems += _compare_maps("tag", source.tags, target.tags)
    return problems


def unheld_fields(capabilities: Capabilities, per_object: bool = False) -> list[str]:
    """The metadata fields a target with *capabilities* does not keep; with *per_object*,
    without user metadata and tags, whose loss is then reported per object."""
    fields = {"content-type": capabilities.content_type,
              "cache-control, content-disposition, content-encoding, content-language, expires":
                  capabilities.system_headers}
    if not per_object:
        fields.update({"user metadata": capabilities.user_metadata, "tags": capabilities.tags})
    return [name for name, held in fields.items() if not held]
