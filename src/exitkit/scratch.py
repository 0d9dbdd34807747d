"""Scratch space on disk for per-object working state (not evidence).

A private temporary SQLite database (``sqlite3.connect("")``): SQLite keeps a few MiB of
pages in memory and spills the rest to a file under ``SQLITE_TMPDIR`` or ``TMPDIR``,
deleted when the connection closes, so structures of millions of rows leave memory flat.
"""

import sqlite3

CACHE_KIB = 2048


def scratch_database() -> sqlite3.Connection:
    """A private temporary on-disk SQLite database, deleted when closed; usable from any
    thread (callers serialise access); statements run in autocommit unless the caller
    opens a transaction."""
    db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    return db
