"""The drill's per-object structures live on disk: a child process fills the plan, the
sample draw and the copy's per-object maps with 10,000 and then 100,000 synthetic objects,
and its peak RSS barely moves: what grows is SQLite's page caches, at most 2 MiB per
structure (held as lists and dicts, the 90,000 more objects would cost over 50 MiB).
Speed is measured in benchmarks/, not here."""

import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys
from exitkit.drill.copy import KnownClasses
from exitkit.drill.spec import Sample
from exitkit.drill.spill import PlanStore, SpillMap
from exitkit.providers.contract import ObjectInfo
from exitkit.verify.entries import Entry
from exitkit.verify.sampling import Sampler

count = int(sys.argv[1])
classes = ("STANDARD", "GLACIER", "STANDARD_IA")


def entries():
    for index in range(count):
        key = f"estate/{index % 97:02d}/{index:09d}-{'x' * (index % 40)}.bin"
        yield Entry(key, 0, ObjectInfo(key, 100 + index % 5000, f"{index:032x}",
                                       storage_class=classes[index % 3]))


plan = PlanStore(entries())
problems, unrepresentable = SpillMap(), SpillMap()
for index, entry in enumerate(plan):
    if index % 2:
        problems[entry.order] = ("failed", f"copy of {entry.relative} failed")
    else:
        unrepresentable[entry.order] = f"{entry.relative} is too long"
known = KnownClasses(problems, unrepresentable)
assert sum(1 for entry in plan if known.get(entry.order)) == count
sampler = Sampler(Sample(count=count // 10, seed=1, storage_classes=["GLACIER"]), plan, 1000)
planned = sum(stratum.planned for stratum in sampler.strata.values())
print(json.dumps({"objects": plan.objects, "planned": planned, "known": len(known),
                  "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def peak(count: int) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(count)], capture_output=True,
                          text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_plan_sample_draw_and_copy_maps_stay_flat_from_10k_to_100k_objects():
    small, large = peak(10_000), peak(100_000)
    assert (small["objects"], small["known"], small["planned"]) == (10_000, 10_000, 1_000)
    assert (large["objects"], large["known"], large["planned"]) == (100_000, 100_000, 10_000)
    growth_mib = (large["peak_kib"] - small["peak_kib"]) / 1024
    assert growth_mib < 16, f"peak RSS grew {growth_mib:.1f} MiB for 90,000 more objects"
