"""Per-object drill state on disk, so memory stays flat however many objects a drill holds.

Each structure is a scratch database (:func:`exitkit.scratch.scratch_database`), deleted
when closed. Nothing here is evidence: the journal (:mod:`exitkit.drill.journal`) is what
survives a crash.

* :class:`PlanStore` is the plan: the entries in scope, in (relative key, age) order, with
  their totals and storage classes counted on the way in;
* :class:`SpillMap` is a mapping by (relative key, age) with JSON (or pickled) values,
  for what the copy establishes per object (problems, unrepresentable keys, resumed
  copies, archived entries and their restore states);
* :class:`SpillList` is an append-only list (pickled items), for the keys held back
  while their archived objects are restored.
"""

import json
import pickle
import threading
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from itertools import islice
from typing import Any, Generic, TypeVar

from exitkit.scratch import scratch_database
from exitkit.verify.entries import Entry
from exitkit.verify.storage_classes import StorageClassCount, StorageClassTally

Order = tuple[str, int]
Value = TypeVar("Value")
PAGE = 2000
#: Entries a :class:`PlanFilling` writes at once: the copy may start on them.
LANDING = 250


class PlanStore:
    """The drill's plan on disk: entries added in (relative key, age) order, read back in
    that order a page at a time. ``objects``, ``bytes`` and :meth:`storage_classes` are
    counted as entries are added."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self._db = scratch_database()
        self._db.execute("CREATE TABLE plan (entry BLOB)")
        self.objects = self.bytes = 0
        self._classes = StorageClassTally()
        self.extend(entries)

    def extend(self, entries: Iterable[Entry]) -> None:
        """Append *entries* (after every entry added so far, in order)."""
        def rows() -> Iterator[tuple[bytes]]:
            for entry in entries:
                info = entry[2]
                self.objects += 1
                self.bytes += info.size
                self._classes.add("all", info)
                yield (pickle.dumps(tuple(entry), pickle.HIGHEST_PROTOCOL),)

        self._db.execute("BEGIN")
        try:
            self._db.executemany("INSERT INTO plan VALUES (?)", rows())
        finally:
            self._db.execute("COMMIT")

    def __len__(self) -> int:
        return self.objects

    def __iter__(self) -> Iterator[Entry]:
        after = 0
        while True:
            rows = self.rows_after(after)
            for _rowid, blob in rows:
                yield Entry(*pickle.loads(blob))
            if len(rows) < PAGE:
                return
            after = rows[-1][0]

    def rows_after(self, rowid: int) -> list[tuple[int, bytes]]:
        """Up to a page of (rowid, pickled entry) rows after *rowid*, in order."""
        return self._db.execute("SELECT rowid, entry FROM plan WHERE rowid > ? "
                                "ORDER BY rowid LIMIT ?", (rowid, PAGE)).fetchall()

    def storage_classes(self) -> dict[str, StorageClassCount]:
        """Objects and bytes per storage class of the plan."""
        return self._classes.summary().get("all", {})

    def close(self) -> None:
        """Delete the plan's file."""
        self._db.close()


class PlanFilling:
    """*plan* filled from *entries* on a thread of its own while another thread reads it
    in order (:meth:`entries`): a listing goes on at its own pace, on disk, while the copy
    works through what it has listed so far. Once every entry is in, *then* runs on the
    filling thread (the inventory's end); :meth:`wait` waits for that and raises what
    ended the filling early."""

    def __init__(self, plan: PlanStore, entries: Iterable[Entry],
                 then: Callable[[], None]) -> None:
        self._plan, self._landed = plan, threading.Condition()
        self._complete = self._stopped = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._fill, args=(entries, then),
                                        name="exitkit-plan", daemon=True)
        self._thread.start()

    def _fill(self, entries: Iterable[Entry], then: Callable[[], None]) -> None:
        try:
            iterator = iter(entries)
            while batch := list(islice(iterator, LANDING)):
                with self._landed:
                    if self._stopped:
                        return
                    self._plan.extend(batch)
                    self._landed.notify_all()
            with self._landed:
                self._complete = True
                self._landed.notify_all()
            then()
        except BaseException as error:
            self._error = error
            with self._landed:
                self._stopped = True
                self._landed.notify_all()

    def entries(self) -> Iterator[Entry]:
        """The plan's entries in order as they land; ends once every entry is in, or
        once the filling failed (:meth:`wait` then raises why): the copy finishes and
        journals what was listed before the error ends the drill."""
        after = 0
        try:
            while True:
                with self._landed:
                    while True:
                        rows = self._plan.rows_after(after)
                        if rows or self._complete or self._error:
                            break
                        self._landed.wait()
                if not rows:
                    return
                for _rowid, blob in rows:
                    yield Entry(*pickle.loads(blob))
                after = rows[-1][0]
        finally:
            with self._landed:
                self._stopped = self._stopped or not self._complete

    def wait(self) -> None:
        """Wait for the filling and what runs after it; raise what stopped either."""
        self._thread.join()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Stop the filling before its next page and delete the plan."""
        with self._landed:
            self._stopped = True
            self._plan.close()


class SpillMap(MutableMapping[Order, Value], Generic[Value]):
    """A thread-safe mapping by (relative key, age) on disk; values go through JSON (a
    tuple comes back as a tuple) or, when *pickled*, pickle; iteration is in key order
    (``in_key_order``)."""

    in_key_order = True

    def __init__(self, pickled: bool = False) -> None:
        self._encode, self._decode = ((_pickled, pickle.loads) if pickled
                                      else (_json, _decoded))
        self._db = scratch_database()
        self._db.execute("CREATE TABLE map (relative TEXT, age INTEGER, value TEXT, "
                         "PRIMARY KEY (relative, age)) WITHOUT ROWID")
        self._mutex = threading.Lock()

    def __setitem__(self, order: Order, value: Value) -> None:
        with self._mutex:
            self._db.execute("INSERT OR REPLACE INTO map VALUES (?, ?, ?)",
                             (*order, self._encode(value)))

    def __getitem__(self, order: Order) -> Value:
        with self._mutex:
            row = self._db.execute("SELECT value FROM map WHERE relative = ? AND age = ?",
                                   order).fetchone()
        if row is None:
            raise KeyError(order)
        return self._decode(row[0])

    def __contains__(self, order: object) -> bool:
        if not isinstance(order, tuple) or len(order) != 2:
            return False
        with self._mutex:
            return self._db.execute("SELECT 1 FROM map WHERE relative = ? AND age = ?",
                                    order).fetchone() is not None

    def __delitem__(self, order: Order) -> None:
        with self._mutex:
            if not self._db.execute("DELETE FROM map WHERE relative = ? AND age = ?",
                                    order).rowcount:
                raise KeyError(order)

    def __len__(self) -> int:
        with self._mutex:
            return self._db.execute("SELECT count(*) FROM map").fetchone()[0]

    def __iter__(self) -> Iterator[Order]:
        for order, _value in self.items():
            yield order

    def items(self) -> Iterator[tuple[Order, Value]]:  # type: ignore[override]
        """Every (order, value) in key order, a page at a time."""
        after: Order = ("", -1)
        while True:
            with self._mutex:
                rows = self._db.execute(
                    "SELECT relative, age, value FROM map WHERE (relative, age) > (?, ?) "
                    "ORDER BY relative, age LIMIT ?", (*after, PAGE)).fetchall()
            for relative, age, value in rows:
                yield (relative, age), self._decode(value)
            if len(rows) < PAGE:
                return
            after = rows[-1][0], rows[-1][1]

    def values(self) -> Iterator[Value]:  # type: ignore[override]
        """Every value in key order."""
        for _order, value in self.items():
            yield value

    def close(self) -> None:
        """Delete the map's file."""
        self._db.close()


class SpillList(Generic[Value]):
    """An append-only list on disk (items pickled), iterated in the order appended."""

    def __init__(self) -> None:
        self._db = scratch_database()
        self._db.execute("CREATE TABLE list (item BLOB)")
        self._mutex = threading.Lock()
        self._length = 0

    def append(self, item: Value) -> None:
        """Add *item* at the end."""
        with self._mutex:
            self._db.execute("INSERT INTO list VALUES (?)", (_pickled(item),))
            self._length += 1

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[Value]:
        after = 0
        while True:
            with self._mutex:
                rows = self._db.execute("SELECT rowid, item FROM list WHERE rowid > ? "
                                        "ORDER BY rowid LIMIT ?", (after, PAGE)).fetchall()
            for _rowid, blob in rows:
                yield pickle.loads(blob)
            if len(rows) < PAGE:
                return
            after = rows[-1][0]

    def close(self) -> None:
        """Delete the list's file."""
        self._db.close()


def _pickled(value: Any) -> bytes:
    return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _decoded(text: str) -> Any:
    value = json.loads(text)
    return tuple(value) if isinstance(value, list) else value
