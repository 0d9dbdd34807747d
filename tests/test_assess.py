"""`exitkit assess` against one real moto_server holding a varied estate (tables in
exitkit.embedded.assess_seed), seeded, drilled and assessed once by `demo --assess`'s own
function; the expected figures come from the same tables, never from the assessment."""

import hashlib
import json
import math
import os
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from rich.console import Console

from exitkit.assess import bucket_size
from exitkit.assess.plan import render_plan, render_terminal
from exitkit.assess.projection import DEFAULT_BYTES_PER_S, DEFAULT_OBJECTS_PER_S
from exitkit.assess.run import AssessOptions, assess
from exitkit.assess.schema import assessment_schema
from exitkit.assess.state_file import read_state
from exitkit.drill.spec_base import Credentials
from exitkit.embedded.assess_demo import (ACCESS_KEY_ENV, DRILLED_BUCKET, SECRET_KEY_ENV,
                                          TARGET_CATALOG, run_assess_demo)
from exitkit.embedded.assess_seed import (BUCKETS, DATABASES, FUNCTIONS, IMAGES, INSTANCES,
                                          QUEUES, REGION, STATE_RESOURCES, TABLES,
                                          EstateMotoServer, inventory_rows, seeded_objects,
                                          state_document)
from exitkit.api import assess_estate
from exitkit.errors import ExitkitError, SpecError
from exitkit.evidence.ledger import read_lines, entry_hash
from tests.helpers import exitkit
from tests.test_reports import chromium_screenshot, console_errors

SCHEMA = Path(__file__).resolve().parents[1] / "docs" / "assessment.schema.json"
BLOCKING_CODES = {"estate-customer-records": "kms-key-unusable",
                  "estate-legal-compliance": "object-lock-compliance"}
#: (resource type, attributes, how the state reader must treat it): generated state files
STATE_CASES = (
    ("aws_sqs_queue", {"name": "orders-in"}, "managed service"),
    ("aws_lambda_function", {"function_name": "resize", "name": "resize"}, "managed service"),
    ("aws_db_instance", {"identifier": "crm", "engine": "mysql", "allocated_storage": 20},
     "managed service"),
    ("aws_instance", {"id": "i-0state", "instance_type": "t3.small", "ami": "ami-1",
                      "root_block_device": [{"volume_size": 30, "encrypted": True}]}, "vm"),
    ("aws_iam_policy", {"name": "p"}, "skipped"),
    ("aws_route53_zone", {"name": "example.eu"}, "skipped"),
    ("aws_api_gateway_rest_api", {"name": "api"}, "skipped"),
)


@pytest.fixture(scope="module")
def estate(tmp_path_factory):
    """One moto_server for the module: seeded, one bucket drilled, assessed, plan written."""
    results = tmp_path_factory.mktemp("assess")
    with EstateMotoServer(results / "moto") as server:
        result = run_assess_demo(results, server=server)
        yield server, result, results


@pytest.fixture
def environ(estate):
    server = estate[0]
    return {**os.environ, ACCESS_KEY_ENV: server.access_key, SECRET_KEY_ENV: server.secret_key}


def assets_by_id(assessment):
    return {asset.id: asset for asset in assessment.assets}


def expected_size(plan) -> tuple[int, int, dict[str, int]]:
    """Objects (every version), bytes and objects per class the seed wrote for *plan*."""
    objects = seeded_objects(plan)
    superseded = [len(b"superseded " + key.encode()) for key, _, _ in objects[:plan.versions]]
    classes: dict[str, int] = {}
    for _key, _body, storage_class in objects:
        classes[storage_class or "STANDARD"] = classes.get(storage_class or "STANDARD", 0) + 1
    if superseded:
        classes["STANDARD"] = classes.get("STANDARD", 0) + len(superseded)
    return (len(objects) + len(superseded), sum(len(b) for _, b, _ in objects) + sum(superseded),
            classes)


@pytest.mark.parametrize("plan", BUCKETS, ids=lambda plan: plan.name)
def test_every_bucket_is_sized_and_judged_as_its_configuration_calls_for(estate, plan):
    asset = assets_by_id(estate[1].assessment)[f"s3://{plan.name}"]
    assert asset.verdict == plan.expected, [f.detail for f in asset.findings]
    if plan.name in BLOCKING_CODES:
        assert asset.findings[0].code == BLOCKING_CODES[plan.name]
        assert (asset.findings[0].verdict, asset.findings[0].severity) == ("blocked", "high")
    if plan.inventoried:
        rows = inventory_rows()
        assert (asset.size.method, asset.size.objects, asset.size.bytes) == (
            "inventory report", len(rows), sum(size for *_, size, _ in rows))
        assert "2026-11-30T01-00Z" in asset.size.caveat and not asset.size.exact
        return
    objects, size, classes = expected_size(plan)
    if plan.name == "estate-inventory-reports":  # holds the data lake's report
        objects, size = asset.size.objects, asset.size.bytes
        assert objects == 2
    assert (asset.size.method, asset.size.exact) == ("listing", True)
    assert (asset.size.objects, asset.size.bytes) == (objects, size)
    if plan.objects:
        assert {name: held.objects for name, held in asset.storage_classes.items()} == classes


def test_bucket_settings_are_read_back_as_configured(estate):
    assets = assets_by_id(estate[1].assessment)
    web = assets["s3://estate-web-assets"].settings
    assert web["website"]["IndexDocument"] == {"Suffix": "index.html"}
    assert (web["cors_rules"], web["policy_public"]) == (1, True)
    assert web["policy_principals"] == ["*", "arn:aws:iam::123456789012:role/deploy"]
    archive = assets["s3://estate-finance-archive"].settings
    assert archive["lifecycle_rules"][0]["transitions"] == ["DEEP_ARCHIVE", "GLACIER"]
    assert assets["s3://estate-replicated-logs"].settings["replication_destinations"] == [
        "arn:aws:s3:::estate-replicated-logs-replica"]
    notified = assets["s3://estate-user-uploads"].settings["notification_targets"]
    assert [arn.rsplit(":", 1)[-1] for arn in notified] == ["estate-thumbnails"]
    records = assets["s3://estate-customer-records"].settings
    assert records["kms_key"]["state"] == "Disabled"
    assert records["encryption"]["algorithm"] == "aws:kms"
    assert assets["s3://estate-app-data"].settings["kms_key"]["state"] == "Enabled"
    assert assets["s3://estate-legal-compliance"].settings["object_lock"] == {
        "enabled": True, "mode": "COMPLIANCE", "days": 3650}
    assert assets["s3://estate-audit-governance"].settings["object_lock"]["mode"] == "GOVERNANCE"
    assert assets["s3://estate-plain-backups"].settings["tags"] == {
        "team": "platform", "backup": "nightly"}
    archived = next(f for f in assets["s3://estate-finance-archive"].findings
                    if f.code == "archived-objects")
    assert "GLACIER" in archived.detail and "DEEP_ARCHIVE" in archived.detail
    # the longest bulk restore (Deep Archive: 48 h) is part of the archive's exit time
    assert assets["s3://estate-finance-archive"].projection.restore_latency_s == 48 * 3600


def test_vms_images_and_managed_services_with_replacements(estate):
    assessment = estate[1].assessment
    vms = {asset.name: asset for asset in assessment.assets if asset.kind == "vm"}
    assert set(vms) == {name for name, *_ in INSTANCES}
    assert vms["web-1"].verdict == "portable"
    assert {code for name in ("db-1", "win-app-1", "batch-1")
            for code in [vms[name].findings[0].code]} == {
        "encrypted-volume", "image-not-exportable", "managed-service"}
    assert vms["db-1"].size.bytes == (200 + 8) * 2**30 and vms["db-1"].size.method == "provisioned"
    images = [asset for asset in assessment.assets if asset.kind == "image"]
    assert len(images) == sum(len(tags) for _, tags, _ in IMAGES)
    assert all(image.verdict == "portable" for image in images)
    [registry] = [a for a in assessment.assets if a.id.startswith("ecr:") and a.kind != "image"]
    assert registry.settings["repositories"] == len(IMAGES)
    assert {option.name for option in registry.replacements} >= {"Harbor", "zot"}
    services = {asset.id: asset for asset in assessment.assets
                if asset.kind == "managed service"}
    for identifier, engine in DATABASES:
        database = services[f"rds-{engine}:{identifier}"]
        assert database.size.bytes == 50 * 2**30
    assert services["rds-postgres:orders"].verdict == "needs work"
    assert {r.kind for r in services["rds-postgres:orders"].replacements} == {
        "eu-managed", "self-hosted"}
    assert services["rds-oracle-ee:billing-legacy"].replacements == []
    assert services["rds-oracle-ee:billing-legacy"].verdict == "blocked"
    assert {f"sqs:{q}" for q in QUEUES} | {f"lambda:{f}" for f in FUNCTIONS} | {
        f"dynamodb:{t}" for t in TABLES} <= set(services)
    keys = {asset.settings["state"]: asset for asset_id, asset in services.items()
            if asset_id.startswith("kms:")}
    assert keys["Disabled"].verdict == "blocked" and keys["Enabled"].verdict == "needs work"
    assert keys["Disabled"].findings[0].code == "kms-key-unusable"


def test_state_file_adds_what_lives_outside_the_account(estate):
    result, results = estate[1], estate[2]
    assets = assets_by_id(result.assessment)
    shared = assets["s3://estate-shared-datasets"]
    assert (shared.found_by, shared.verdict, shared.size.method) == (
        "state file", "blocked", "unknown")
    assert {f.code for f in shared.findings} == {"object-lock-compliance", "requester-pays"}
    assert shared.projection is None
    assert assets["kinesis:estate-clickstream"].replacements == []
    assert assets["elasticache:estate-cache"].replacements[0].name == "Valkey"
    skipped = {item.kind: item.reason for item in result.assessment.coverage.skipped}
    assert "re-created" in skipped["aws_iam_role"]
    assert skipped["aws_cloudfront_distribution"] == (
        "no assessment rule for resource type aws_cloudfront_distribution")
    assert "data source" in skipped["aws_caller_identity"]
    state = results / "estate.tfstate"
    inputs = {item.name: item.sha256 for item in result.assessment.coverage.inputs}
    assert inputs[f"state file {state}"] == hashlib.sha256(state.read_bytes()).hexdigest()
    ledger = results / "ledger.jsonl"
    assert inputs[f"ledger {ledger}"] == hashlib.sha256(ledger.read_bytes()).hexdigest()
    counted = result.assessment.coverage.counted
    assert counted["state file resources"] == len(STATE_RESOURCES) - 2  # iam and cloudfront


def test_drill_coverage_and_measured_throughput_come_from_the_ledger(estate):
    assessment, results = estate[1].assessment, estate[2]
    drilled = assets_by_id(assessment)[f"s3://{DRILLED_BUCKET}"]
    [(_, line)] = list(read_lines(results / "ledger.jsonl"))
    entry = json.loads(line)
    [run] = drilled.drills
    assert (run.run_id, run.ledger_entry, run.entry_sha256, run.verdict) == (
        entry["record"]["run_id"], 1, entry_hash(line), "passed")
    copy = next(p for p in entry["record"]["phases"] if p["name"] == "copy")
    assert drilled.projection.basis == "measured: this asset"
    assert drilled.projection.bytes_per_s == pytest.approx(copy["bytes_per_s"], abs=1e-3)
    others = [a for a in assessment.assets if a.projection and a.id != drilled.id]
    assert {a.projection.basis for a in others} == {"measured: this estate"}
    # never-drilled assets first: the one drilled asset is last
    assert assessment.assets[-1].id == drilled.id
    assert assessment.totals.never_drilled == len(assessment.assets) - 1


def test_quick_samples_the_listing_and_marks_sizes_and_costs_as_lower_bounds(estate, environ,
                                                                           monkeypatch):
    server = estate[0]
    monkeypatch.setattr(bucket_size, "SAMPLE_KEYS", 4)
    assessment = assess(AssessOptions(
        region=REGION, endpoint=server.endpoint, target_catalog=TARGET_CATALOG, quick=True,
        credentials=Credentials(access_key_env=ACCESS_KEY_ENV, secret_key_env=SECRET_KEY_ENV)),
        environ)
    assets = assets_by_id(assessment)
    for plan in BUCKETS:
        asset = assets[f"s3://{plan.name}"]
        objects, _, _ = expected_size(plan)
        if plan.inventoried or objects <= 4:
            continue
        first = sorted(seeded_objects(plan))[:4] if not plan.versions else None
        assert (asset.size.method, asset.size.exact, asset.size.objects) == ("sample", False, 4)
        assert asset.projection.cost_bound == "lower bound" and asset.projection.basis == "default"
        if first:
            assert asset.size.bytes == sum(len(body) for _, body, _ in first)
        # the stated default, labelled, where no ledger is given
        assert asset.projection.duration_s == pytest.approx(
            max(4 / DEFAULT_OBJECTS_PER_S, asset.size.bytes / DEFAULT_BYTES_PER_S)
            + asset.projection.restore_latency_s, abs=1e-3)
    assert assessment.totals.cost_bound == "lower bound"


def test_cli_json_exit_codes_and_no_secret_anywhere(estate, environ, tmp_path):
    server = estate[0]
    out = tmp_path / "plan"
    done = exitkit("assess", "--endpoint", server.endpoint, "--region", REGION,
                   "--access-key-env", ACCESS_KEY_ENV, "--secret-key-env", SECRET_KEY_ENV,
                   "--target", "hetzner-fsn1", "--json", "--out", str(out), env=environ)
    assert done.returncode == 1, done.stderr  # a key is disabled: that bucket is blocked
    document = json.loads(done.stdout)
    verdicts = {a["id"]: a["verdict"] for a in document["assets"]}
    # hetzner holds Object Lock: compliance retention can move there, the disabled key cannot
    assert verdicts["s3://estate-legal-compliance"] == "needs work"
    assert verdicts["s3://estate-customer-records"] == "blocked"
    assert done.stderr.startswith("exitkit: blocked: ") and "Traceback" not in done.stderr
    written = sorted(path.name for path in out.iterdir())
    assert written == ["assessment.json", "exit-plan.html", "exit-plan.md"]
    for text in (done.stdout, done.stderr, *(p.read_text() for p in out.iterdir())):
        assert server.secret_key not in text
    missing = exitkit("assess", "--endpoint", server.endpoint, "--access-key-env", "NOPE_KEY",
                      "--secret-key-env", "NOPE_SECRET", env=environ, cwd=tmp_path)
    assert (missing.returncode, missing.stderr.strip()) == (
        2, "exitkit: error: credentials: environment variable NOPE_KEY is not set")


@pytest.mark.parametrize("text, line, field", [
    ('{"version": 4,\n "resources": [\n  {"type": "aws_sqs_queue", "name": "q",\n'
     '   "instances": [{"attributes": "oops"}]}]}', 3, "resources[0].instances[0].attributes"),
    ('{"version": 4,\n "resources": [}', 2, None),
    ('{"version": 3,\n "resources": []}', 1, "version"),
])
def test_a_bad_state_file_is_one_line_naming_file_line_and_field(tmp_path, text, line, field):
    state = tmp_path / "bad.tfstate"
    state.write_text(text)
    with pytest.raises(SpecError) as raised:
        assess_estate(AssessOptions(state_files=(str(state),)), output_dir=tmp_path / "out")
    message = str(raised.value)
    assert message.startswith(f"{state}:{line}: ") and "\n" not in message
    if field:
        assert f": {field}: " in message
    assert not (tmp_path / "out").exists()  # nothing half-written


def public_buckets(restrict: bool) -> tuple:
    """A bucket whose policy grants everyone read, behind a public access block that
    restricts public buckets or not."""
    name = f"site-{'restricted' if restrict else 'open'}"
    policy = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*",
                                        "Action": "s3:GetObject"}]})
    return (("aws_s3_bucket", name, {"bucket": name}),
            ("aws_s3_bucket_policy", name, {"bucket": name, "policy": policy}),
            ("aws_s3_bucket_public_access_block", name,
             {"bucket": name, "restrict_public_buckets": restrict}))


def test_offline_state_reader_counts_and_skips_by_table(tmp_path):
    resources = tuple((kind, f"r{n}", attributes)
                      for n, (kind, attributes, _) in enumerate(STATE_CASES))
    resources += public_buckets(True) + public_buckets(False)
    path = tmp_path / "generated.tfstate"
    path.write_text(json.dumps(state_document(resources, data_sources=2)))
    state = read_state(path)
    expected = {outcome: [kind for kind, _, o in STATE_CASES if o == outcome]
                for outcome in ("managed service", "vm", "skipped")}
    assert sorted(s.service for s in state.services) == ["lambda", "rds-mysql", "sqs"]
    assert [i.id for i in state.instances] == ["i-0state"]
    assert state.instances[0].volumes[0].encrypted and state.instances[0].shape.vcpus == 2
    assert sorted(s.kind for s in state.skipped) == sorted(
        expected["skipped"] + ["aws_caller_identity"] * 2)
    assert state.counted == len(expected["managed service"]) + len(expected["vm"]) + 6
    assessment = assess(AssessOptions(state_files=(str(path),), target_catalog="hetzner-fsn1"),
                        environ={})
    assets = assets_by_id(assessment)
    public = {name: "public-access" in {f.code for f in assets[f"s3://{name}"].findings}
              for name in ("site-open", "site-restricted")}
    assert public == {"site-open": True, "site-restricted": False}
    vm = assets["ec2:i-0state"]
    assert (vm.verdict, vm.findings[0].code) == ("blocked", "encrypted-volume")
    assert assessment.source.region is None  # no account was asked
    with pytest.raises(ExitkitError, match="nothing to assess"):
        assess(AssessOptions(), environ={})


def test_exit_plan_markdown_names_every_asset_with_verdict_time_cost_and_coverage(estate):
    assessment = estate[1].assessment
    markdown = (estate[2] / "exit-plan.md").read_text()
    rows = markdown.split("## Assets (never drilled first)")[1].split("\n### ")[0]
    for asset in assessment.assets:
        row = next(line for line in rows.splitlines() if line.startswith(f"| {asset.id}"))
        assert f"| {asset.verdict} |" in row
        assert ("never drilled" in row) == (not asset.drills)
    assert "## Blockers" in markdown and "kms-key-unusable" in markdown
    for regime in ("list", "data-act", "exit-waiver"):
        assert f"| {regime}" in markdown
    run = assets_by_id(assessment)[f"s3://{DRILLED_BUCKET}"].drills[0]
    assert f"entry {run.ledger_entry} (sha256 `{run.entry_sha256}`)" in markdown


def test_terminal_summary_names_every_asset_and_every_blocker(estate):
    assessment = estate[1].assessment
    console = Console(record=True, width=400)
    console.print(render_terminal(assessment))
    text = console.export_text()
    for asset in assessment.assets:
        assert asset.id in text
    blocked = [line for line in text.splitlines() if line.startswith("blocked: ")]
    assert len(blocked) == assessment.totals.verdicts["blocked"]
    assert any("s3://estate-customer-records: kms-key-unusable: " in line for line in blocked)


def test_assessment_json_holds_to_the_committed_schema(estate):
    committed = json.loads(SCHEMA.read_text())
    assert committed == assessment_schema(), "regenerate: python -m exitkit.assess.schema"
    written = json.loads((estate[2] / "assessment.json").read_text())
    errors = [e.message for e in Draft202012Validator(committed).iter_errors(written)]
    assert errors == []
    assert written["assets"][0]["verdict"] in ("portable", "needs work", "blocked")


def test_exit_plan_html_renders_in_chromium_self_contained(estate, tmp_path):
    page = estate[2] / "exit-plan.html"
    html = page.read_text()
    assert re.findall(r"https?://", html) == [] and "<script" not in html.lower()
    assert html == render_plan(estate[1].assessment, "html")
    screenshot = tmp_path / "plan.png"
    stderr = chromium_screenshot(page, screenshot)
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 50_000
    assert console_errors(stderr) == []
    assert math.isfinite(estate[1].assessment.totals.duration_s)
