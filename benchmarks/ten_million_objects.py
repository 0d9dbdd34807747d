"""Benchmark: a whole drill of 10,000,000 objects in flat memory (inventory, plan, copy
scheduling, verification, record), against synthetic stores.

moto cannot hold ten million objects, so the drill's real runner (``DrillRun``) is given a
synthetic source and target in place of the adapters: the source lists N objects
(``data/<block>/<index>``, 24-byte bodies, real MD5 ETags) generated a block at a time and
never held; the target accepts every write (checking nothing but the stream's digests, as
the copy does) and lists the source's objects back. Everything else is the drill as it
runs: the plan spilled to SQLite, the seeded sample draw, the copy journal, the streaming
merge of both listings, the manifest with its Merkle root, the record.

The child process that runs the drill is watched from outside: peak RSS (VmHWM) and RSS
samples against the phase it is in. Phase durations come from the record.

    python benchmarks/ten_million_objects.py --objects 10000000
    python benchmarks/ten_million_objects.py --objects 10000000 --verify-only
    python benchmarks/ten_million_objects.py --objects 200000 --sample 0   # no sample draw

Run it with ``PYTHONPATH=src`` from the repository root.
"""

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import chain
from pathlib import Path

from drillbench import watch_memory

BLOCK = 1000
SIZE = 24
SPEC = """\
version: 1
name: ten-million
source: {{provider: local, path: {base}, bucket: source}}
target: {{provider: local, path: {base}, bucket: target, create_bucket: true}}
options: {{concurrency: 8}}
verification:
  metadata: false
  properties: false
{sample}"""


def run_drill(objects: int, sample: int, results: Path, verify_only: bool) -> None:
    """In the child: run the drill over synthetic stores and print its record's figures."""
    from exitkit.drill import runner
    from exitkit.drill.spec_file import load_spec
    from exitkit.measure.requests import RequestCounter
    from exitkit.providers.contract import (Capabilities, ObjectInfo, ObjectStream,
                                            PutResult)

    def body(key: str) -> bytes:
        return key.encode().ljust(SIZE)[:SIZE]

    class SyntheticStore:
        """N objects, listed in key order a block at a time; writes are digested and
        dropped."""

        capabilities = Capabilities(lists_in_key_order=True, max_key_bytes=1024,
                                    storage_classes=frozenset({"STANDARD"}))

        def __init__(self, label: str) -> None:
            self.label = label
            self.requests = RequestCounter()

        def check(self) -> None:
            """Always reachable."""

        def prepare(self, create: bool, versioned: bool, object_lock: bool = False) -> None:
            """Nothing to prepare."""

        def object_lock_enabled(self) -> bool:
            return False

        def _block(self, start: int) -> list[ObjectInfo]:
            keys = [f"data/{start // BLOCK:06d}/{index:03d}"
                    for index in range(min(BLOCK, objects - start))]
            return [ObjectInfo(key, SIZE, hashlib.md5(body(key)).hexdigest(),
                               storage_class="STANDARD") for key in keys]

        def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
            return chain.from_iterable(map(self._block, range(0, objects, BLOCK)))

        list_versions = list

        def head(self, key: str, version_id: str | None = None) -> ObjectInfo:
            return ObjectInfo(key, SIZE, hashlib.md5(body(key)).hexdigest())

        @contextmanager
        def open(self, key: str, version_id: str | None = None):
            yield ObjectStream(self.head(key), iter([body(key)]))

        def tags(self, key: str, version_id: str | None = None) -> dict[str, str]:
            return {}

        def first_part_size(self, key: str, version_id: str | None = None) -> None:
            return None

        def put(self, key: str, chunks, size: int, attributes=None) -> PutResult:
            digest = hashlib.md5()
            for chunk in chunks:
                digest.update(chunk)
            return PutResult(key=key, size=size, etag=digest.hexdigest())

        def remove(self, key: str, version_id: str | None = None) -> None:
            """Dropped."""

    runner.open_source = lambda endpoint, keys: SyntheticStore("synthetic source")
    runner.open_target = lambda *args, **kwargs: SyntheticStore("synthetic target")
    runner.open_restorer = lambda source: None
    base = results / "stores"
    sample_spec = f"  sample: {{count: {sample}, seed: 7}}\n" if sample else ""
    spec_path = results / "drill.yaml"
    spec_path.write_text(SPEC.format(base=base, sample=sample_spec))
    (base / "source").mkdir(parents=True)
    record = runner.DrillRun(load_spec(spec_path), results, verify_only=verify_only).execute()
    verification = record.verification
    copied = None if verify_only else record.copy_summary.objects_copied
    if copied not in (None, objects) or record.verdict != "passed":
        sys.exit(f"not every object was copied and verified: {record.copy_summary}")
    print(json.dumps({
        "verdict": record.verdict,
        "errors": record.errors,
        "phases": {phase.name: round(phase.duration_s, 1) for phase in record.phases},
        "inventory_objects": record.inventory.objects,
        "objects_copied": copied,
        "verified": verification.objects_verified,
        "counts": {kind: count for kind, count in verification.counts.items() if count},
        "manifest_entries": verification.manifest.entries,
    }))


def watch(child: subprocess.Popen) -> tuple[int, list[tuple[float, str, int]]]:
    """Poll the child until it exits: peak RSS (KiB) and (seconds, phase, RSS KiB) samples
    every ten seconds; the phase is read from the child's progress lines on stderr."""
    phase = ["start"]

    def follow() -> None:
        for line in child.stderr:
            if line.startswith("phase "):
                phase[0] = line.split()[1]

    threading.Thread(target=follow, daemon=True).start()
    peak, samples = watch_memory(child, lambda: phase[0], sample_every=10.0)
    return peak, [(round(seconds), phase, rss) for seconds, phase, rss in samples]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000_000)
    parser.add_argument("--sample", type=int, default=100_000,
                        help="objects in the seeded sample draw (0: verify every object)")
    parser.add_argument("--verify-only", action="store_true",
                        help="no copy phase (exitkit verify): inventory, plan, draw, verify")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        from exitkit.drill.events import SilentObserver

        class PhaseLines(SilentObserver):
            def phase_started(self, name, total_objects, total_bytes) -> None:
                print(f"phase {name}", file=sys.stderr, flush=True)

        from exitkit.drill import runner
        original = runner.DrillRun.__init__

        def with_phases(self, *positional, **named) -> None:
            original(self, *positional, **named)
            self.observer = PhaseLines()

        runner.DrillRun.__init__ = with_phases
        run_drill(args.objects, args.sample, Path(args.child), args.verify_only)
        return
    with tempfile.TemporaryDirectory(prefix="exitkit-bench-") as tmp:
        started = time.monotonic()
        child = subprocess.Popen([sys.executable, __file__, "--objects", str(args.objects),
                                  "--sample", str(args.sample), "--child", tmp,
                                  *(["--verify-only"] if args.verify_only else [])],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        peak, samples = watch(child)
        wall = time.monotonic() - started
        output = child.stdout.read()
    if child.returncode != 0:
        sys.exit(f"the drill failed (exit {child.returncode})")
    by_phase: dict[str, int] = {}
    for _seconds, phase, rss in samples:
        by_phase[phase] = max(by_phase.get(phase, 0), rss)
    print(json.dumps({
        "objects": args.objects,
        "sample": args.sample,
        "verify_only": args.verify_only,
        "wall_seconds": round(wall, 1),
        "peak_rss_mib": round(peak / 1024, 1),
        "max_rss_mib_by_phase": {phase: round(rss / 1024, 1) for phase, rss in by_phase.items()},
        "rss_samples_mib": [(seconds, phase, round(rss / 1024, 1))
                            for seconds, phase, rss in samples[::max(1, len(samples) // 30)]],
        "drill": json.loads(output.strip().splitlines()[-1]),
    }, indent=2))


if __name__ == "__main__":
    main()
