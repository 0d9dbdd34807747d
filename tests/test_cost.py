"""Cost and projection against hand-worked cases; the catalog and its overrides."""

import json
import subprocess
import sys
from datetime import date

import pytest

from exitkit.catalog.load import load_catalog
from exitkit.evidence.record import PhaseRecord
from exitkit.measure.cost import GB, CostModel, Usage, applicable_regime, tiered_amount
from exitkit.measure.projection import WorkerRate, project

CATALOG = load_catalog()
AWS = CATALOG.get("aws-s3-eu-central-1")
SCALEWAY = CATALOG.get("scaleway-fr-par")
SELF_HOSTED = CATALOG.get("self-hosted")


@pytest.mark.parametrize(("gigabytes", "usd"), [
    (50, 0.0), (100, 0.0), (150, 4.5), (10_340, 921.6),
    (20_000, 921.6 + 9_660 * 0.085),                       # into the 40 TB tier
    (200_000, 921.6 + 40_960 * 0.085 + 102_400 * 0.07 + 46_300 * 0.05),  # all tiers
])
def test_aws_egress_tier_boundaries(gigabytes, usd):
    assert tiered_amount(gigabytes, AWS.prices.egress_gb) == pytest.approx(usd)


def usage(egress_gb=150, reads=10_000):
    return Usage(egress_bytes=egress_gb * GB, source_reads=reads, source_writes=20,
                 target_reads=5_000, target_writes=12_000, stored_bytes=300 * GB,
                 stored_days=15)


def lines(estimate):
    return {line.item: line for line in estimate.lines}


def test_usd_prices_are_converted_at_the_recorded_rate():
    estimate = CostModel(CATALOG, AWS, SCALEWAY).estimate(usage(), "list", date(2026, 11, 23))
    items = lines(estimate)
    assert CATALOG.fx.rates["USD"].eur == 0.97
    assert items["source egress"].amount_eur == pytest.approx(4.5 * 0.97)
    assert items["source egress"].currency == "USD"
    assert items["source read requests"].amount_eur == pytest.approx(10 * 0.00043 * 0.97)
    assert items["source list requests"].amount_eur == pytest.approx(0.02 * 0.0054 * 0.97)
    assert items["target storage"].amount_eur == pytest.approx(300 * 0.5 * 0.0146)
    assert items["target storage"].quantity == pytest.approx(150)
    assert items["target write and list requests"].amount_eur == 0.0
    assert estimate.total_eur == pytest.approx(sum(l.amount_eur for l in estimate.lines), abs=1e-5)
    assert items["source egress"].source == "https://aws.amazon.com/s3/pricing/"
    assert str(items["source egress"].as_of) == "2025-01-15"


def test_data_act_regime_switches_on_2027_01_12():
    model = CostModel(CATALOG, AWS, SELF_HOSTED)
    before = lines(model.estimate(usage(), "data-act", date(2027, 1, 11)))["source egress"]
    after = lines(model.estimate(usage(), "data-act", date(2027, 1, 12)))["source egress"]
    assert before.amount_eur == pytest.approx(4.5 * 0.97) and "at most at cost" in before.note
    assert after.amount_eur == 0.0 and "no switching charges" in after.note
    assert applicable_regime(date(2025, 9, 11)) == "list"
    assert applicable_regime(date(2025, 9, 12)) == "data-act"


def test_exit_waiver_applies_only_where_the_provider_grants_one():
    on = date(2026, 11, 23)
    waived = lines(CostModel(CATALOG, AWS, SELF_HOSTED).estimate(usage(), "exit-waiver", on))
    assert waived["source egress"].amount_eur == 0.0
    assert "60 days" in waived["source egress"].note
    scaleway = lines(CostModel(CATALOG, SCALEWAY, SELF_HOSTED).estimate(usage(), "exit-waiver",
                                                                       on))
    assert scaleway["source egress"].amount_eur == pytest.approx((150 - 75) * 0.01)


def phase(objects_per_s, bytes_per_s):
    from datetime import UTC, datetime
    now = datetime.now(UTC)
    return PhaseRecord(name="copy", started_at=now, ended_at=now, duration_s=10.0, objects=1000,
                       bytes=100 * 2**20, objects_per_s=objects_per_s, bytes_per_s=bytes_per_s)


def test_projection_from_known_throughput():
    projection = project(phase(100.0, 10 * 2**20), estate_objects=1_000_000,
                         estate_bytes=2**40, concurrency=8, hosts=4)
    assert projection.duration_s == pytest.approx(2**40 / (10 * 2**20))  # bytes govern
    assert projection.duration_on_hosts_s == pytest.approx(26_214.4)
    assert projection.fits_transition and projection.fits_extended
    slow = project(phase(1.0, 10 * 2**20), estate_objects=5_000_000, estate_bytes=2**30,
                   concurrency=8, hosts=1)
    assert slow.duration_s == 5_000_000  # objects govern: 57.9 days
    assert not slow.fits_transition and slow.fits_extended
    # measured in one process: one worker; 57.9 days of one worker need 2 for 30 days
    assert (projection.workers_measured, projection.workers_for_transition) == (1, 1)
    assert (slow.per_worker_objects_per_s, slow.workers_for_transition) == (1.0, 2)
    spread = project(phase(30.0, 10 * 2**20), estate_objects=5_000_000, estate_bytes=2**30,
                     concurrency=8, hosts=1, per_worker=WorkerRate(0.5, 2**20, workers=4))
    assert spread.workers_measured == 4 and spread.per_worker_objects_per_s == 0.5
    assert spread.workers_for_transition == 4  # 10,000,000 s of one worker in 2,592,000 s


def test_user_catalog_overrides_a_packaged_price(tmp_path, monkeypatch):
    packaged = (CATALOG.origins["aws-s3-eu-central-1"])
    text = open(packaged, encoding="utf-8").read().replace(
        "storage_gb_month: {price: 0.0245", "storage_gb_month: {price: 0.0199")
    (tmp_path / "aws-s3-eu-central-1.yaml").write_text(text, encoding="utf-8")
    overridden = load_catalog([tmp_path])
    assert overridden.get("aws-s3-eu-central-1").prices.storage_gb_month.price == 0.0199
    assert overridden.origins["aws-s3-eu-central-1"] == str(tmp_path / "aws-s3-eu-central-1.yaml")
    monkeypatch.setenv("EXITKIT_CATALOG", str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "exitkit", "providers", "show",
                           "aws-s3-eu-central-1"], capture_output=True, text=True, timeout=60)
    shown = json.loads(done.stdout)
    assert shown["prices"]["storage_gb_month"]["price"] == 0.0199
    assert shown["file"] == str(tmp_path / "aws-s3-eu-central-1.yaml")


def test_bad_catalog_file_is_one_line_naming_file_line_and_field(tmp_path):
    (tmp_path / "broken.yaml").write_text(
        "name: broken\ndisplay_name: B\nprovider: x\njurisdiction: NL\ndata_location: NL\n"
        "currency: GBP\nprices: {}\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "exitkit", "providers", "list", "--catalog",
                           str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().startswith(f"exitkit: error: {tmp_path / 'broken.yaml'}:6: currency:")
    assert "Traceback" not in done.stderr


def test_every_packaged_price_names_its_source_and_date():
    for entry in CATALOG.entries.values():
        prices = entry.prices
        for price in (prices.storage_gb_month, prices.egress_gb, prices.put_per_1000,
                      prices.get_per_1000):
            assert price.source and price.as_of, entry.name
    assert {"aws-s3-eu-central-1", "aws-s3-us-east-1", "azure-blob-westeurope",
            "gcs-europe-west4", "ovhcloud-gra", "scaleway-fr-par", "hetzner-fsn1",
            "ionos-eu-central-3", "self-hosted"} <= set(CATALOG.entries)


def test_cost_and_projection_expectations_fail_with_exit_1_naming_each(
        source_client, write_spec, server_env, tmp_path, bucket_name):
    bucket = bucket_name("src")
    source_client.create_bucket(Bucket=bucket)
    for i in range(40):
        source_client.put_object(Bucket=bucket, Key=f"in/{i:02d}", Body=b"x" * 5000)
        source_client.put_object(Bucket=bucket, Key=f"out/{i:02d}", Body=b"y" * 1000)
    spec = write_spec(bucket, bucket_name("tgt"), source_prefix="in/",
                      extra="cost:\n  keep_days: 3\nprojection:\n  hosts: 2\n")

    def run(limits: str, name: str):
        text = spec.read_text().replace("  max_duration: 10m\n", "  max_duration: 10m\n" + limits)
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        done = subprocess.run([sys.executable, "-m", "exitkit", "drill", "run", str(path),
                               "--json", "-r", str(tmp_path / name)], capture_output=True,
                              text=True, env=server_env, timeout=300)
        return done, json.loads(done.stdout)

    done, record = run("  max_cost: 0 EUR\n  max_projected_cost: 0\n"
                       "  max_projected_duration: 0s\n", "tight")
    assert done.returncode == 1
    assert "expectation failed: max_cost, max_projected_cost, max_projected_duration" in done.stderr
    failed = {e["name"]: e for e in record["expectations"] if not e["passed"]}
    assert set(failed) == {"max_cost", "max_projected_cost", "max_projected_duration"}
    cost = record["cost"]
    applicable = next(e for e in cost["drill"] if e["regime"] == cost["applicable_regime"])
    assert applicable["total_eur"] == pytest.approx(
        sum(line["amount_eur"] for line in applicable["lines"]), abs=1e-5)
    assert applicable["total_eur"] > 0  # egress and requests of a real copy cost something
    assert failed["max_cost"]["measured"] == f"{applicable['total_eur']:,.2f} EUR"
    assert failed["max_cost"]["expected"] == "<= 0.00 EUR"
    assert failed["max_projected_duration"]["measured"].endswith("s")
    projection = record["projection"]
    assert (projection["estate_objects"], projection["estate_bytes"]) == (80, 40 * 6000)
    assert projection["hosts"] == 2
    assert record["inventory"]["objects"] == 40
    cost = record["cost"]
    assert (cost["source_catalog"], cost["target_catalog"]) == ("aws-s3-us-east-1", "self-hosted")
    assert [e["regime"] for e in cost["drill"]] == ["list", "data-act", "exit-waiver"]
    assert record["requests"]["source"]["bytes_read"] == 40 * 5000
    copy = next(p for p in record["phases"] if p["name"] == "copy")
    assert copy["concurrency"] == 4 and copy["samples"][-1][1:] == [40, 200000]

    done, record = run("  max_cost: 100 EUR\n  max_projected_cost: 1000 EUR\n"
                       "  max_projected_duration: 30d\n", "loose")
    assert done.returncode == 0, done.stderr
    assert all(e["passed"] for e in record["expectations"])


def test_spec_catalog_dirs_are_relative_to_the_spec_and_override_prices(tmp_path):
    from exitkit.api import run_drill

    source = tmp_path / "disk-a" / "records"
    source.mkdir(parents=True)
    for i in range(5):
        (source / f"r{i}.txt").write_bytes(b"z" * 2**20)
    prices = tmp_path / "drills" / "prices"
    prices.mkdir(parents=True)
    text = open(CATALOG.origins["self-hosted"], encoding="utf-8").read()
    (prices / "self-hosted.yaml").write_text(
        text.replace("storage_gb_month: {price: 0.0039", "storage_gb_month: {price: 10.24"))
    spec = tmp_path / "drills" / "local.yaml"
    spec.write_text(f"""\
version: 1
name: local-to-local
source: {{provider: local, path: "{tmp_path / 'disk-a'}", bucket: records}}
target: {{provider: local, path: "{tmp_path / 'disk-b'}", bucket: records, create_bucket: true}}
cost: {{catalog_dirs: [prices]}}
""")
    result = run_drill(spec, tmp_path / "results")
    assert result.exit_code == 0
    cost = result.record.cost
    assert (cost.source_catalog, cost.target_catalog) == ("self-hosted", "self-hosted")
    assert cost.monthly_target_eur == pytest.approx(5 / 1024 * 10.24)
    assert (tmp_path / "disk-b" / "records" / "r3.txt").read_bytes() == b"z" * 2**20


def test_restores_are_priced_per_class_and_tier_under_every_regime():
    from exitkit.measure.cost import Restores

    restores = (Restores("DEEP_ARCHIVE", "standard", 4000, 200 * GB),
                Restores("GLACIER", "bulk", 1000, 10 * GB),
                Restores("GLACIER", "instant", 5, GB))  # no such tier in the catalog
    drill = Usage(egress_bytes=0, source_reads=0, source_writes=0, target_reads=0,
                  target_writes=0, stored_bytes=0, stored_days=0, restores=restores)
    on = date(2027, 2, 1)  # the Data Act waives egress, not restores
    for regime in ("list", "data-act", "exit-waiver"):
        items = lines(CostModel(CATALOG, AWS, SELF_HOSTED).estimate(drill, regime, on))
        requests = items["source restore requests (DEEP_ARCHIVE, standard)"]
        retrieval = items["source restore retrieval (DEEP_ARCHIVE, standard)"]
        assert requests.amount_eur == pytest.approx(4 * 0.10 * 0.97)
        assert retrieval.amount_eur == pytest.approx(200 * 0.02 * 0.97)
        assert retrieval.source == "https://aws.amazon.com/s3/pricing/"
        assert str(retrieval.as_of) == "2026-12-03"
        assert items["source restore retrieval (GLACIER, bulk)"].amount_eur == 0.0
        assert not any("instant" in item for item in items)


def test_projection_adds_the_restore_latency_of_the_tier_used():
    base = project(phase(100.0, 10 * 2**20), 1000, 2**30, 8, 1)
    bulk = project(phase(100.0, 10 * 2**20), 1000, 2**30, 8, 1,
                   archived_classes=["STANDARD", "GLACIER", "DEEP_ARCHIVE"], restore_tier="bulk")
    assert bulk.restore_latency_s == 48 * 3600 and bulk.restore_tier == "bulk"
    assert bulk.duration_on_hosts_s == pytest.approx(base.duration_on_hosts_s + 48 * 3600)
    expedited = project(phase(100.0, 10 * 2**20), 1000, 2**30, 8, 1,
                        archived_classes=["DEEP_ARCHIVE"], restore_tier="expedited")
    assert expedited.restore_latency_s == 12 * 3600  # Deep Archive has no expedited tier
    assert any("standard" in text for text in expedited.assumptions)
    assert project(phase(100.0, 10 * 2**20), 1000, 2**30, 8, 1,
                   archived_classes=["STANDARD", "GLACIER_IR"]).restore_tier is None
