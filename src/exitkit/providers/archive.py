"""Archived storage classes: which ones need a restore before a GET, and how long one takes.

Objects in S3 Glacier Flexible Retrieval (``GLACIER``) and Glacier Deep Archive
(``DEEP_ARCHIVE``) cannot be read until a RestoreObject request has made a temporary copy;
GET answers ``403 InvalidObjectState`` until then. Objects that S3 Intelligent-Tiering moved
to its archive tiers answer the same way, though their listing says ``INTELLIGENT_TIERING``.
``GLACIER_IR`` (Instant Retrieval) is read like any other class.
Azure Blob Storage's Archive tier (``ARCHIVE``) answers ``409 BlobArchived`` until the blob
is rehydrated to an online tier (Set Blob Tier); Azure has Standard and High priorities,
which the restore tiers ``standard`` and ``expedited`` name (``bulk`` rehydrates at
Standard, the cheapest Azure offers).

Restore times are the upper bounds AWS documents for each tier
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/restoring-objects-retrieval-options.html)
and Azure for each priority (https://learn.microsoft.com/en-us/azure/storage/blobs/
archive-rehydrate-overview: Standard up to 15 hours, High under 1 hour for blobs under
10 GB).
"""

ARCHIVED_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE", "ARCHIVE"})
TIERS = ("bulk", "standard", "expedited")

#: (storage class, tier) -> (shortest, longest) hours a restore takes, as AWS documents.
RESTORE_HOURS: dict[tuple[str, str], tuple[float, float]] = {
    ("GLACIER", "expedited"): (1 / 60, 5 / 60),
    ("GLACIER", "standard"): (3.0, 5.0),
    ("GLACIER", "bulk"): (5.0, 12.0),
    ("DEEP_ARCHIVE", "standard"): (0.0, 12.0),
    ("DEEP_ARCHIVE", "bulk"): (0.0, 48.0),
    ("ARCHIVE", "expedited"): (0.0, 1.0),
    ("ARCHIVE", "standard"): (0.0, 15.0),
    ("ARCHIVE", "bulk"): (0.0, 15.0),
}


def needs_restore(storage_class: str | None, restorable: bool = True) -> bool:
    """Whether objects listed in *storage_class* need a restore before they can be read.

    Never in a store without restores (*restorable* False): Google Cloud Storage's
    ``ARCHIVE`` class, which shares its name with Azure's Archive tier, is read at once."""
    return restorable and storage_class in ARCHIVED_CLASSES


def restore_hours(storage_class: str, tier: str) -> float | None:
    """The longest a restore of *storage_class* at *tier* takes, in hours; None when the
    tier is not offered for that class (Deep Archive has no expedited tier)."""
    bounds = RESTORE_HOURS.get((storage_class, tier))
    return bounds[1] if bounds else None


def _hours(value: float) -> str:
    return f"{value * 60:g} min" if value < 1 else f"{value:g} h"


def restore_advice(storage_class: str | None) -> str:
    """One line: the class, that it needs a restore, the spec option, and how long it takes.

    Objects in other classes that still answer InvalidObjectState (Intelligent-Tiering's
    archive tiers) are not listed as archived, so the drill's restore does not reach them:
    their advice is to restore them first."""
    label = storage_class or "an archive tier"
    if not needs_restore(storage_class):
        return (f"{label}: in an archive access tier; restore it (RestoreObject, which moves "
                f"it back to a frequent tier; standard up to 12 h, bulk up to 48 h) before "
                f"the drill can copy it")
    times = [f"{tier} up to {_hours(hours)}" for tier in TIERS
             if (hours := restore_hours(storage_class or "", tier)) is not None]
    took = f"; {', '.join(times)}" if times else ""
    if storage_class == "ARCHIVE":
        took += "; rehydration moves the blob to the Hot tier for good"
    return (f"{label}: needs a restore before it can be read (spec restore: "
            f"{{tier: bulk|standard|expedited, days: 7}}){took}")
