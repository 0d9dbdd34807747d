"""Carry a bucket's configuration (``bucket_config: true``): read every setting of the
source bucket, translate it, write it to the target, read it back, and record each
setting as carried, translated, absent, not carried (with the reason and the remedy) or
accepted. Cleanup puts the target's earlier settings back.

Settings are carried after the objects are verified: a default retention set earlier
would lock the drill's own copies, a lifecycle rule could move or expire them, and a
policy could refuse the drill's writes.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from exitkit.drill.bucket_translation import TranslationContext, translate
from exitkit.evidence.bucket_config_record import BucketConfigRecord, BucketSettingRecord
from exitkit.providers.bucket_settings import (SETTINGS, BucketSettingsReader,
                                               BucketSettingsWriter, Setting, SettingRefused,
                                               holds)

NO_TARGET_CONFIG = ("the target holds no S3 bucket configuration (a directory, or a store "
                    "with settings of its own kind): set it up on the target by hand")


@dataclass
class CarriedSettings:
    """What a carry wrote: the record, and the target's earlier value of each setting
    written (None: it had none), for cleanup."""

    record: BucketConfigRecord
    earlier: list[tuple[Setting, Any]] = field(default_factory=list)


def carry_settings(source: BucketSettingsReader, target: BucketSettingsWriter | None,
                   context: TranslationContext, accepted: Mapping[str, str],
                   write: bool = True) -> CarriedSettings:
    """Carry every setting from *source* to *target* (or, with ``write=False``, only
    compare the target's with the translation). *accepted* maps ``bucket.<setting>`` to
    the reason its loss is accepted."""
    carried = CarriedSettings(BucketConfigRecord(settings=[]))
    for setting in SETTINGS:
        entry = _carry_one(setting, source, target, context, write, carried.earlier)
        if entry.state == "not_carried" and f"bucket.{setting.name}" in accepted:
            entry.state = "accepted"
            entry.reason = f"{entry.reason} (accepted: {accepted[f'bucket.{setting.name}']})"
        carried.record.settings.append(entry)
    return carried


def _carry_one(setting: Setting, source: BucketSettingsReader,
               target: BucketSettingsWriter | None, context: TranslationContext, write: bool,
               earlier: list[tuple[Setting, Any]]) -> BucketSettingRecord:
    entry = BucketSettingRecord(name=setting.name, state="not_carried")
    try:
        reading = source.read(setting)
    except SettingRefused as exc:
        entry.reason = f"could not be read from the source ({exc}): grant the drill's " \
                       f"credentials read access to the bucket configuration"
        return entry
    if reading.unimplemented:
        entry.state, entry.reason = "absent", f"the source does not implement it " \
                                              f"({reading.unimplemented})"
        return entry
    entry.source = reading.value
    if reading.value is None:
        entry.state = "absent"
        return entry
    if not setting.carried:
        entry.reason = setting.not_carried
        return entry
    if target is None:
        entry.reason = NO_TARGET_CONFIG
        return entry
    translation = translate(setting.name, reading.value, context)
    entry.changes = translation.changes
    if translation.blockers:
        entry.reason = "; ".join(translation.blockers)
        return entry
    if translation.value is None:
        entry.state = "absent"
        entry.reason = "nothing of it applies to the target: " + "; ".join(translation.changes)
        return entry
    entry.written = translation.value
    try:
        before = target.read(setting)
        if before.unimplemented:
            entry.reason = f"the target does not implement it ({before.unimplemented})"
            return entry
        if write and not holds(translation.value, before.value):
            target.write(setting, translation.value)
            earlier.append((setting, before.value))
        entry.target = target.read(setting).value
    except SettingRefused as exc:
        entry.reason = f"the target refused it ({exc})"
        return entry
    if not holds(translation.value, entry.target):
        entry.reason = "the target reads back something else than was written" if write \
            else "the target's differs from the source's"
        return entry
    entry.state = "translated" if translation.changes else "carried"
    return entry


def restore_settings(target: BucketSettingsWriter, carried: CarriedSettings) -> None:
    """Put back the target's earlier value of every setting written, last written first;
    record whether that held and what did not."""
    problems = []
    for setting, value in reversed(carried.earlier):
        try:
            if value is None:
                target.remove(setting)
            else:
                target.write(setting, value)
        except SettingRefused as exc:
            problems.append(str(exc))
    carried.record.restored = not problems
    carried.record.restore_problems = problems
