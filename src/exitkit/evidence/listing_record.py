"""Record part: where the drill's source listing came from, and how stale it was."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from exitkit.evidence.record_base import Model

StaleKind = Literal["gone", "not_in_report", "changed"]

#: What an operator does about each staleness outcome.
STALE_ADVICE = {
    "gone": "listed in the report but no longer in the bucket: deleted since the report; "
            "the drill reports them missing or failed; use a newer report",
    "not_in_report": "in the bucket but not in the report: written since the report (or "
                     "outside its filter); the drill did not copy or verify them; use a "
                     "newer report, or listing: list",
    "changed": "size or ETag differs from the report: overwritten since the report; the "
               "drill copied the current bytes but the report's size and ETag are out of "
               "date; use a newer report",
}


class StaleKey(Model):
    """One key whose report row disagrees with the bucket."""

    key: str
    kind: StaleKind
    detail: str
    found_by: Literal["head", "list"]


class StalenessRecord(Model):
    """A sampled HEAD of listed keys and a LIST of a few prefixes, compared with the
    report."""

    heads: int = Field(description="report keys HEADed (a seeded draw)")
    listed_prefixes: list[str] = Field(description="prefixes LISTed and compared in full "
                                                   "(up to the last key listed)")
    listed_objects: int = Field(description="objects those LISTs returned")
    counts: dict[str, int] = Field(description="stale keys by kind: gone, not_in_report, "
                                               "changed")
    examples: list[StaleKey] = Field(description="up to 100 stale keys")
    stale: bool = Field(description="True when any check found the report out of date")
    advice: list[str] = Field(description="what to do about each kind found")


class ListingRecord(Model):
    """Which listing source the drill used: LIST requests, or an S3 Inventory report."""

    source: Literal["list", "inventory-report"]
    manifest: str | None = Field(default=None, description="s3:// URI of manifest.json")
    report_date: datetime | None = Field(default=None,
                                         description="the manifest's creationTimestamp")
    report_age_days: float | None = Field(default=None,
                                          description="days between the report and the drill")
    file_format: str | None = None
    data_files: int | None = None
    staleness: StalenessRecord | None = None
