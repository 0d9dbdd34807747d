"""Sampled verification on real servers (moto source, SeaweedFS target): the bound it
records, the expectation it must meet, the same draw again, and planted corruption found
at the rate the hypergeometric law predicts.

Detection over many seeds is computed from one listing rather than one server run per
seed: the draw is a pure function of (seed, relative key, stratum) and the stratum of the
listed size and storage class (exitkit.verify.sampling). Two real `verify` runs check that
the objects the server-side run finds corrupt are exactly the predicted ones; the other
seeds then need no server.
"""

import json
import math
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from prometheus_client.parser import text_string_to_metric_families

from exitkit.api import run_drill
from exitkit.drill.spec import Sample
from exitkit.evidence.history import history_rows
from exitkit.evidence.ledger import append
from exitkit.evidence.reports import render_report
from exitkit.evidence.signing import generate_key_pair, load_signer
from exitkit.providers.contract import ObjectInfo
from exitkit.verify.bounds import hypergeometric_upper
from exitkit.verify.entries import Entry
from exitkit.verify.sampling import Sampler

MIB = 1024 * 1024
PREFIXES = ("logs/2026/", "img/thumbs/", "db/dumps/", "docs/legal/", "exports/csv/")
SIZES = (0, 1, 17, 512, 4096, 9_999, 65_536, 250_000)
TYPES = ("text/plain", "image/png", "application/gzip", "application/pdf", "text/csv")
SEED_LIST = range(1000, 1400)


@pytest.fixture
def estate(source_client, bucket_name):
    """120 small objects of assorted prefixes, sizes and types, and one over the part size."""
    bucket = bucket_name("src")
    source_client.create_bucket(Bucket=bucket)
    draw = random.Random(18)
    objects = [(f"{draw.choice(PREFIXES)}{i:04d}-{draw.choice('abcxyz')}.bin",
                draw.choice(SIZES) + i, draw.choice(TYPES)) for i in range(120)]
    objects.append(("db/dumps/full.dump", 6 * MIB + 3, "application/octet-stream"))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda o: source_client.put_object(
            Bucket=bucket, Key=o[0], Body=draw.randbytes(o[1]) if o[1] < MIB else
            bytes(range(256)) * (o[1] // 256) + b"end", ContentType=o[2]), objects))
    return bucket


def listing(client, bucket: str) -> list[Entry]:
    """The source as an independent client lists it, as the sampler's inventory."""
    entries = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            info = ObjectInfo(item["Key"], item["Size"],
                              storage_class=item.get("StorageClass", "STANDARD"))
            entries.append(Entry(item["Key"], 0, info))
    return entries


def drawn(sampler: Sampler, entries: list[Entry]) -> set[str]:
    return {e.relative for e in entries
            if sampler.drawn(e.relative, sampler.stratum_of(e.relative, e.info))}


def exitkit(*args, env):
    return subprocess.run([sys.executable, "-m", "exitkit", *args], capture_output=True,
                          text=True, env=env, timeout=600)


def test_the_bound_is_recorded_and_a_drill_fails_when_it_cannot_prove_the_limit(
        estate, write_spec, server_env, tmp_path, bucket_name, source_client):
    target = bucket_name("tgt")
    full = run_drill(write_spec(estate, target, extra="  max_undetected_loss: 0.1%\n"),
                     tmp_path / "full", environ=server_env)
    assert full.exit_code == 0 and full.record.verification.sample is None
    assert [e.measured for e in full.record.expectations if e.name == "max_undetected_loss"
            ] == ["0% (every object's content checked)"]

    def verify(sample: str, limit: str, name: str):
        spec = write_spec(estate, target, filename=f"{name}.yaml", extra=(
            f"  max_undetected_loss: {limit}\nverification:\n  sample: {sample}\n"))
        return spec, run_drill(spec, tmp_path / name, environ=server_env, verify_only=True)

    _, weak = verify("{fraction: 0.1, seed: 3}", "1%", "weak")
    sample = weak.record.verification.sample
    assert weak.exit_code == 1 and weak.record.verdict == "failed"
    failed = {e.name: e for e in weak.record.expectations if not e.passed}
    assert set(failed) == {"max_undetected_loss"}
    small = next(s for s in sample.strata if s.name == "small")
    assert (small.objects, small.failed_objects) == (120, 0)
    exact = 100 * (1 - 0.05 ** (1 / small.sampled_objects))  # zero failures: closed form
    assert exact <= small.binomial_bound_pct < exact + 1e-4  # rounded up, never down
    assert small.bound_objects == hypergeometric_upper(0, small.sampled_objects, 120, 0.95)
    assert [s.name for s in sample.strata] == ["large", "small"]
    assert sample.bound_objects_pct > 1 and f"{sample.bound_objects_pct:g}%" in failed[
        "max_undetected_loss"].measured

    spec, planned = verify("{max_defect_rate: 5%, confidence: 95%, seed: 3}", "5%", "planned")
    sample, verification = planned.record.verification.sample, planned.record.verification
    assert planned.exit_code == 0
    assert sample.max_defect_rate_pct == 5 and sample.bound_objects_pct < 5
    large = next(s for s in sample.strata if s.name == "large")
    assert (large.objects, large.sampled_objects) == (1, 1)  # the one huge object is checked
    assert verification.objects_verified == sample.sampled_objects < 121
    assert verification.objects_present == 121 and verification.completeness_objects_pct == 100
    assert verification.objects_verified_pct == math.floor(
        1_000_000 * sample.sampled_objects / 121) / 10_000

    assert_reports_keep_present_apart_from_verified(planned, tmp_path)

    # `exitkit verify` with the same seed re-checks exactly the same objects
    manifests = []
    for run in ("again-1", "again-2"):
        done = exitkit("verify", str(spec), "--results", str(tmp_path / run), env=server_env)
        assert done.returncode == 0, done.stderr
        assert "content proven" in done.stdout and "sample bound" in done.stdout
        manifest = next((tmp_path / run).glob("*.manifest.jsonl"))
        manifests.append({json.loads(line)["key"] for line in manifest.read_text().splitlines()})
    sampler = Sampler(Sample(max_defect_rate="5%", confidence="95%", seed=3),
                      listing(source_client, estate), 5 * MIB)
    assert manifests[0] == manifests[1] == drawn(sampler, listing(source_client, estate))


def assert_reports_keep_present_apart_from_verified(result, tmp_path):
    """Every format shows present and verified with counts and percentages, and the bound."""
    record = result.record
    verification, sample = record.verification, record.verification.sample
    verified = (f"{verification.objects_verified}/121 objects "
                f"({verification.objects_verified_pct:g}%)")
    present = "121/121 objects (100%)"
    bound = f"at most {sample.bound_objects} objects ({sample.bound_objects_pct:g}%)"
    for fmt in ("md", "html", "junit"):
        text = render_report(record, [record], fmt)
        assert present in text and verified in text and bound in text, fmt
        assert "content proven" in text and "listed with equal size" in text, fmt
    metrics = {family.name: family.samples[0].value for family in
               text_string_to_metric_families(render_report(record, [record], "prom"))}
    assert metrics["exitkit_drill_objects_present"] == 121
    assert metrics["exitkit_drill_objects_verified"] == verification.objects_verified
    assert metrics["exitkit_drill_verified_ratio"] == verification.objects_verified / 121
    assert metrics["exitkit_drill_undetected_loss_bound_ratio"] == sample.bound_objects_pct / 100
    private, _, _ = generate_key_pair(tmp_path / "key")
    ledger = tmp_path / "ledger.jsonl"
    append(ledger, record, result.path, load_signer(private))
    row, = history_rows(ledger)
    assert (row.objects_present, row.completeness_pct) == (121, 100.0)
    assert (row.objects_verified, row.verified_pct, row.bound_pct) == (
        verification.objects_verified, verification.objects_verified_pct,
        sample.bound_objects_pct)


def test_planted_corruption_is_found_at_the_predicted_rate(
        estate, write_spec, server_env, tmp_path, bucket_name, source_client, target_client):
    target = bucket_name("tgt")
    assert run_drill(write_spec(estate, target), tmp_path / "full",
                     environ=server_env).exit_code == 0
    entries = listing(source_client, estate)
    small = sorted(e.relative for e in entries if e.info.size < 5 * MIB and e.info.size > 0)
    corrupted = set(random.Random(7).sample(small, 6))
    for key in corrupted:  # same size, one byte flipped: only a content check finds it
        body = bytearray(target_client.get_object(Bucket=target, Key=key)["Body"].read())
        body[len(body) // 2] ^= 0xFF
        target_client.put_object(Bucket=target, Key=key, Body=bytes(body))

    count, population = 30, len(entries)
    for seed in (SEED_LIST[0], SEED_LIST[1]):
        spec = write_spec(estate, target, filename=f"s{seed}.yaml",
                          extra=f"verification:\n  sample: {{count: {count}, seed: {seed}}}\n")
        result = run_drill(spec, tmp_path / f"s{seed}", environ=server_env, verify_only=True)
        predicted = corrupted & drawn(Sampler(Sample(count=count, seed=seed), entries, 5 * MIB),
                                      entries)
        found = {d.key for d in result.record.verification.differences
                 if d.kind == "content_differs"}
        assert found == predicted
        assert result.exit_code == (1 if predicted else 0)
        strata = result.record.verification.sample.strata
        assert sum(s.failed_objects for s in strata) == len(predicted)

    # over 400 fixed seeds: detection at the hypergeometric rate, and the bound covers truth
    detected = uncovered = 0
    for seed in SEED_LIST:
        sampler = Sampler(Sample(count=count, seed=seed), entries, 5 * MIB)
        in_small = drawn(sampler, entries) - {"db/dumps/full.dump"}
        failures = len(in_small & corrupted)
        detected += failures > 0
        uncovered += hypergeometric_upper(failures, len(in_small), population - 1, 0.95) < 6
    sampled_small = count - 1  # the count spread over 120 small objects and 1 large
    expected = 1 - math.comb(120 - 6, sampled_small) / math.comb(120, sampled_small)
    spread = 4 * math.sqrt(expected * (1 - expected) / len(SEED_LIST))
    assert abs(detected / len(SEED_LIST) - expected) < spread
    assert uncovered / len(SEED_LIST) <= 0.05 + 4 * math.sqrt(0.05 * 0.95 / len(SEED_LIST))
