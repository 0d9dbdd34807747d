"""Profile one ``exitkit drill run`` of a vs_rclone dataset, all threads.

Starts moto_server (source) and SeaweedFS (target) on loopback, seeds the dataset (the
demo estate of --objects mixed objects, or one --large-size object) and runs the drill
under a profiler, then prints the functions that cost most, by own and by inclusive time,
with the record's requests per object and the CPU time of the run:

* ``--profiler yappi`` (default): CPU time per function of every thread (yappi's CPU
  clock), so a thread waiting on a socket or a lock costs nothing;
* ``--profiler py-spy``: wall-clock samples of every thread (``py-spy record --format raw``),
  to see where threads wait.

    python benchmarks/profile_drill.py --dataset mixed --top 30
    python benchmarks/profile_drill.py --dataset large --profiler py-spy

Run it with ``PYTHONPATH=src:benchmarks`` from the repository root.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from drillbench import write_spec
from exitkit.drill.units import parse_size
from exitkit.embedded.seed import demo_objects, put_object, seed_bucket
from exitkit.embedded.servers import MotoServer, SeaweedServer
from exitkit.providers.boto import s3_client
from vs_rclone import CONCURRENCY, _large_object


def tallies(raw: Path) -> tuple[Counter, Counter, int]:
    """Own and inclusive samples per function from py-spy's raw (collapsed) output."""
    own, inclusive, total = Counter(), Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [frame.split(" (")[0] + " " + frame.split("/")[-1].split(":")[0].rstrip(")")
                  for frame in stack.split(";")[1:]]  # the first frame names the thread
        samples = int(count)
        total += samples
        if frames:
            own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    return own, inclusive, total


YAPPI_RUN = r"""
import sys, yappi
yappi.set_clock_type("cpu")
yappi.start(builtins=True)
from exitkit.cli import app
try:
    app(sys.argv[2:], standalone_mode=False)
finally:
    yappi.stop()
    with open(sys.argv[1], "w") as out:
        for stat in yappi.get_func_stats():
            out.write(f"{stat.tsub}\t{stat.ttot}\t{stat.ncall}\t{stat.name} "
                      f"{stat.module.rsplit('/', 1)[-1]}:{stat.lineno}\n")
"""


def yappi_tallies(stats: Path) -> tuple[Counter, Counter, float]:
    """Own and inclusive CPU seconds per function from the stats YAPPI_RUN wrote."""
    own, inclusive = Counter(), Counter()
    for line in stats.read_text().splitlines():
        tsub, ttot, ncall, name = line.split("\t", 3)
        own[f"{name} ({ncall} calls)"] += float(tsub)
        inclusive[f"{name} ({ncall} calls)"] += float(ttot)
    return own, inclusive, sum(own.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("mixed", "large"), default="mixed")
    parser.add_argument("--objects", type=int, default=1514)
    parser.add_argument("--large-size", default="256MiB")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--profiler", choices=("yappi", "py-spy"), default="yappi")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    args = parser.parse_args()
    with MotoServer() as source, SeaweedServer() as target, \
            tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        client = s3_client(source.endpoint, source.access_key, source.secret_key)
        if args.dataset == "mixed":
            objects = list(demo_objects(args.objects))
            seed_bucket(client, "bench-source", objects)
        else:
            client.create_bucket(Bucket="bench-source")
            objects = [_large_object(parse_size(args.large_size))]
            put_object(client, "bench-source", objects[0])
        spec = tmp / "drill.yaml"
        env = write_spec(spec, "profile", source, target, f"{{concurrency: {CONCURRENCY}}}")
        env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1] / "src")
        out = tmp / "profile.txt"
        drill = ["drill", "run", str(spec), "--json", "--results", str(tmp / "results")]
        command = ([sys.executable, "-c", YAPPI_RUN, str(out), *drill]
                   if args.profiler == "yappi" else
                   ["py-spy", "record", "--format", "raw", "--rate", str(args.rate),
                    "--threads", "--output", str(out), "--", sys.executable, "-m", "exitkit",
                    *drill])
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if "{" not in done.stdout:
            raise SystemExit(f"the drill printed no record: {done.stderr[-2000:]}")
        record, _end = json.JSONDecoder().raw_decode(done.stdout[done.stdout.index("{"):])
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        own, inclusive, total = (yappi_tallies(out) if args.profiler == "yappi"
                                 else tallies(out))
        print(f"verdict {record['verdict']}; CPU {cpu:.2f} s (profiler included); "
              f"{total:.0f} {'CPU seconds' if args.profiler == 'yappi' else 'samples'}")
        for side, counts in record["requests"].items():
            print(f"{side}: {counts['reads'] / len(objects):.2f} reads and "
                  f"{counts['writes'] / len(objects):.2f} writes per object")
        for phase in record["phases"]:
            print(f"phase {phase['name']}: {phase['duration_s']:.2f} s")
        for title, counter in (("own", own), ("inclusive", inclusive)):
            print(f"\n-- top {args.top} by {title} samples --")
            for frame, samples in counter.most_common(args.top):
                print(f"{100 * samples / total:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
