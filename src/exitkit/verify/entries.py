"""Listings as entries in scope: (key relative to the prefix, version age, object info).

Age 0 is the current version, 1 the one before, and so on; a store without versioning
holds only age 0. Entries sort by (relative key, age).
"""

from collections.abc import Iterable, Iterator
from itertools import groupby
from typing import NamedTuple

from exitkit.providers.contract import ObjectInfo, ObjectSource
from exitkit.verify.ordering import in_key_order


class Entry(NamedTuple):
    """One object version in scope; sorts by (relative key, age)."""

    relative: str
    age: int
    info: ObjectInfo

    @property
    def order(self) -> tuple[str, int]:
        """Sort key: relative key, then age."""
        return self[0], self[1]

    @property
    def label(self) -> str:
        """The full key, with the version id when it is not the current version."""
        if self.age == 0:
            return self.info.key
        return f"{self.info.key} (version {self.info.version_id}, {self.age} older)"


def _ordered(entries: Iterable[Entry], already_sorted: bool) -> Iterator[Entry]:
    return in_key_order(entries, key=lambda entry: entry.order, already_sorted=already_sorted)


def current_entries(store: ObjectSource, prefix: str) -> Iterator[Entry]:
    """The current object of every key under *prefix*, in (key, age) order."""
    if prefix:
        entries = (Entry(info.key[len(prefix):], 0, info) for info in store.list(prefix))
    else:
        entries = (Entry(info.key, 0, info) for info in store.list(prefix))
    return _ordered(entries, store.capabilities.lists_in_key_order)


def _aged(versions: Iterable[ObjectInfo], prefix: str) -> Iterator[Entry]:
    """Number each key's versions by age, newest (age 0) first.

    A listing gives a key's versions together, newest first. When a delete marker is the
    current version, the key has no age-0 entry, so it shows as missing against a source
    that has one. The ``IsLatest`` flags of versions are not trusted (SeaweedFS leaves it
    false on some current versions); listing order decides, the flagged one first.
    """
    for key, group in groupby(versions, key=lambda info: info.key):
        listed = list(group)
        deleted = any(info.is_delete_marker and info.is_latest for info in listed)
        ordered = sorted((info for info in listed if not info.is_delete_marker),
                         key=lambda info: not info.is_latest)
        for age, info in enumerate(ordered, start=1 if deleted else 0):
            yield Entry(key[len(prefix):], age, info)


def version_entries(store: ObjectSource, prefix: str) -> Iterator[Entry]:
    """Every version under *prefix*, in (key, age) order."""
    return _ordered(_aged(store.list_versions(prefix), prefix),
                    store.capabilities.lists_in_key_order)
