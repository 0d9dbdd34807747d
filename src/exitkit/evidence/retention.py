"""Retention classes: how long a record must stay unchangeable, as S3 Object Lock defaults.

A spec names its record's class (``evidence.retention_class``); the record states it, and
the evidence store locks what it stores for the class's mode and days unless the spec's
``object_lock`` says otherwise. The periods are defaults to choose from, not legal advice:
pick the class your record-keeping policy requires.
"""

from dataclasses import dataclass
from typing import Literal

RetentionClassName = Literal["short", "operational", "regulatory", "archive"]


@dataclass(frozen=True)
class RetentionClass:
    """One retention class and the Object Lock retention it asks for."""

    name: str
    mode: Literal["governance", "compliance"]
    days: int
    meaning: str


RETENTION_CLASSES: dict[str, RetentionClass] = {
    "short": RetentionClass("short", "governance", 30, "trials and demos; governance "
                            "mode, so an authorised user can still remove it"),
    "operational": RetentionClass("operational", "governance", 365, "a year of operational "
                                  "evidence; governance mode"),
    "regulatory": RetentionClass("regulatory", "compliance", 1827, "five years in compliance "
                                 "mode: nobody, root included, can shorten or delete it"),
    "archive": RetentionClass("archive", "compliance", 3653, "ten years in compliance mode"),
}
