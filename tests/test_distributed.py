"""Drills on a Dask cluster: the same record, manifest and Merkle root as one process; a
worker killed mid-shard loses and duplicates nothing; the local-cluster recipe works."""

import hashlib
import io
import json
import os
import pickle
import random
import re
import signal
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from distributed import Client, LocalCluster
from hypothesis import given, settings, strategies as st
from rich.console import Console

from exitkit.api import run_drill
from exitkit.drill.journal import read_journal
from exitkit.drill.shard_worker import ShardContext
from exitkit.drill.shards import bounds_of, shards_of, split_by_shard
from exitkit.drill.spec_file import load_spec
from exitkit.embedded.seed import SeedObject, seed_bucket
from exitkit.errors import ExitkitError, SpecError
from exitkit.evidence.manifest import manifest_root
from exitkit.evidence.reports import render_report
from exitkit.evidence.summary import render_summary
from exitkit.measure.projection import DATA_ACT_TRANSITION, WorkerRate, workers_needed
from exitkit.providers.contract import Capabilities, ObjectInfo
from exitkit.verify.entries import Entry
from exitkit.verify.properties import PropertyPlan
from tests.faultproxy import FaultProxy, Faults
from tests.helpers import digests, exitkit, minio_client

#: (prefix, name stem, content type, size range): what a small organisation's bucket holds
KINDS = (
    ("invoices/2025/", "INV-{n:05d}.pdf", "application/pdf", (2_000, 60_000)),
    ("hr/contracts/", "contract {n} (signed).docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document", (1_000, 40_000)),
    ("site/assets/", "img+{n}%20x.png", "image/png", (0, 30_000)),
    ("exports/ünïcode/", "rapport-{n}-é.csv", "text/csv; charset=utf-8", (10, 5_000)),
    ("logs/", "{n:04d}.log", "text/plain", (0, 0)),
)


def estate(count: int, seed: int) -> list[SeedObject]:
    """About *count* objects drawn from KINDS, plus a key too long for SeaweedFS."""
    rng, objects = random.Random(seed), []
    for n in range(count):
        prefix, stem, content_type, (low, high) = rng.choice(KINDS)
        metadata = {"owner": rng.choice(["finance", "hr", "web"])} if rng.random() < 0.5 else {}
        objects.append(SeedObject(key=prefix + stem.format(n=n),
                                  body=rng.randbytes(rng.randint(low, high)),
                                  content_type=content_type, metadata=metadata))
    objects.append(SeedObject(key="archive/" + "very-long-name-" * 80 + ".bin",
                              body=b"kept at the source", content_type="application/octet-stream"))
    return objects


@pytest.fixture(scope="module")
def cluster(moto, seaweed):
    """Three worker processes (one thread each) on loopback, with the credentials the test
    specs name in their environment, as a real worker host would have them."""
    names = {"SRC_KEY": moto.access_key, "SRC_SECRET": moto.secret_key,
             "TGT_KEY": seaweed.access_key, "TGT_SECRET": seaweed.secret_key}
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(names)
    try:
        with LocalCluster(n_workers=3, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address=":0") as local, \
                Client(local) as client:
            yield local, client
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _classes(results: Path, record) -> dict[str, str]:
    """Every key's class: the differences file, and matched for the manifest's keys."""
    verification = record.verification
    classes = {json.loads(line)["key"]: "matched" for line in
               (results / verification.manifest.file).read_text().splitlines()}
    for line in (results / verification.differences_file).read_text().splitlines():
        entry = json.loads(line)
        classes[entry["key"]] = entry["kind"]
    return classes


def test_a_drill_on_three_workers_gives_the_record_of_one_process(
        cluster, source_client, target_client, bucket_name, write_spec, server_env, tmp_path,
        moto, seaweed):
    _local, client = cluster
    bucket = bucket_name("src")
    objects = estate(40, seed=15)
    seed_bucket(source_client, bucket, objects)
    records = {}
    for mode in ("one-process", "dask"):
        target = bucket_name(mode)
        target_client.create_bucket(Bucket=target)
        for key in ("!before-every-key", "m-between-keys", "~after-every-key"):
            target_client.put_object(Bucket=target, Key=key, Body=b"not from the source")
        spec = write_spec(bucket, target, filename=f"{mode}.yaml",
                          extra="distributed:\n  shard_objects: 7\n")
        results = tmp_path / mode
        scheduler = _local.scheduler_address if mode == "dask" else None
        result = run_drill(spec, results, environ=server_env, scheduler=scheduler)
        records[mode] = (result.record, results, target)

    single, single_dir, _ = records["one-process"]
    spread, spread_dir, spread_target = records["dask"]
    assert single.distributed is None
    assert spread.distributed.workers == 3 and len(spread.distributed.shards) == 6
    assert len({shard.worker for shard in spread.distributed.shards}) > 1
    assert [shard.index for shard in spread.distributed.shards] == list(range(6))
    # one manifest, one Merkle root, identical to the single process's
    manifest = spread.verification.manifest
    assert (manifest.entries, manifest.merkle_root) == (
        single.verification.manifest.entries, single.verification.manifest.merkle_root)
    assert (spread_dir / spread.verification.manifest.file).read_bytes() == \
        (single_dir / single.verification.manifest.file).read_bytes()
    assert manifest_root(spread_dir / spread.verification.manifest.file) == \
        single.verification.manifest.merkle_root
    # the same counts and the same class for every key
    for field in ("counts", "methods", "storage_classes", "source_objects", "source_bytes",
                  "target_objects", "objects_verified", "bytes_verified", "objects_present",
                  "gaps"):
        assert getattr(spread.verification, field) == getattr(single.verification, field), field
    assert spread.verification.counts["extra"] == 3
    assert spread.verification.counts["unrepresentable"] == 1
    assert spread.verification.counts["matched"] == len(objects) - 1
    assert _classes(spread_dir, spread) == _classes(single_dir, single)
    assert spread.inventory == single.inventory
    # the same property census, though the workers' GETs never reach the coordinator
    assert spread.properties.census == single.properties.census
    assert single.properties.census.objects == len(objects)
    # the workers' requests are counted (the coordinator HEADs each object for the census)
    assert spread.requests["target"] == single.requests["target"]
    assert spread.requests["source"].bytes_read == single.requests["source"].bytes_read
    assert spread.requests["source"].reads >= single.requests["source"].reads
    for field in ("objects_copied", "bytes_copied", "multipart_objects", "failed",
                  "unrepresentable"):
        assert getattr(spread.copy_summary, field) == getattr(single.copy_summary, field), field
    copy_phase = next(phase for phase in spread.phases if phase.name == "copy")
    assert (copy_phase.objects, copy_phase.bytes) == (len(objects) - 1, sum(
        len(obj.body) for obj in objects[:-1]))
    # the bytes on the target are the source's, read back with an independent client
    source = digests(minio_client(moto), bucket)
    copied = digests(minio_client(seaweed), spread_target)
    assert {key: copied[key] for key in source if key in copied} == \
        {key: digest for key, digest in source.items() if not key.startswith("archive/")}
    # the projection rests on the workers' measured rate
    projection = spread.projection
    assert projection.workers_measured == len(spread.distributed.per_worker) > 1
    workers = spread.distributed.per_worker
    assert sum(worker.objects for worker in workers) == len(objects) - 1
    busy = sum(worker.busy_s for worker in workers)
    assert projection.per_worker_objects_per_s == pytest.approx(
        sum(worker.objects for worker in workers) / busy, rel=1e-3)
    assert projection.workers_for_transition == workers_needed(
        projection.estate_objects, projection.estate_bytes, WorkerRate(
            projection.per_worker_objects_per_s, projection.per_worker_bytes_per_s), 0.0)
    assert not list(spread_dir.glob("*.shard-*"))  # shard journals merged and removed
    # every report shows the workers the full exit needs
    needed = f"{projection.workers_for_transition} worker(s) fit the full exit"
    assert needed in render_report(spread, [spread], "md")
    assert needed in render_report(spread, [spread], "html")
    console = Console(width=400, record=True, file=io.StringIO())
    console.print(render_summary(spread))
    summary = console.export_text()
    assert needed in summary and "Distributed on 3 Dask worker(s)" in summary
    metric = re.search(r'^exitkit_drill_projected_workers_for_transition\{drill="test-drill"\} '
                       r'(\S+)$', render_report(spread, [spread], "prom"), re.M)
    assert float(metric.group(1)) == projection.workers_for_transition


@settings(max_examples=40, deadline=None)
@given(objects=st.integers(1, 10**10), size=st.integers(1, 10**16),
       objects_per_s=st.floats(0.01, 1e5), bytes_per_s=st.floats(1.0, 1e10),
       latency_s=st.floats(0, 40 * 86400))
def test_the_workers_needed_are_the_fewest_that_fit_the_window(objects, size, objects_per_s,
                                                               bytes_per_s, latency_s):
    rate = WorkerRate(objects_per_s, bytes_per_s)
    needed = workers_needed(objects, size, rate, latency_s)
    budget = DATA_ACT_TRANSITION.total_seconds() - latency_s
    one_worker = max(objects / objects_per_s, size / bytes_per_s)
    if budget <= 0:
        assert needed is None
        return
    assert needed >= 1 and one_worker / needed <= budget * (1 + 1e-9)
    assert needed == 1 or one_worker / (needed - 1) > budget * (1 - 1e-9)


def test_no_secret_travels_in_a_task(cluster, moto, seaweed, write_spec, server_env):
    """A shard task carries the names of the credentials' variables, never their values;
    the workers' logs hold none either."""
    _local, client = cluster
    loaded = load_spec(write_spec("a-bucket", "b-bucket"), server_env)
    context = ShardContext(spec=loaded.spec, spec_sha256=loaded.sha256, run_id="r",
                           capabilities=Capabilities(), property_plan=PropertyPlan(),
                           accepted_gaps={}, work_dir="/tmp")
    task = pickle.dumps(context)
    assert b"SRC_SECRET" in task and b"TGT_SECRET" in task
    for secret in (moto.secret_key, seaweed.secret_key, moto.access_key, seaweed.access_key):
        assert secret.encode() not in task
        for _worker, lines in client.get_worker_logs().items():
            assert all(secret not in line for _level, line in lines)


def test_a_worker_without_the_credentials_fails_the_drill_in_one_line(
        cluster, source_client, bucket_name, write_spec, server_env, tmp_path):
    """The spec names a variable the coordinator has but the workers do not."""
    _local, _client = cluster
    bucket = bucket_name("src")
    seed_bucket(source_client, bucket, estate(3, seed=2))
    spec = write_spec(bucket, bucket_name("tgt"))
    spec.write_text(spec.read_text().replace("SRC_SECRET", "ONLY_ON_THE_COORDINATOR"))
    env = {**server_env, "ONLY_ON_THE_COORDINATOR": server_env["SRC_SECRET"]}
    with pytest.raises(ExitkitError, match="ONLY_ON_THE_COORDINATOR.*is not set") as raised:
        run_drill(spec, tmp_path / "results", environ=env,
                  scheduler=_local.scheduler_address)
    assert server_env["SRC_SECRET"] not in str(raised.value)


def test_the_rclone_engine_is_refused_on_a_cluster_in_one_line(
        cluster, source_client, bucket_name, write_spec, server_env, tmp_path):
    _local, _client = cluster
    bucket = bucket_name("src")
    seed_bucket(source_client, bucket, estate(3, seed=3))
    target = bucket_name("tgt")
    spec = write_spec(bucket, target)
    spec.write_text(spec.read_text().replace("part_size: 5MiB",
                                             "part_size: 5MiB\n  engine: rclone"))
    with pytest.raises(SpecError, match="options.engine.*engine exitkit only") as raised:
        run_drill(spec, tmp_path / "results", environ=server_env,
                  scheduler=_local.scheduler_address)
    assert "\n" not in str(raised.value)
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").iterdir())


def _kill_mid_shard(client: Client, work_dir: Path, drill: str, stop: threading.Event,
                    written: Path):
    """Once a shard's journal holds committed copies, SIGKILL the worker process running
    that shard; return the shard's index and the (inode, mtime) of each file it had
    journaled, under *written*, at the kill."""
    pids = client.run(os.getpid)
    while not stop.is_set():
        for path in sorted(work_dir.glob(f"{drill}.shard-*.journal.sqlite")):
            try:
                header, copied = read_journal(path)
            except ExitkitError:
                continue
            if len(copied) < 2:
                continue
            index = int(path.name.split(".shard-")[1].split(".")[0])
            key = f"exitkit-copy-{header.run_id}-{index}"
            for worker, keys in client.processing().items():
                if key in keys:
                    _header, copied = read_journal(path)
                    os.kill(pids[worker], signal.SIGKILL)
                    return index, {relative: _identity(written / relative)
                                   for relative, _age in copied}
        time.sleep(0.02)
    return None


def _identity(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_ino, status.st_mtime_ns


def test_a_worker_killed_mid_shard_loses_and_duplicates_nothing(
        cluster, source_client, bucket_name, write_spec, server_env, tmp_path, moto):
    _local, client = cluster
    bucket = bucket_name("src")
    # a directory keeps no user metadata: leave it out
    objects = [replace(obj, metadata={}) for obj in estate(24, seed=41)[:-1]]
    seed_bucket(source_client, bucket, objects)
    disk = tmp_path / "disk"
    target = (f'  provider: local\n  path: "{disk}"\n  bucket: exit\n  create_bucket: true')
    spec = write_spec(bucket, target=target,
                      extra="distributed:\n  shard_objects: 12\n"
                            "verification:\n  properties: false\n  metadata: false\n")
    spec.write_text(spec.read_text().replace("concurrency: 4", "concurrency: 1"))
    results = tmp_path / "results"
    # every source request waits 150 ms: a shard (12 objects, one at a time) outlasts the
    # journal's first commit (after a second), and is killed after it
    with FaultProxy(int(urlsplit(moto.endpoint).port),
                    Faults(delay=1.0, delay_seconds=0.15)) as proxy:
        env = {**server_env, "SRC_ENDPOINT": proxy.endpoint}
        stop, killed = threading.Event(), {}
        killer = threading.Thread(target=lambda: killed.update(
            found=_kill_mid_shard(client, results, "test-drill", stop, disk / "exit")),
            daemon=True)
        killer.start()
        try:
            result = run_drill(spec, results, environ=env, scheduler=_local.scheduler_address)
        finally:
            stop.set()
            killer.join()
    assert killed["found"] is not None, "no shard was seen mid-copy"
    index, journaled = killed["found"]
    record = result.record
    assert record.verdict == "passed", (record.expectations, record.verification.counts,
                                        record.verification.differences[:3])
    # nothing lost: every object on the target, byte for byte
    # (the directory target stages writes under .exitkit-partial/, which it never lists;
    # the killed worker left its unfinished write there)
    on_disk = {str(path.relative_to(disk / "exit")): hashlib.sha256(path.read_bytes()).hexdigest()
               for path in (disk / "exit").rglob("*")
               if path.is_file() and ".exitkit-partial" not in path.parts}
    assert on_disk == {obj.key: hashlib.sha256(obj.body).hexdigest() for obj in objects}
    assert record.copy_summary.objects_copied == len(objects)
    assert record.verification.counts["matched"] == len(objects)
    # the shard went to another worker, which skipped what the dead one had journaled
    shard = record.distributed.shards[index]
    assert record.distributed.reassigned_shards >= 1
    assert shard.skipped_in_place >= len(journaled) >= 2
    # what the dead worker had journaled was not written again (a local write renames a
    # new file into place: a new inode)
    assert {relative: _identity(disk / "exit" / relative) for relative in journaled} == journaled
    workers = record.distributed.per_worker
    assert sum(worker.objects for worker in workers) == len(objects) - shard.skipped_in_place
    copy_phase = next(phase for phase in record.phases if phase.name == "copy")
    assert copy_phase.objects == len(objects)


def test_the_local_cluster_recipe(source_client, bucket_name, write_spec, server_env, tmp_path,
                                  moto, seaweed):
    """docs/distributed.md's local recipe: ``dask scheduler`` and ``dask worker`` processes
    on loopback (credentials in the workers' environment), then ``exitkit drill run
    --scheduler``."""
    bucket, target = bucket_name("src"), bucket_name("tgt")
    objects = estate(12, seed=7)[:-1]
    seed_bucket(source_client, bucket, objects)
    spec = write_spec(bucket, target,
                      extra="distributed:\n  shard_objects: 4\n  connect_timeout: 5s\n")
    scheduler_file = tmp_path / "scheduler.json"
    started = []
    try:
        started.append(subprocess.Popen(
            ["dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(scheduler_file)], env=server_env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        started.append(subprocess.Popen(
            ["dask", "worker", "--scheduler-file", str(scheduler_file), "--nworkers", "2",
             "--nthreads", "1", "--no-dashboard", "--local-directory", str(tmp_path / "dask")],
            env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True))
        with Client(scheduler_file=str(scheduler_file), timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
            address = client.scheduler.address
        results = tmp_path / "results"
        done = exitkit("drill", "run", str(spec), "--scheduler", address, "-r", str(results),
                       "--json", env=server_env)
        assert done.returncode == 0, done.stderr
        record = json.loads(done.stdout)
        assert record["distributed"]["workers"] == 2
        assert len(record["distributed"]["shards"]) == 3
        assert record["verification"]["counts"]["matched"] == len(objects)
        assert record["projection"]["workers_for_transition"] >= 1
        assert digests(minio_client(seaweed), target) == digests(minio_client(moto), bucket)
        impatient = write_spec(bucket, target, filename="impatient.yaml",
                               extra="distributed:\n  connect_timeout: 1s\n")
        unreachable = exitkit("drill", "run", str(impatient), "--scheduler",
                              "tcp://127.0.0.1:9", "-r", str(results), env=server_env)
        assert unreachable.returncode == 2
        assert unreachable.stderr.count("\n") == 1 and "tcp://127.0.0.1:9" in unreachable.stderr
    finally:
        for process in started:
            os.killpg(process.pid, signal.SIGTERM)
        for process in started:
            process.wait(timeout=60)


@settings(max_examples=30, deadline=None)
@given(source=st.lists(st.tuples(st.text("ab/é", max_size=4), st.integers(0, 2)), max_size=40),
       target=st.lists(st.text("ab/é~", max_size=4), max_size=20),
       shard_objects=st.integers(1, 8))
def test_shards_partition_the_key_space_and_keep_a_keys_versions_together(
        source, target, shard_objects):
    def entry(relative: str, age: int) -> Entry:
        return Entry(relative, age, ObjectInfo(key=relative, size=age))

    plan = [entry(*order) for order in sorted(set(source))]
    shards = list(shards_of(plan, shard_objects))
    assert [e for shard in shards for e in shard.entries] == plan
    assert all(len(shard.entries) >= shard_objects for shard in shards[:-1])
    assert len({shard.first_key for shard in shards}) == len(shards)  # no key split
    listed = [entry(key, 0) for key in sorted(set(target))]
    bounds = bounds_of(shard.first_key for shard in shards)
    parts = list(split_by_shard(plan, listed, bounds))
    assert [index for index, _s, _t in parts] == list(range(len(shards)))
    assert [e for _i, sources, _t in parts for e in sources] == plan
    assert [e for _i, _s, targets in parts for e in targets] == listed
    for index, sources, targets in parts:
        upper = bounds[index + 1] if index + 1 < len(bounds) else None
        assert all(bounds[index] <= e.relative or index == 0 for e in sources + targets)
        assert all(upper is None or e.relative < upper for e in sources + targets)


def test_a_sampler_sent_to_a_worker_draws_the_same_keys_without_its_table():
    """verify_shard gets the coordinator's sampler pickled; its SQLite table stays behind."""
    from exitkit.drill.spec import Sample
    from exitkit.verify.sampling import Sampler

    rng = random.Random(7)
    plan = [Entry(f"{prefix}/{index:04d}", 0, ObjectInfo(key=f"{prefix}/{index:04d}",
                                                         size=rng.choice((10, 10**7))))
            for prefix in ("logs", "img", "db") for index in range(40)]
    sampler = Sampler(Sample(count=12, seed=5), plan, 8 * 1024 * 1024)
    sent = pickle.loads(pickle.dumps(sampler))
    drawn = [e.relative for e in plan
             if sampler.drawn(e.relative, sampler.stratum_of(e.relative, e.info))]
    assert 12 <= len(drawn) < len(plan)
    assert drawn == [e.relative for e in plan
                     if sent.drawn(e.relative, sent.stratum_of(e.relative, e.info))]
    assert sampler.largest_bytes("large", 1) is not None  # the coordinator's table is intact
