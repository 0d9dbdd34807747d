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
UNDER_DELETE_MARKER = ("deleted on the source (a delete marker on top); a target that keeps "
                       "one version per key cannot hold the version under the marker")


def unrepresentable_reason(target_key: str, age: int, capabilities: Capabilities,
                           deleted_after: bool = False) -> str | None:
    """Why a target with *capabilities* cannot hold this version under *target_key* (with
    *deleted_after*: followed by a delete marker), or None."""
    reason = key_problem(target_key, capabilities)
    if reason is None and not capabilities.versioning:
        if age:
            return ONE_VERSION
        if deleted_after:
            return UNDER_DELETE_MARKER
    return reason


def deletion_difference(source: Entry, target: Entry) -> tuple[str, str] | None:
    """(class, reason) when a delete marker follows this version on one side only."""
    if source.info.deleted_after == target.info.deleted_after:
        return None
    if source.info.deleted_after:
        where = "; the key is current there" if source.age == 0 else ""
        return "missing", f"the delete marker after this version is not on the target{where}"
    if target.age == 0:
        return "missing", ("a delete marker on the target hides it (the copy is there as a "
                           "noncurrent version): remove the marker")
    return "extra", "a delete marker after this version on the target only"


def absent_class(entry: Entry, target_key: str, capabilities: Capabilities,
                 known: Mapping[tuple[str, int], tuple[str, str]],
                 restorable: bool = True) -> tuple[str, str]:
    """(class, reason) of a source *entry* missing from the target; *known* holds what the
    copy established per (relative key, age); *restorable* is False for a source without
    restores (see :func:`needs_restore`)."""
    found = known.get(entry.order)
    if found is not None:
        return found
    reason = unrepresentable_reason(target_key, entry.age, capabilities,
                                    entry.info.deleted_after)
    if reason is not None:
        return "unrepresentable", reason
    if needs_restore(entry.info.storage_class, restorable):
        return "archived", restore_advice(entry.info.storage_class)
    return "missing", "not on the target"
