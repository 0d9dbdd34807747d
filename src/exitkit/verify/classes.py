"""The class of a source object the target does not hold, shared by the drill's copy and
verify phases and by ``exitkit verify``, so each key gets one class and one reason.

What the copy saw comes first (a failed GET or PUT, an archived or otherwise unreadable
object, with the error's reason); then what the listings alone decide, computed the same
way with or without a copy: a key the target cannot hold (``unrepresentable``), an object
in an archived storage class (``archived``), else ``missing``.
"""

from collections.abc import Mapping

from exitkit.providers.archive import needs_restore, restore_advice
from exitkit.providers.contract import Capabilities, key_problem
from exitkit.verify.entries import Entry

ONE_VERSION = "the target keeps one version per key"


def unrepresentable_reason(target_key: str, age: int, capabilities: Capabilities) -> str | None:
    """Why a target with *capabilities* cannot hold this version under *target_key*, or None."""
    reason = key_problem(target_key, capabilities)
    if reason is None and age and not capabilities.versioning:
        return ONE_VERSION
    return reason


def absent_class(entry: Entry, target_key: str, capabilities: Capabilities,
                 known: Mapping[tuple[str, int], tuple[str, str]],
                 restorable: bool = True) -> tuple[str, str]:
    """(class, reason) of a source *entry* missing from the target; *known* holds what the
    copy established per (relative key, age); *restorable* is False for a source without
    restores (see :func:`needs_restore`)."""
    found = known.get(entry.order)
    if found is not None:
        return found
    reason = unrepresentable_reason(target_key, entry.age, capabilities)
    if reason is not None:
        return "unrepresentable", reason
    if needs_restore(entry.info.storage_class, restorable):
        return "archived", restore_advice(entry.info.storage_class)
    return "missing", "not on the target"
