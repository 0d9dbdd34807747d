"""Put a listing into key order with bounded memory (external merge sort).

S3 lists keys in UTF-8 byte order, which equals Python's code-point order of ``str``;
SeaweedFS and file systems list in directory order. Runs of ``run_size`` entries are
sorted in memory, spilled to temporary files and merged lazily.
"""

import heapq
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TypeVar

Entry = TypeVar("Entry")


def sorted_by(entries: Iterable[Entry], key: Callable[[Entry], str],
              run_size: int = 50_000) -> Iterator[Entry]:
    """Yield *entries* ordered by *key*; at most *run_size* entries are held in memory."""
    runs: list[IO[bytes]] = []
    batch: list[Entry] = []
    try:
        for entry in entries:
            batch.append(entry)
            if len(batch) >= run_size:
                runs.append(_spill(sorted(batch, key=key)))
                batch = []
        batch.sort(key=key)
        if not runs:
            yield from batch
            return
        runs.append(_spill(batch))
        batch = []
        yield from heapq.merge(*(_read(run) for run in runs), key=key)
    finally:
        for run in runs:
            run.close()


def _spill(batch: list) -> IO[bytes]:
    handle = tempfile.TemporaryFile(prefix="exitkit-sort-")
    for entry in batch:
        pickle.dump(entry, handle, protocol=pickle.HIGHEST_PROTOCOL)
    handle.seek(0)
    return handle


def _read(handle: IO[bytes]) -> Iterator:
    while True:
        try:
            yield pickle.load(handle)
        except EOFError:
            return


def in_key_order(entries: Iterable[Entry], key: Callable[[Entry], str],
                 already_sorted: bool) -> Iterator[Entry]:
    """Pass *entries* through when the store lists in key order, else sort them."""
    return iter(entries) if already_sorted else sorted_by(entries, key)
