"""Benchmark: peak memory and throughput of a drill copying one large object.

Starts moto_server and SeaweedFS on loopback, uploads one object of --size bytes to the
source (streamed, multipart), then runs ``exitkit drill run`` in a child process and
reports its wall time and peak RSS (VmHWM of that child, polled).

    python benchmarks/copy_large_object.py --size 1GiB
"""

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from boto3.s3.transfer import TransferConfig

from drillbench import watch_memory, write_spec
from exitkit.drill.units import parse_size
from exitkit.providers.boto import s3_client
from exitkit.embedded.servers import MotoServer, SeaweedServer



class PatternFile(io.RawIOBase):
    """A read-only file of *size* bytes from a repeating random block, never held whole."""

    def __init__(self, size: int) -> None:
        self.remaining = size
        self.block = os.urandom(1024 * 1024 + 7)
        self.offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = min(len(buffer), self.remaining)
        view = memoryview(buffer)
        filled = 0
        while filled < count:
            piece = min(len(self.block) - self.offset, count - filled)
            view[filled:filled + piece] = self.block[self.offset:self.offset + piece]
            self.offset = (self.offset + piece) % len(self.block)
            filled += piece
        self.remaining -= count
        return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1GiB")
    size = parse_size(parser.parse_args().size)
    with MotoServer() as source, SeaweedServer() as target, tempfile.TemporaryDirectory() as tmp:
        client = s3_client(source.endpoint, source.access_key, source.secret_key)
        client.create_bucket(Bucket="bench-source")
        started = time.monotonic()
        client.upload_fileobj(io.BufferedReader(PatternFile(size), 8 * 1024 * 1024),
                              "bench-source", "large/object.bin",
                              Config=TransferConfig(multipart_chunksize=64 * 1024 * 1024,
                                                    max_concurrency=2))
        seeded = time.monotonic() - started
        spec = Path(tmp, "bench.yaml")
        env = write_spec(spec, "bench-large-object", source, target,
                         "{concurrency: 4, part_size: 8MiB}")
        output = Path(tmp, "record.json")
        started = time.monotonic()
        with output.open("w") as stdout:
            child = subprocess.Popen([sys.executable, "-m", "exitkit", "drill", "run", str(spec),
                                      "--json", "--results", tmp], env=env, stdout=stdout)
            peak_kib, _ = watch_memory(child)
        wall = time.monotonic() - started
        record = json.loads(output.read_text())
    copy = next(phase for phase in record["phases"] if phase["name"] == "copy")
    print(json.dumps({
        "object_bytes": size,
        "seed_seconds": round(seeded, 1),
        "drill_wall_seconds": round(wall, 1),
        "copy_mib_per_s": round(copy["bytes_per_s"] / 2**20, 1),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "verdict": record["verdict"],
        "verified_by": record["verification"]["methods"],
    }, indent=2))


if __name__ == "__main__":
    main()
