"""Benchmark: the verify phase over two synthetic listings of 1,000,000 keys each.

In-memory listings (generated on the fly, never held) with a few thousand differences:
missing, extra, size and content differences. ETags are plain MD5s, metadata comparison
is off, so the run measures the streaming merge, classification, the manifest (sorted, with
its Merkle root) and the differences file. Reports wall time, the part of it spent only
generating the synthetic listings (measured separately), and peak RSS.

    python benchmarks/diff_listings.py --keys 1000000
"""

import argparse
import json
import resource
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from itertools import chain, repeat
from pathlib import Path

from exitkit.drill.events import SilentObserver
from exitkit.drill.keys import KeyMap
from exitkit.evidence.manifest import ManifestWriter
from exitkit.evidence.sidefiles import SideFile
from exitkit.measure.timing import PhaseClock
from exitkit.providers.contract import Capabilities, ObjectInfo, ObjectStream
from exitkit.verify.entries import current_entries
from exitkit.verify.sampling import Sampler
from exitkit.verify.verifier import VerifyScope, verify_phase


SIZE = 24
BLOCK = 1000  # keys per block of the listing; on the target, the one at OFFSET differs
OFFSET = 500
STRAY = "f" * 32
KINDS = ("missing", "extra", "size", "content")
DIGITS = [f"{offset:03d}" for offset in range(BLOCK)]
_new_info = partial(tuple.__new__, ObjectInfo)  # ObjectInfo from a tuple of all its fields
_UNLISTED = tuple(ObjectInfo._field_defaults[name] for name in ObjectInfo._fields[3:])


def body_of(index: int, damaged: bool = False) -> bytes:
    return f"object {index}{' damaged' if damaged else ''}".encode().ljust(SIZE)


def listed(keys: Iterable[str], etags: Iterable[str]) -> list[ObjectInfo]:
    """``ObjectInfo(key, SIZE, etag)`` for each pair, built in C loops (benchmark overhead)."""
    return list(map(_new_info, zip(keys, repeat(SIZE), etags, *map(repeat, _UNLISTED))))


class SyntheticStore:
    """A listing of *keys* objects; every 1,000th key differs on the target in some way.

    Key ``data/<index, 9 digits>``, a unique plain-MD5-like ETag (the index in 32
    digits); generated a block of 1,000 keys at a time, never held whole.
    """

    capabilities = Capabilities(lists_in_key_order=True)

    def __init__(self, keys: int, target: bool) -> None:
        self.keys, self.target = keys, target
        self.label = "target" if target else "source"

    def _kind(self, index: int) -> str:
        return KINDS[index // BLOCK % 4] if self.target and index % BLOCK == OFFSET else "same"

    def _block(self, prefix: str, start: int) -> list[ObjectInfo]:
        digits = DIGITS[:min(BLOCK, self.keys - start)]
        infos = listed(map(f"{prefix}data/{start // BLOCK:06d}".__add__, digits),
                       map(f"{start // BLOCK:029d}".__add__, digits))
        if len(infos) > OFFSET:
            self._damage(infos, self._kind(start + OFFSET))
        return infos

    @staticmethod
    def _damage(infos: list[ObjectInfo], kind: str) -> None:
        info = infos[OFFSET]
        if kind == "missing":
            del infos[OFFSET]
        elif kind == "extra":
            infos.insert(OFFSET + 1, ObjectInfo(info.key + "-stray", 3, STRAY))
        elif kind == "size":
            infos[OFFSET] = info._replace(size=SIZE + 1)
        elif kind == "content":
            infos[OFFSET] = info._replace(etag=STRAY)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return chain.from_iterable(map(self._block, repeat(prefix), range(0, self.keys, BLOCK)))

    @contextmanager
    def open(self, key: str, version_id=None):
        index = int(key.rsplit("/", 1)[1].split("-")[0])
        body = body_of(index, damaged=self._kind(index) == "content")
        yield ObjectStream(ObjectInfo(key=key, size=len(body)), iter([body]))

    def head(self, key, version_id=None):
        return ObjectInfo(key=key, size=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    keys = parser.parse_args().keys
    source, target = SyntheticStore(keys, False), SyntheticStore(keys, True)
    started = time.monotonic()
    for store in (source, target):
        for _info in store.list():
            pass
    generating = time.monotonic() - started
    with tempfile.TemporaryDirectory() as tmp:
        scope = VerifyScope(
            source_entries=current_entries(source, ""), target_entries=current_entries(target, ""),
            copied={}, known={}, keys=KeyMap("", ""), sampler=Sampler(None, [], 8 << 20),
            versions="latest",
            compare_metadata=False, differences=SideFile(Path(tmp), "bench.differences.jsonl"),
            manifest=ManifestWriter(Path(tmp), "bench.manifest.jsonl"))
        started = time.monotonic()
        verification = verify_phase(source, target, scope, concurrency=8, max_retries=0,
                                    clock=PhaseClock("verify"), observer=SilentObserver())
        wall = time.monotonic() - started
    print(json.dumps({
        "keys_per_side": keys,
        "wall_seconds": round(wall, 2),
        "of_which_generating_listings_seconds": round(generating, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "counts": {k: v for k, v in verification.counts.items() if v},
        "methods": verification.methods,
        "manifest_entries": verification.manifest.entries,
    }, indent=2))


if __name__ == "__main__":
    main()
