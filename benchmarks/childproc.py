"""Watch a child process's memory while it runs (shared by the drill benchmarks)."""

import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def watch_memory(child: subprocess.Popen, progress: Callable[[], int] = lambda: 0,
                 every: float = 0.05) -> tuple[int, list[tuple[float, int, int]]]:
    """Poll the child until it exits: its peak RSS (VmHWM, KiB) and samples about every
    two seconds of (seconds, progress(), current RSS in KiB).

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
            next_sample = now + 2.0
        time.sleep(every)
    child.wait()
    return peak, samples
