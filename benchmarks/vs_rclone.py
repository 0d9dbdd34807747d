"""Benchmark: exitkit against rclone on the same loopback servers, side by side.

Starts moto_server (source) and SeaweedFS (target) on loopback, seeds three datasets into
the source (the demo estate of --objects mixed objects, one --large-size object, and one
1 KiB object whose drill is each tool's fixed cost),
measures SeaweedFS's single-stream ingest (one presigned PUT of the large object's size
from memory), then copies each dataset with ``exitkit drill run`` (copy and verify,
default options, concurrency 8; exitkit's modules from a bytecode cache warmed first, as
an installed package has one) and with ``rclone copy -M`` (through rclone-python,
``--transfers 8 --checkers 8``), alternating, into a fresh target bucket each run. It
prints the median of --runs runs of wall time, CPU time (user + sys of the tool's
process tree, from ``RUSAGE_CHILDREN``) and peak RSS (polled, VmHWM), with ratios, and
the CPU per object (mixed) and per byte (large) beyond each tool's fixed cost.

The large object's ingest probe and copies run with SeaweedFS on CPUs of its own (half of
them; the source server, this process and the tools on the others), as a target has its
own machine: on two shared cores SeaweedFS alone takes 1.8 of them to ingest one stream,
so a copy, which also needs the source server and the tool, could not come near that rate
whatever the tool did. The mixed and tiny datasets run on all CPUs, as before.

    python benchmarks/vs_rclone.py --runs 3
"""

import argparse
import http.client
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from urllib.parse import urlsplit

import psutil
from rclone_python import rclone

from drillbench import write_spec
from exitkit.drill.units import parse_size
from exitkit.embedded.seed import demo_objects, put_object, seed_bucket
from exitkit.embedded.servers import MotoServer, SeaweedServer
from exitkit.providers.boto import s3_client

CONCURRENCY = 8


def _rusage_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class TreeMemory:
    """Peak RSS of the child processes of this process that are not the servers."""

    def __init__(self, servers: set[int]) -> None:
        self.servers, self.peak_kib = servers, 0

    def poll(self) -> None:
        """Read VmHWM of every tool process now running under this process."""
        for child in psutil.Process().children(recursive=True):
            try:
                if child.pid in self.servers or any(parent.pid in self.servers
                                                    for parent in child.parents()):
                    continue
            except psutil.Error:  # it ended meanwhile
                continue
            try:
                status = Path(f"/proc/{child.pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_kib = max(self.peak_kib, int(line.split()[1]))


def measured(run, servers: set[int]) -> dict:
    """Run *run* (which starts a child process and waits for it): wall, CPU, peak RSS."""
    import threading

    memory, done = TreeMemory(servers), threading.Event()

    def watch() -> None:
        while not done.is_set():
            memory.poll()
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    cpu, started = _rusage_cpu(), time.monotonic()
    watcher.start()
    try:
        extra = run() or {}
    finally:
        done.set()
        watcher.join()
    return {"wall_s": time.monotonic() - started, "cpu_s": _rusage_cpu() - cpu,
            "peak_rss_mib": memory.peak_kib / 1024, **extra}


def run_exitkit(tmp: Path, source, target, source_bucket: str, target_bucket: str) -> dict:
    """``exitkit drill run`` of *source_bucket* into a new *target_bucket*; the copy
    phase's rate (bytes/s) from its record."""
    spec = tmp / f"{target_bucket}.yaml"
    env = write_spec(spec, target_bucket, source, target,
                     f"{{concurrency: {CONCURRENCY}}}")
    text = spec.read_text().replace("bench-source", source_bucket).replace("bench-target",
                                                                           target_bucket)
    spec.write_text(text)
    env.update(exitkit_env(tmp))
    results = tmp / "results"
    done = subprocess.run([sys.executable, "-m", "exitkit", "drill", "run", str(spec), "--json",
                           "--results", str(results)], env=env, capture_output=True)
    record = json.loads(done.stdout)
    if record["verdict"] != "passed":
        raise SystemExit(f"exitkit drill did not pass: {record['verdict']} {record['errors']}")
    copy = next(phase for phase in record["phases"] if phase["name"] == "copy")
    return {"copy_bytes_per_s": copy["bytes_per_s"]}


def exitkit_env(tmp: Path) -> dict[str, str]:
    """Run exitkit from this checkout's ``src`` with a bytecode cache, as an installed
    package has one (pip compiles it): without one, as under ``PYTHONDONTWRITEBYTECODE``,
    every run compiles its ~100 modules again (about 0.15 s of CPU)."""
    return {"PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"),
            "PYTHONPYCACHEPREFIX": str(tmp / "pycache"), "PYTHONDONTWRITEBYTECODE": ""}


def warm_bytecode_cache(tmp: Path) -> None:
    """Compile exitkit's modules into the bytecode cache once, before anything is timed."""
    subprocess.run([sys.executable, "-c", "import exitkit.cli"],
                   env={**os.environ, **exitkit_env(tmp)}, check=True)


def pin(process: psutil.Process, cpus: set[int]) -> None:
    """Run every thread of *process* and of its children on *cpus* (a thread started later
    takes the CPUs of the thread that starts it)."""
    for each in (process, *process.children(recursive=True)):
        for thread in each.threads():
            try:
                os.sched_setaffinity(thread.id, cpus)
            except ProcessLookupError:  # the thread ended meanwhile
                pass


@contextmanager
def target_on_its_own_cpus(source, target):
    """For the block, run the target server on half the CPUs and the source server, this
    thread and the tools it starts on the others; all CPUs again after. Yields the two CPU
    sets (target's, others'), or None on a machine of one CPU."""
    everything = sorted(os.sched_getaffinity(0))
    if len(everything) < 2:
        yield None
        return
    half = len(everything) // 2
    theirs, ours = set(everything[-half:]), set(everything[:-half])
    servers = psutil.Process(target.process.pid), psutil.Process(source.process.pid)
    for _ in range(2):  # threads a server started while the first pass ran
        pin(servers[0], theirs)
        pin(servers[1], ours)
    os.sched_setaffinity(0, ours)
    try:
        yield theirs, ours
    finally:
        for server in servers:
            pin(server, set(everything))
        os.sched_setaffinity(0, set(everything))


def rclone_env(source, target) -> None:
    """Configure the remotes ``src:`` and ``dst:`` through rclone's environment."""
    for name, server, provider in (("SRC", source, "Other"), ("DST", target, "SeaweedFS")):
        os.environ.update({
            f"RCLONE_CONFIG_{name}_TYPE": "s3", f"RCLONE_CONFIG_{name}_PROVIDER": provider,
            f"RCLONE_CONFIG_{name}_ACCESS_KEY_ID": server.access_key,
            f"RCLONE_CONFIG_{name}_SECRET_ACCESS_KEY": server.secret_key,
            f"RCLONE_CONFIG_{name}_ENDPOINT": server.endpoint,
            f"RCLONE_CONFIG_{name}_REGION": "us-east-1",
        })


def run_rclone(source_bucket: str, target_bucket: str) -> None:
    """``rclone copy -M`` of *source_bucket* into a new *target_bucket*."""
    rclone.copy(f"src:{source_bucket}", f"dst:{target_bucket}", show_progress=False,
                args=["-M", "--transfers", str(CONCURRENCY), "--checkers", str(CONCURRENCY)])


def single_stream_ingest(target, size: int, bucket: str) -> float:
    """Bytes per second of one presigned PUT of *size* bytes (from memory) to the target,
    into a new *bucket* (removed after), as every copy writes into a new bucket: SeaweedFS
    grows a new bucket's volumes on its first write, which took it about 0.6 s of CPU more
    per 256 MiB than a write into a bucket written before (105 against up to 160 MiB/s)."""
    client = s3_client(target.endpoint, target.access_key, target.secret_key)
    client.create_bucket(Bucket=bucket)
    url = urlsplit(client.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "probe.bin"}, ExpiresIn=600))
    body = os.urandom(size)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
    started = time.monotonic()
    connection.request("PUT", f"{url.path}?{url.query}", body=body,
                       headers={"Content-Length": str(size)})
    response = connection.getresponse()
    response.read()
    elapsed = time.monotonic() - started
    if response.status != 200:
        raise SystemExit(f"ingest probe: HTTP {response.status}")
    empty_bucket(client, bucket)
    return size / elapsed


def empty_bucket(client, bucket: str) -> None:
    """Delete *bucket* and what it holds, so runs do not fill the disk."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
    client.delete_bucket(Bucket=bucket)


def ingest_rate(target, size: int, servers: set[int]) -> float:
    """The median of three single-stream ingest probes (:func:`single_stream_ingest`).

    They run in the large dataset's block, just before its copies: the datasets are
    measured one after another, as SeaweedFS ingested a large object with up to half again
    as much CPU right after a run of the mixed set (1,514 small objects written, then
    deleted) as after a large one, so interleaving them made a copy's rate depend on which
    dataset ran before it, and the probe's on neither."""
    probes = []
    for number in range(3):
        probes.append(single_stream_ingest(target, size, f"ingest-{number}"))
        settle(servers)
    return statistics.median(probes)


def settle(servers: set[int], quiet: float = 0.05, window: float = 0.25,
           limit: float = 30.0) -> None:
    """Wait until the servers use under *quiet* of a CPU over *window* seconds (at most
    *limit* seconds), so no run starts while SeaweedFS still works off the deletes of the
    run before (removing an emptied bucket's volumes slowed the next copy by a third)."""
    processes = [psutil.Process(pid) for pid in servers]

    def busy() -> float:
        return sum(sum(process.cpu_times()[:2]) for process in processes)

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = busy()
        time.sleep(window)
        if busy() - before < quiet * window:
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1514)
    parser.add_argument("--large-size", default="256MiB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = parser.parse_args()
    large = parse_size(args.large_size)
    with MotoServer() as source, SeaweedServer() as target, \
            tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        servers = {source.process.pid, target.process.pid}
        client = s3_client(source.endpoint, source.access_key, source.secret_key)
        objects = list(demo_objects(args.objects))
        seed_bucket(client, "mixed", objects)
        client.create_bucket(Bucket="large")
        put_object(client, "large", _large_object(large))
        client.create_bucket(Bucket="tiny")
        put_object(client, "tiny", _tiny_object())
        datasets = {"large": (1, large),
                    "mixed": (len(objects), sum(len(o.body) for o in objects)),
                    "tiny": (1, TINY)}
        rclone_env(source, target)
        warm_bytecode_cache(tmp)
        target_client = s3_client(target.endpoint, target.access_key, target.secret_key)
        figures: dict[str, dict[str, list[dict]]] = {}
        ingest, cpus = 0.0, None
        for dataset in datasets:  # one dataset after another: see ingest_rate
            placed = target_on_its_own_cpus(source, target) if dataset == "large" \
                else nullcontext()
            with placed as cpus_used:
                if dataset == "large":
                    ingest, cpus = ingest_rate(target, large, servers), cpus_used
                for run in range(args.runs):
                    order = ("exitkit", "rclone") if run % 2 == 0 else ("rclone", "exitkit")
                    for tool in order:
                        bucket = f"{tool}-{dataset}-{run}"
                        call = ((lambda: run_exitkit(tmp, source, target, dataset, bucket))
                                if tool == "exitkit" else (lambda: run_rclone(dataset, bucket)))
                        result = measured(call, servers)
                        figures.setdefault(dataset, {}).setdefault(tool, []).append(result)
                        print(f"run {run + 1} {dataset:5} {tool:7} wall {result['wall_s']:6.1f} s "
                              f"cpu {result['cpu_s']:6.1f} s "
                              f"rss {result['peak_rss_mib']:6.1f} MiB", file=sys.stderr)
                        empty_bucket(target_client, bucket)
                        settle(servers)
    report(figures, datasets, ingest, cpus, args.json)


TINY = 1024


def _tiny_object():
    """One 1 KiB object: a drill of it is a tool's fixed cost (start-up, listing, record)."""
    from exitkit.embedded.seed import SeedObject

    return SeedObject("notes/readme.txt", os.urandom(TINY), "text/plain")


def marginal(medians: dict, dataset: str, tool: str, datasets: dict) -> tuple[float, float]:
    """CPU seconds per object and per byte of *dataset* beyond the tool's fixed cost (its
    CPU on the one-object tiny dataset)."""
    objects, size = datasets[dataset]
    extra = medians[dataset][tool]["cpu_s"] - medians["tiny"][tool]["cpu_s"]
    return extra / max(objects - 1, 1), extra / max(size - TINY, 1)


def _large_object(size: int):
    from exitkit.embedded.seed import SeedObject

    return SeedObject("large/object.bin", os.urandom(size), "application/octet-stream",
                      {"origin": "benchmark"}, multipart=True)


def report(figures, datasets, ingest: float, cpus, as_json: bool) -> None:
    """Print medians, ratios and whether each target of issue #16 is met."""
    medians = {dataset: {tool: {name: statistics.median(run[name] for run in runs)
                                for name in runs[0]} for tool, runs in tools.items()}
               for dataset, tools in figures.items()}
    if as_json:
        print(json.dumps({"ingest_mib_s": ingest / 2**20, "datasets": datasets,
                          "large_cpus": [sorted(part) for part in cpus] if cpus else None,
                          "medians": medians, "runs": figures}, indent=2))
    placement = (f"SeaweedFS on CPU {sorted(cpus[0])}, the rest on CPU {sorted(cpus[1])}"
                 if cpus else "one CPU: not placed")
    print(f"large object, ingest probe and copies: {placement}")
    print(f"SeaweedFS single-stream ingest: {ingest / 2**20:.1f} MiB/s")
    print("| dataset | tool | wall s | CPU s | peak RSS MiB |")
    print("|---|---|---|---|---|")
    for dataset, tools in medians.items():
        objects, size = datasets[dataset]
        label = f"{dataset} ({objects} objects, {size / 2**20:.1f} MiB)"
        for tool in ("exitkit", "rclone"):
            m = tools[tool]
            print(f"| {label} | {tool} | {m['wall_s']:.1f} | {m['cpu_s']:.1f} | "
                  f"{m['peak_rss_mib']:.1f} |")
        ours, theirs = tools["exitkit"], tools["rclone"]
        print(f"| {label} | ratio exitkit/rclone | {ours['wall_s'] / theirs['wall_s']:.2f} | "
              f"{ours['cpu_s'] / theirs['cpu_s']:.2f} | "
              f"{ours['peak_rss_mib'] / theirs['peak_rss_mib']:.2f} |")
    mixed, big = medians["mixed"], medians["large"]
    large_rate = big["exitkit"]["copy_bytes_per_s"]
    per_object = {tool: marginal(medians, "mixed", tool, datasets)[0]
                  for tool in ("exitkit", "rclone")}
    per_byte = {tool: marginal(medians, "large", tool, datasets)[1]
                for tool in ("exitkit", "rclone")}
    print(f"fixed cost (tiny drill): exitkit {medians['tiny']['exitkit']['cpu_s']:.2f} s, "
          f"rclone {medians['tiny']['rclone']['cpu_s']:.2f} s CPU")
    print(f"CPU per object beyond it (mixed): exitkit {1e3 * per_object['exitkit']:.2f} ms, "
          f"rclone {1e3 * per_object['rclone']:.2f} ms "
          f"({per_object['exitkit'] / per_object['rclone']:.2f}x)")
    print(f"CPU per MiB beyond it (large): exitkit {2**20 * 1e3 * per_byte['exitkit']:.2f} ms, "
          f"rclone {2**20 * 1e3 * per_byte['rclone']:.2f} ms "
          f"({per_byte['exitkit'] / per_byte['rclone']:.2f}x)")
    checks = [
        ("CPU per object <= rclone's (mixed, beyond the fixed cost)",
         per_object["exitkit"] <= per_object["rclone"]),
        ("CPU per byte <= 1.5x rclone's (large, beyond the fixed cost)",
         per_byte["exitkit"] <= 1.5 * per_byte["rclone"]),
        ("CPU of the whole run <= 1.5x rclone's (large)",
         big["exitkit"]["cpu_s"] <= 1.5 * big["rclone"]["cpu_s"]),
        (f"large-object copy at >= 80% of single-stream ingest (copy phase, "
         f"{large_rate / 2**20:.1f} MiB/s = {100 * large_rate / ingest:.0f}%)",
         large_rate >= 0.8 * ingest),
        ("wall time ahead of rclone (mixed)", mixed["exitkit"]["wall_s"]
         < mixed["rclone"]["wall_s"]),
        ("wall time ahead of rclone (large)", big["exitkit"]["wall_s"]
         < big["rclone"]["wall_s"]),
    ]
    for name, met in checks:
        print(f"{'met    ' if met else 'NOT MET'}  {name}")


if __name__ == "__main__":
    main()
