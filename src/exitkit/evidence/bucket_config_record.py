"""The record's account of a bucket's configuration carried to the target
(``bucket_config: true``), and the table rows every report format shows of it. A leaf
module, so that ``evidence/record.py`` can import it without a cycle."""

from typing import Any, Literal

from pydantic import Field

from exitkit.evidence.record_base import Model

SettingState = Literal["carried", "translated", "absent", "not_carried", "accepted"]
BUCKET_CONFIG_COLUMNS = ("setting", "state", "detail")


class BucketSettingRecord(Model):
    """One setting: what the source holds, what was written, what the target reads back."""

    name: str = Field(description="versioning, lifecycle, cors, website, tags, object_lock, "
                                  "policy, public_access_block, default_encryption, "
                                  "ownership_controls; reported only: replication, "
                                  "notifications, logging, request_payment, "
                                  "transfer_acceleration, inventory, analytics, metrics, "
                                  "intelligent_tiering")
    state: SettingState = Field(description="carried: read back equal to the source's; "
                                "translated: read back equal to the translation in "
                                "'changes'; absent: the source has none; not_carried: see "
                                "'reason'; accepted: not carried, and the spec accepts it")
    reason: str | None = Field(default=None, description="why it was not carried, and what "
                                                         "to do")
    changes: list[str] = Field(default_factory=list, description="what translation changed")
    source: Any = Field(default=None, description="as read from the source (S3 API shape)")
    written: Any = Field(default=None, description="as written to the target")
    target: Any = Field(default=None, description="as read back from the target")


class BucketConfigRecord(Model):
    """Every setting of the source bucket, carried or with the reason it was not."""

    settings: list[BucketSettingRecord]
    restored: bool | None = Field(default=None, description="cleanup put the target's "
                                  "earlier settings back (None: no cleanup or nothing written)")
    restore_problems: list[str] = Field(default_factory=list)

    def not_carried(self) -> list[BucketSettingRecord]:
        """Settings the source holds that the target does not, unaccepted."""
        return [setting for setting in self.settings if setting.state == "not_carried"]


def bucket_setting_row(setting: BucketSettingRecord) -> tuple[str, str, str]:
    """One setting as the report tables show it (columns: :data:`BUCKET_CONFIG_COLUMNS`)."""
    detail = setting.reason or "; ".join(setting.changes) or "-"
    return setting.name, setting.state.replace("_", " "), detail


def bucket_config_text(record: BucketConfigRecord) -> str:
    """``7 carried (2 translated), 9 absent, 2 not carried: lifecycle, website``."""
    states = [setting.state for setting in record.settings]
    carried = states.count("carried") + states.count("translated")
    text = f"{carried} carried ({states.count('translated')} translated), " \
           f"{states.count('absent')} absent"
    if states.count("accepted"):
        text += f", {states.count('accepted')} accepted as lost"
    missing = record.not_carried()
    if missing:
        text += f", {len(missing)} not carried: " + ", ".join(s.name for s in missing)
    return text
