"""Listings as entries in scope: (key relative to the prefix, version age, object info).

Age 0 is the newest version, 1 the one before, and so on; a store without versioning
holds only age 0. Delete markers take no age: the version a marker follows carries
``deleted_after`` (at age 0, the key is deleted and that version is hidden under the
marker). Entries sort by (relative key, age).
"""

from collections.abc import Iterable, Iterator
from functools import partial
from itertools import groupby, repeat, tee
from operator import attrgetter, getitem
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
        if self.age == 0 and not self.info.deleted_after:
            return self.info.key
        if self.age == 0:
            return f"{self.info.key} (version {self.info.version_id}, under a delete marker)"
        return f"{self.info.key} (version {self.info.version_id}, {self.age} older)"


_new_entry = partial(tuple.__new__, Entry)  # Entry from a (relative, age, info) tuple
_key = attrgetter("key")


def _ordered(entries: Iterable[Entry], already_sorted: bool) -> Iterator[Entry]:
    return in_key_order(entries, key=lambda entry: entry.order, already_sorted=already_sorted)


def current_entries(store: ObjectSource, prefix: str) -> Iterator[Entry]:
    """The current object of every key under *prefix*, in (key, age) order."""
    return _ordered(_as_current(store.list(prefix), len(prefix)),
                    store.capabilities.lists_in_key_order)


def _as_current(infos: Iterable[ObjectInfo], prefix_length: int) -> Iterator[Entry]:
    """``Entry(info.key[prefix_length:], 0, info)`` for each listed object.

    Built in C loops, without a Python step per object: listings hold millions.
    """
    for_keys, for_entries = tee(infos)
    relatives = map(_key, for_keys)
    if prefix_length:
        relatives = map(getitem, relatives, repeat(slice(prefix_length, None)))
    return map(_new_entry, zip(relatives, repeat(0), for_entries))


def _aged(versions: Iterable[ObjectInfo], prefix: str) -> Iterator[Entry]:
    """Number each key's versions by age, newest (age 0) first; a version that a delete
    marker follows gets ``deleted_after``.

    A listing gives a key's versions and delete markers together, newest first. Markers
    take no age, so a key deleted on one side and not on the other still pairs version
    with version, and the difference is the flag (see
    :func:`exitkit.verify.classes.deletion_difference`). The ``IsLatest`` flags are not
    trusted (SeaweedFS leaves it false on some current versions); listing order decides,
    the flagged one first.
    """
    for key, group in groupby(versions, key=lambda info: info.key):
        age, marked = 0, False
        for info in sorted(group, key=lambda info: not info.is_latest):
            if info.is_delete_marker:
                marked = True
                continue
            yield Entry(key[len(prefix):], age, info._replace(deleted_after=marked)
                        if marked else info)
            age, marked = age + 1, False


def version_entries(store: ObjectSource, prefix: str) -> Iterator[Entry]:
    """Every version under *prefix*, in (key, age) order."""
    return _ordered(_aged(store.list_versions(prefix), prefix),
                    store.capabilities.lists_in_key_order)
