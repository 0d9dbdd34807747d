"""The copy checkpoint journal: what a drill has written to its target, kept on disk.

One SQLite database per drill in the results directory (``<drill>.journal.sqlite``): the
run it belongs to (run id, spec SHA-256), and one row per object version copied, keyed by
(relative key, age). Rows are committed at least once a second and when the phase ends,
with ``synchronous=FULL`` (fsync'd); SQLite's atomic commits mean a crash loses at most
the last second's rows (those objects are copied again), never corrupts the rest.

A second table keeps every restore of an archived object the drill requested; each row is
committed (fsync'd) as soon as the request is answered, so a resumed run polls those
restores and never requests (and pays for) one again. A third keeps, after each copy
phase, the class and reason of every object it could not copy, so ``exitkit verify``
classifies those keys as the drill did (``failed`` with the copy's reason, not
``missing``).

It is also the copy's memory: the drill looks copied objects up here instead of holding
them, so memory stays flat however many objects a drill copies.

A drill interrupted (Ctrl-C, SIGTERM, SIGKILL, a dead target) leaves it behind;
``--resume`` continues it. It is removed once a run has passed.
"""

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import fasteners

from exitkit.drill.copy import CopiedObject
from exitkit.drill.restore import RestoreRequest
from exitkit.errors import ExitkitError
from exitkit.providers.contract import Attributes, ObjectInfo
from exitkit.providers.properties import ObjectProperties

COMMIT_INTERVAL_S = 1.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS run (drill TEXT, spec_sha256 TEXT, run_id TEXT, started_at TEXT);
CREATE TABLE IF NOT EXISTS copied (relative TEXT, age INTEGER, object TEXT,
                                   PRIMARY KEY (relative, age)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS restores (relative TEXT, age INTEGER, request TEXT,
                                     PRIMARY KEY (relative, age)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS problems (relative TEXT, age INTEGER, kind TEXT, reason TEXT,
                                     PRIMARY KEY (relative, age)) WITHOUT ROWID;
"""

Order = tuple[str, int]


@dataclass(frozen=True)
class JournalHeader:
    """Which run the journal belongs to."""

    drill: str
    spec_sha256: str
    run_id: str
    started_at: str


def journal_path(results_dir: str | os.PathLike[str], drill: str) -> Path:
    """Where the journal of *drill* lives."""
    return Path(results_dir) / f"{drill}.journal.sqlite"


class CopyJournal(MutableMapping[Order, CopiedObject]):
    """Copied objects by (relative key, age), in SQLite; thread-safe.

    Holds a lock file so two runs of one drill cannot share a journal.
    """

    def __init__(self, path: Path, header: JournalHeader | None) -> None:
        """Open *path*; with a *header*, start it afresh for that run, else continue it."""
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = fasteners.InterProcessLock(f"{path}.lock")
        if not self._lock_file.acquire(blocking=False):
            raise ExitkitError(f"{path}: another run of this drill is using the journal; "
                               f"wait for it to end")
        if header is not None:
            _remove_database(path)
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            # tables and header appear together (executescript commits what came before)
            self._db.executescript("BEGIN IMMEDIATE;" + _SCHEMA)
            if header is not None:
                self._db.execute("INSERT INTO run VALUES (?, ?, ?, ?)", (
                    header.drill, header.spec_sha256, header.run_id, header.started_at))
            self._db.execute("COMMIT")
            row = self._db.execute("SELECT * FROM run").fetchone()
        except sqlite3.DatabaseError as exc:
            self._lock_file.release()
            raise ExitkitError(f"{path}: not a drill journal ({exc}); remove it to start "
                               f"over") from None
        if row is None:
            self._lock_file.release()
            raise ExitkitError(f"{path}: the journal names no run; remove it to start over")
        self.header = JournalHeader(*row)
        self._mutex = threading.Lock()
        self.restores = RestoreBook(self)
        self._db.execute("BEGIN")
        self._next_commit = time.monotonic() + COMMIT_INTERVAL_S

    def __setitem__(self, order: Order, obj: CopiedObject) -> None:
        with self._mutex:
            self._db.execute("INSERT OR REPLACE INTO copied VALUES (?, ?, ?)",
                             (*order, _encode(obj)))
            if time.monotonic() >= self._next_commit:
                self._commit()

    def __getitem__(self, order: Order) -> CopiedObject:
        with self._mutex:
            row = self._db.execute("SELECT object FROM copied WHERE relative = ? AND age = ?",
                                   order).fetchone()
        if row is None:
            raise KeyError(order)
        return _decode(row[0])

    def __contains__(self, order: object) -> bool:
        """Whether *order* was copied (looked up without decoding the object)."""
        with self._mutex:
            return self._db.execute("SELECT 1 FROM copied WHERE relative = ? AND age = ?",
                                    order).fetchone() is not None

    def total_size(self) -> int:
        """Bytes of every copied object, summed in SQLite (nothing decoded)."""
        with self._mutex:
            return self._db.execute("SELECT coalesce(sum(json_extract(object, '$.size')), 0) "
                                    "FROM copied").fetchone()[0]

    def multipart_count(self) -> int:
        """Copied objects written in more than one part, counted in SQLite (nothing
        decoded)."""
        with self._mutex:
            return self._db.execute("SELECT count(*) FROM copied "
                                    "WHERE json_extract(object, '$.parts') > 1").fetchone()[0]

    def __delitem__(self, order: Order) -> None:
        with self._mutex:
            deleted = self._db.execute("DELETE FROM copied WHERE relative = ? AND age = ?",
                                       order).rowcount
        if not deleted:
            raise KeyError(order)

    def __len__(self) -> int:
        with self._mutex:
            return self._db.execute("SELECT count(*) FROM copied").fetchone()[0]

    def __iter__(self) -> Iterator[Order]:
        for relative, age, _obj in self._rows():
            yield relative, age

    def items(self) -> Iterator[tuple[Order, CopiedObject]]:
        """Every copied object with its (relative key, age), in key order, streamed."""
        for relative, age, obj in self._rows():
            yield (relative, age), _decode(obj)

    def values(self) -> Iterator[CopiedObject]:
        """Every copied object, in key order, streamed."""
        for _order, obj in self.items():
            yield obj

    def _rows(self, page: int = 1000) -> Iterator[tuple[str, int, str]]:
        """Rows in key order, fetched a page at a time (the lock is not held between)."""
        after: Order = ("", -1)
        while True:
            with self._mutex:
                rows = self._db.execute(
                    "SELECT relative, age, object FROM copied WHERE (relative, age) > (?, ?) "
                    "ORDER BY relative, age LIMIT ?", (*after, page)).fetchall()
            yield from rows
            if len(rows) < page:
                return
            after = rows[-1][0], rows[-1][1]

    def record_problems(self, problems: Mapping[Order, tuple[str, str]]) -> None:
        """Replace the copy's problems with *problems*: (class, reason) by order."""
        with self._mutex:
            self._db.execute("DELETE FROM problems")
            self._db.executemany("INSERT INTO problems VALUES (?, ?, ?, ?)",
                                 ((*order, kind, reason)
                                  for order, (kind, reason) in problems.items()))
            self._commit()

    def close(self, remove: bool) -> None:
        """Commit (fsync'd); remove the journal when the run passed; release the lock."""
        with self._mutex:
            self._commit(begin=False)
            self._db.close()
        if remove:
            _remove_database(self.path)
        self._lock_file.release()

    def _commit(self, begin: bool = True) -> None:
        self._db.execute("COMMIT")
        if begin:
            self._db.execute("BEGIN")
        self._next_commit = time.monotonic() + COMMIT_INTERVAL_S


class RestoreBook(MutableMapping[Order, RestoreRequest]):
    """The journal's restores by (relative key, age); each new one is committed at once."""

    in_key_order = True  # iteration pages through the table in (relative key, age) order

    def __init__(self, journal: CopyJournal) -> None:
        self._journal = journal

    def __setitem__(self, order: Order, request: RestoreRequest) -> None:
        journal = self._journal
        with journal._mutex:
            journal._db.execute("INSERT OR REPLACE INTO restores VALUES (?, ?, ?)",
                                (*order, json.dumps(asdict(request), ensure_ascii=False)))
            journal._commit()

    def __getitem__(self, order: Order) -> RestoreRequest:
        journal = self._journal
        with journal._mutex:
            row = journal._db.execute("SELECT request FROM restores WHERE relative = ? AND "
                                      "age = ?", order).fetchone()
        if row is None:
            raise KeyError(order)
        return RestoreRequest(**json.loads(row[0]))

    def __delitem__(self, order: Order) -> None:
        raise TypeError("a requested restore stays in the journal")

    def __len__(self) -> int:
        with self._journal._mutex:
            return self._journal._db.execute("SELECT count(*) FROM restores").fetchone()[0]

    def __iter__(self) -> Iterator[Order]:
        after: Order = ("", -1)
        while True:
            with self._journal._mutex:
                rows = self._journal._db.execute(
                    "SELECT relative, age FROM restores WHERE (relative, age) > (?, ?) "
                    "ORDER BY relative, age LIMIT 1000", after).fetchall()
            yield from (tuple(row) for row in rows)
            if len(rows) < 1000:
                return
            after = tuple(rows[-1])


def read_journal(path: Path) -> tuple[JournalHeader, dict[Order, CopiedObject]]:
    """The run and every committed copied object of a journal, read-only (a running
    drill may hold it; its last second of copies may not be committed yet)."""
    header, copied, _restores = read_journal_with_restores(path)
    return header, copied


def read_journal_with_restores(path: Path) -> tuple[JournalHeader, dict[Order, CopiedObject],
                                                      dict[Order, RestoreRequest]]:
    """:func:`read_journal` plus every restore the drill requested."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            header = JournalHeader(*db.execute("SELECT * FROM run").fetchone())
            rows = db.execute("SELECT relative, age, object FROM copied").fetchall()
            restores = db.execute("SELECT relative, age, request FROM restores").fetchall()
        finally:
            db.close()
    except (sqlite3.Error, TypeError) as exc:
        raise ExitkitError(f"{path}: cannot read the journal ({exc})") from None
    return (header, {(relative, age): _decode(obj) for relative, age, obj in rows},
            {(relative, age): RestoreRequest(**json.loads(request))
             for relative, age, request in restores})


def read_problems(path: Path) -> tuple[JournalHeader, dict[Order, tuple[str, str]]]:
    """The run and the copy problems of a journal, read-only."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            header = JournalHeader(*db.execute("SELECT * FROM run").fetchone())
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
            rows = (db.execute("SELECT relative, age, kind, reason FROM problems").fetchall()
                    if "problems" in tables else [])  # an older journal
        finally:
            db.close()
    except (sqlite3.Error, TypeError) as exc:
        raise ExitkitError(f"{path}: cannot read the journal ({exc})") from None
    return header, {(relative, age): (kind, reason) for relative, age, kind, reason in rows}


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


_COPIED_FIELDS = tuple(field.name for field in fields(CopiedObject))
_ATTRIBUTE_FIELDS = tuple(field.name for field in fields(Attributes))
_PROPERTY_FIELDS = tuple(field.name for field in fields(ObjectProperties))


def _encode(obj: CopiedObject) -> str:
    """The JSON of ``dataclasses.asdict(obj)``, built field by field (no deep copies:
    every value is a string, number, boolean, None or a mapping of strings)."""
    encoded = {name: getattr(obj, name) for name in _COPIED_FIELDS}
    encoded["attributes"] = _encode_attributes(obj.attributes)
    if obj.read_back is not None:
        head = obj.read_back
        encoded["read_back"] = {
            **head._asdict(), "checksums": dict(head.checksums) if head.checksums else None,
            "attributes": _encode_attributes(head.attributes) if head.attributes else None}
    return json.dumps(encoded, separators=(",", ":"), ensure_ascii=False)


def _encode_attributes(attributes: Attributes) -> dict[str, Any]:
    encoded: dict[str, Any] = {}
    for name in _ATTRIBUTE_FIELDS:
        value = getattr(attributes, name)
        encoded[name] = dict(value) if isinstance(value, Mapping) else value
    properties = attributes.properties
    encoded["properties"] = {name: getattr(properties, name) for name in _PROPERTY_FIELDS}
    return encoded


def _decode(text: str) -> CopiedObject:
    value: dict[str, Any] = json.loads(text)
    value["attributes"] = _decode_attributes(value["attributes"])
    head = value.get("read_back")
    if head is not None:
        if head["attributes"] is not None:
            head["attributes"] = _decode_attributes(head["attributes"])
        value["read_back"] = ObjectInfo(**head)
    return CopiedObject(**value)


def _decode_attributes(attributes: dict[str, Any]) -> Attributes:
    attributes["properties"] = ObjectProperties(**attributes.get("properties", {}))
    return Attributes(**attributes)
