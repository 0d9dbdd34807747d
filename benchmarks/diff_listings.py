"""Benchmark: the verify phase over two synthetic listings of 1,000,000 keys each.

In-memory listings (generated on the fly, never held) with a few thousand differences:
missing, extra, size and content differences. ETags are plain MD5s, metadata comparison
is off, so the run measures the streaming merge, classification, the manifest (sorted, with
its Merkle root) and the differences file. Reports wall time, the part of it spent only
generating the synthetic listings (measured separately), and peak RSS.

    python benchmarks/diff_listings.py --keys 1000000
"""

import argparse
import hashlib
import json
import resource
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from exitkit.drill.events import SilentObserver
from exitkit.evidence.manifest import ManifestWriter
from exitkit.evidence.sidefiles import SideFile
from exitkit.measure.timing import PhaseClock
from exitkit.providers.contract import Capabilities, ObjectInfo, ObjectStream
from exitkit.verify.entries import current_entries
from exitkit.verify.sampling import Sampler
from exitkit.verify.verifier import VerifyScope, verify_phase


SIZE = 24


def body_of(index: int, damaged: bool = False) -> bytes:
    return f"object {index}{' damaged' if damaged else ''}".encode().ljust(SIZE)


class SyntheticStore:
    """A listing of *keys* objects; every 1,000th key differs on the target in some way."""

    capabilities = Capabilities(lists_in_key_order=True)

    def __init__(self, keys: int, target: bool) -> None:
        self.keys, self.target = keys, target
        self.label = "target" if target else "source"

    def _kind(self, index: int) -> str:
        return ("missing", "extra", "size", "content")[index // 1000 % 4] \
            if self.target and index % 1000 == 500 else "same"

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        stray = "f" * 32
        for index in range(self.keys):
            key = f"{prefix}data/{index:09d}"
            etag = f"{index:032x}"
            if index % 1000 != 500:
                yield ObjectInfo(key, SIZE, etag)
                continue
            kind = self._kind(index)
            if kind == "missing":
                continue
            if kind == "content":
                etag = stray
            yield ObjectInfo(key, SIZE + (kind == "size"), etag)
            if kind == "extra":
                yield ObjectInfo(key + "-stray", 3, stray)

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
            copied={}, unrepresentable={}, sampler=Sampler(None, []), versions="latest",
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
