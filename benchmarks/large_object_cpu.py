"""CPU per byte of one large object: exitkit (this tree, and optionally another) and rclone.

Starts moto_server (source) and SeaweedFS (target), seeds one --size multipart object
(5 MiB parts) and one 1 KiB object, and copies each with ``exitkit drill run`` (copy and
verify, concurrency 8) and ``rclone copy -M``, alternating, --runs times. The 1 KiB drill
is each tool's fixed cost (start-up, catalog, record), so large minus tiny is the CPU per
byte. With --baseline SRC (the ``src`` directory of another checkout, beside its
``providers`` catalog), that tree runs too, for a before/after comparison.

    PYTHONPATH=src:benchmarks python3 benchmarks/large_object_cpu.py --runs 3 \\
        --baseline /tmp/base/src
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from drillbench import write_spec
from exitkit.drill.units import parse_size
from exitkit.embedded.seed import put_object
from exitkit.embedded.servers import MotoServer, SeaweedServer
from exitkit.providers.boto import s3_client
from vs_rclone import (CONCURRENCY, _large_object, empty_bucket, measured, rclone_env,
                       run_rclone)

HERE = str(Path(__file__).resolve().parents[1] / "src")


def run_exitkit(src: str, tmp: Path, source, target, dataset: str, bucket: str) -> dict:
    """``exitkit drill run`` of bucket *dataset* with the code in *src*; its proof methods."""
    spec = tmp / f"{bucket}.yaml"
    env = write_spec(spec, bucket, source, target, f"{{concurrency: {CONCURRENCY}}}")
    spec.write_text(spec.read_text().replace("bench-source", dataset)
                    .replace("bench-target", bucket))
    env["PYTHONPATH"] = src
    done = subprocess.run([sys.executable, "-m", "exitkit", "drill", "run", str(spec), "--json",
                           "--results", str(tmp / "results")], env=env, capture_output=True)
    record = json.loads(done.stdout or "{}")
    if record.get("verdict") != "passed":
        raise SystemExit(f"exitkit drill did not pass: {done.stderr.decode()[-500:]}")
    return {"methods": record["verification"]["methods"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="256MiB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", help="src directory of another checkout to compare")
    args = parser.parse_args()
    trees = {"exitkit": HERE, **({"baseline": args.baseline} if args.baseline else {})}
    with MotoServer() as source, SeaweedServer() as target, \
            tempfile.TemporaryDirectory() as tmpdir:
        tmp, servers = Path(tmpdir), {source.process.pid, target.process.pid}
        client = s3_client(source.endpoint, source.access_key, source.secret_key)
        client.create_bucket(Bucket="large")
        put_object(client, "large", _large_object(parse_size(args.size)))
        client.create_bucket(Bucket="tiny")
        client.put_object(Bucket="tiny", Key="one.txt", Body=b"x" * 1024)
        rclone_env(source, target)
        target_client = s3_client(target.endpoint, target.access_key, target.secret_key)
        cpu: dict[tuple[str, str], list[float]] = {}
        for run in range(args.runs):
            for dataset in ("large", "tiny"):
                tools = [*trees, "rclone"][::-1 if run % 2 else 1]
                for tool in tools:
                    bucket = f"{tool}-{dataset}-{run}"
                    call = ((lambda: run_rclone(dataset, bucket)) if tool == "rclone" else
                            (lambda: run_exitkit(trees[tool], tmp, source, target, dataset,
                                                 bucket)))
                    result = measured(call, servers)
                    cpu.setdefault((tool, dataset), []).append(result["cpu_s"])
                    print(f"run {run + 1} {dataset:5} {tool:8} cpu {result['cpu_s']:5.2f} s "
                          f"{result.get('methods', '')}", file=sys.stderr)
                    empty_bucket(target_client, bucket)
    median = {key: statistics.median(values) for key, values in cpu.items()}
    per_byte = {tool: median[tool, "large"] - median[tool, "tiny"] for tool in [*trees, "rclone"]}
    print(f"| tool | {args.size} object CPU s | 1 KiB object CPU s | difference | per byte vs rclone |")
    print("|---|---|---|---|---|")
    for tool, difference in per_byte.items():
        print(f"| {tool} | {median[tool, 'large']:.2f} | {median[tool, 'tiny']:.2f} | "
              f"{difference:.2f} | {difference / per_byte['rclone']:.2f}x |")


if __name__ == "__main__":
    main()
