"""Copy throughput per Dask worker, and what the projection makes of it.

Seeds a moto_server bucket with OBJECTS objects of SIZE bytes, then runs the same drill
into a second moto_server in one process and on local Dask clusters of 1..MAX_WORKERS
worker processes (one thread each). Prints, per run: the copy phase's wall time and aggregate
rate, the measured per-worker rate and the workers the projection says a full exit of the
same estate scaled to ESTATE_OBJECTS objects needs for the 30-day transition.

    PYTHONPATH=src python3 benchmarks/distributed_workers.py [OBJECTS] [SIZE] [MAX_WORKERS]
"""

import os
import sys
import tempfile
from pathlib import Path

from distributed import LocalCluster

from exitkit.api import run_drill
from exitkit.embedded.servers import MotoServer
from exitkit.measure.projection import WorkerRate, workers_needed
from exitkit.providers.boto import s3_client

ESTATE_OBJECTS = 1_000_000_000
SPEC = """\
version: 1
name: bench
source: {{provider: aws-s3, endpoint: "{source}", bucket: bench-source,
          credentials: {{access_key_env: BENCH_SRC_KEY, secret_key_env: BENCH_SRC_SECRET}}}}
target: {{provider: aws-s3, endpoint: "{target}", bucket: bench-target, create_bucket: true,
          credentials: {{access_key_env: BENCH_TGT_KEY, secret_key_env: BENCH_TGT_SECRET}}}}
options: {{concurrency: 8}}
verification: {{properties: false}}
distributed: {{shard_objects: {shard_objects}}}
cleanup: true
"""


def seed(server, objects: int, size: int) -> None:
    client = s3_client(server.endpoint, server.access_key, server.secret_key)
    client.create_bucket(Bucket="bench-source")
    body = os.urandom(size)
    for n in range(objects):
        client.put_object(Bucket="bench-source", Key=f"data/{n:07d}.bin", Body=body)


def report(label: str, record) -> None:
    copy = next(phase for phase in record.phases if phase.name == "copy")
    projection = record.projection
    rate = WorkerRate(projection.per_worker_objects_per_s, projection.per_worker_bytes_per_s)
    scaled = workers_needed(ESTATE_OBJECTS, ESTATE_OBJECTS * copy.bytes // max(copy.objects, 1),
                            rate, 0.0)
    print(f"{label:>14}: copy {copy.duration_s:7.2f} s, {copy.objects_per_s:8.1f} objects/s "
          f"aggregate; per worker {projection.per_worker_objects_per_s:8.1f} objects/s, "
          f"{projection.per_worker_bytes_per_s / 2**20:7.2f} MiB/s on "
          f"{projection.workers_measured} worker(s); {ESTATE_OBJECTS:,} objects need "
          f"{scaled} worker(s) for 30 days", flush=True)


def main() -> None:
    objects = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 64 * 1024
    max_workers = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    with MotoServer() as source, MotoServer() as target, \
            tempfile.TemporaryDirectory() as scratch:
        seed(source, objects, size)
        spec = Path(scratch) / "bench.yaml"
        spec.write_text(SPEC.format(source=source.endpoint, target=target.endpoint,
                                    shard_objects=max(1, objects // 12)))
        env = {**os.environ, "BENCH_SRC_KEY": source.access_key,
               "BENCH_SRC_SECRET": source.secret_key, "BENCH_TGT_KEY": target.access_key,
               "BENCH_TGT_SECRET": target.secret_key}
        os.environ.update(env)  # the workers read the credentials from their environment
        report("one process", run_drill(spec, Path(scratch) / "r0", environ=env).record)
        for workers in range(1, max_workers + 1):
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              host="127.0.0.1", dashboard_address=":0") as cluster:
                record = run_drill(spec, Path(scratch) / f"r{workers}", environ=env,
                                   scheduler=cluster.scheduler_address).record
                report(f"{workers} worker(s)", record)


if __name__ == "__main__":
    main()
