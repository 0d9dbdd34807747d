"""Benchmark: a drill of many small objects (default 100,000): wall time, rates, memory.

Starts moto_server and SeaweedFS on loopback, seeds --objects objects of 0.5-4 KiB,
runs ``exitkit drill run`` in a child process and samples its RSS every two seconds
against the number of objects copied so far (read from the drill's checkpoint journal),
to show whether memory stays flat as the object count grows.

    python benchmarks/many_small_objects.py --objects 100000
"""

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

from drillbench import watch_memory, write_spec
from exitkit.embedded.servers import MotoServer, SeaweedServer
from exitkit.providers.boto import s3_client



def seed(client, count: int) -> None:
    """Upload *count* small objects under a few hundred prefixes."""
    client.create_bucket(Bucket="bench-source")
    sizes = random.Random(5)

    def put(index: int) -> None:
        client.put_object(Bucket="bench-source", Key=f"load/{index // 500:04d}/{index:07d}.txt",
                          Body=os.urandom(sizes.randint(512, 4096)), ContentType="text/plain")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(count), chunksize=256))


def journaled(path: Path) -> int:
    """Objects the drill has copied so far, as its checkpoint journal shows (read-only)."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return db.execute("SELECT count(*) FROM copied").fetchone()[0]
    except sqlite3.Error:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=16)
    options = parser.parse_args()
    with MotoServer() as source, SeaweedServer() as target, tempfile.TemporaryDirectory() as tmp:
        client = s3_client(source.endpoint, source.access_key, source.secret_key)
        started = time.monotonic()
        seed(client, options.objects)
        seeded = time.monotonic() - started
        spec = Path(tmp, "bench.yaml")
        env = write_spec(spec, "bench-many", source, target,
                         f"{{concurrency: {options.concurrency}}}")
        output = Path(tmp, "record.json")
        journal = Path(tmp, "results", "bench-many.journal.sqlite")
        started = time.monotonic()
        with output.open("w") as stdout:
            child = subprocess.Popen([sys.executable, "-m", "exitkit", "drill", "run", str(spec),
                                      "--json", "--results", str(journal.parent)], env=env,
                                     stdout=stdout)
            peak_kib, samples = watch_memory(child, lambda: journaled(journal))
        wall = time.monotonic() - started
        record = json.loads(output.read_text())
    phases = {phase["name"]: phase for phase in record["phases"]}
    copying = [(objects, rss) for _, objects, rss in samples if 0 < objects < options.objects]
    print(json.dumps({
        "objects": options.objects,
        "concurrency": options.concurrency,
        "seed_seconds": round(seeded, 1),
        "drill_wall_seconds": round(wall, 1),
        "phase_seconds": {name: round(p["duration_s"], 1) for name, p in phases.items()},
        "copy_objects_per_s": round(phases["copy"]["objects_per_s"], 1),
        "verify_objects_per_s": round(phases["verify"]["objects_per_s"], 1),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "rss_mib_while_copying": {f"{objects} objects": round(rss / 1024, 1)
                                  for objects, rss in copying[::max(1, len(copying) // 8)]},
        "verdict": record["verdict"],
        "matched": record["verification"]["counts"]["matched"],
    }, indent=2))


if __name__ == "__main__":
    main()
