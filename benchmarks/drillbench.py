"""Shared by the drill benchmarks: the spec and environment of a moto_server -> SeaweedFS
drill, and watching a child process's memory while it runs."""

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

SPEC = """\
version: 1
name: {name}
source:
  provider: aws-s3
  endpoint: {source}
  bucket: bench-source
  credentials: {{access_key_env: BENCH_SRC_KEY, secret_key_env: BENCH_SRC_SECRET}}
target:
  provider: seaweedfs
  endpoint: {target}
  bucket: bench-target
  create_bucket: true
  credentials: {{access_key_env: BENCH_TGT_KEY, secret_key_env: BENCH_TGT_SECRET}}
options: {options}
"""


def write_spec(path: Path, name: str, source, target, options: str) -> dict[str, str]:
    """Write a drill spec from bucket ``bench-source`` on *source* to ``bench-target`` on
    *target*; return the environment holding the credentials it names."""
    path.write_text(SPEC.format(name=name, source=source.endpoint, target=target.endpoint,
                                options=options))
    return {**os.environ, "BENCH_SRC_KEY": source.access_key,
            "BENCH_SRC_SECRET": source.secret_key, "BENCH_TGT_KEY": target.access_key,
            "BENCH_TGT_SECRET": target.secret_key}


def watch_memory(child: subprocess.Popen, progress: Callable[[], object] = lambda: 0,
                 every: float = 0.05, sample_every: float = 2.0,
                 ) -> tuple[int, list[tuple[float, object, int]]]:
    """Poll the child until it exits: its peak RSS (VmHWM, KiB) and samples about every
    *sample_every* seconds of (seconds, progress(), current RSS in KiB).

    rusage is no use here: Linux carries the parent's peak RSS into a child across exec.
    """
    status = Path(f"/proc/{child.pid}/status")
    started = next_sample = time.monotonic()
    peak, samples = 0, []
    while child.poll() is None:
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            break
        peak = max(peak, int(fields.get("VmHWM", "0 kB").split()[0]))
        now = time.monotonic()
        if now >= next_sample:
            samples.append((round(now - started, 1), progress(),
                            int(fields.get("VmRSS", "0 kB").split()[0])))
            next_sample = now + sample_every
        time.sleep(every)
    child.wait()
    return peak, samples
