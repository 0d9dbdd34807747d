"""Regulatory scope, provenance and requirements as data, on real drills (moto_server ->
SeaweedFS) whose ledger entries a real local TSA (OpenSSL) stamps."""

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from types import SimpleNamespace

import pytest
import yaml
from typer.testing import CliRunner

from exitkit.cli import app

from exitkit.compliance.evaluate import assess
from exitkit.compliance.model import (framework_dir, framework_names, load_framework,
                                      path_in_schema)
from exitkit.drill.spec_file import load_spec
from exitkit.embedded.seed import demo_objects, seed_bucket
from exitkit.embedded.tsa import LocalTsa
from exitkit.errors import SpecError
from exitkit.evidence.ledger import read_lines
from exitkit.evidence.retention import RETENTION_CLASSES
from exitkit.evidence.signing import generate_key_pair
from exitkit.evidence.store import read_record
from exitkit.providers.boto import s3_client
from tests.helpers import exitkit

_runner = CliRunner()


def cli(*args: str, env: dict[str, str] | None = None):
    """The ``exitkit`` command run in this process (quicker than a child process); the
    result has returncode, stdout and stderr like a finished child."""
    result = _runner.invoke(app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout,
                           stderr=result.stderr)

SCOPES = {  # two scopes that differ in every field the history filters on
    "outage": {"contract_ref": "ROI-2026-0007", "ict_service": "S3 document storage",
               "function": "Payments back office", "exit_plan": {"id": "EXIT-7",
                                                                  "version": "3.1"},
               "scenario": "provider outage", "test_type": "full-drill",
               "owner": "Ops lead (payments)"},
    "planned": {"contract_ref": "ROI-2026-0042", "ict_service": "S3 archive",
                "function": "Customer onboarding", "exit_plan": {"id": "EXIT-42",
                                                                  "version": "1.0"},
                "scenario": "planned_exit", "test_type": "partial_drill",
                "owner": "Head of IT"},
}

SPEC = """\
version: 1
name: {name}
source: {{provider: aws-s3, endpoint: "${{SRC_ENDPOINT}}", region: us-east-1, bucket: reg-src,
         credentials: {{access_key_env: SRC_KEY, secret_key_env: SRC_SECRET}}}}
target: {{provider: seaweedfs, endpoint: "${{TGT_ENDPOINT}}", bucket: {target},
         create_bucket: true, credentials: {{access_key_env: TGT_KEY, secret_key_env: TGT_SECRET}}}}
options: {{concurrency: 4}}
expectations: {{completeness: 100%, max_projected_duration: 30d}}
evidence:
  retention_class: regulatory
  timestamps: {{tsa_url: "${{TSA_URL}}"}}
"""


def _spec(path: Path, name: str, target: str, scope: dict | None) -> Path:
    text = SPEC.format(name=name, target=target)
    if scope is not None:
        text += yaml.safe_dump({"scope": scope}, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory, moto, seaweed):
    """Three runs in one ledger, each stamped by the TSA the spec names: outage scope,
    planned-exit scope, and a drill without a scope."""
    base = tmp_path_factory.mktemp("regulatory")
    client = s3_client(moto.endpoint, moto.access_key, moto.secret_key)
    seed_bucket(client, "reg-src", list(demo_objects(30, seed=17)))
    private, public, _ = generate_key_pair(base / "keys" / "ledger")
    ledger = base / "evidence" / "ledger.jsonl"
    with LocalTsa(base / "tsa") as tsa:
        env = {"SRC_ENDPOINT": moto.endpoint, "SRC_KEY": moto.access_key,
               "SRC_SECRET": moto.secret_key, "TGT_ENDPOINT": seaweed.endpoint,
               "TGT_KEY": seaweed.access_key, "TGT_SECRET": seaweed.secret_key,
               "TSA_URL": tsa.url}
        specs = [_spec(base / "outage.yaml", "reg-outage", "reg-tgt-a", SCOPES["outage"]),
                 _spec(base / "planned.yaml", "reg-planned", "reg-tgt-b", SCOPES["planned"]),
                 _spec(base / "bare.yaml", "reg-bare", "reg-tgt-c", None)]
        outputs = []
        for spec in specs:
            done = cli("drill", "run", str(spec), "-r", str(base / "evidence" / "records"),
                       "--ledger", str(ledger), "--signing-key", str(private), env=env)
            assert done.returncode == 0, done.stderr
            outputs.append(done.stdout)
        stamped = tsa.requests
    return {"base": base, "ledger": ledger, "public": public, "ca": tsa.files.ca_file,
            "stdout": outputs, "stamped": stamped,
            "records": [read_record(path) for path in
                        sorted((base / "evidence" / "records").glob("reg-*.json"),
                               key=lambda path: read_record(path).started_at)]}


def test_the_scope_is_recorded_signed_and_stamped(runs):
    outage, planned, bare = runs["records"]
    assert outage.schema_version == "1.6"
    recorded = outage.scope.model_dump()
    assert recorded == {**SCOPES["outage"], "scenario": "provider_outage",
                        "test_type": "full_drill"}
    assert planned.scope.model_dump() == SCOPES["planned"]
    assert bare.scope is None
    entries = [json.loads(line) for _, line in read_lines(runs["ledger"])]
    assert [entry["record"]["scope"] for entry in entries] == [
        json.loads(record.to_json())["scope"] for record in runs["records"]]
    assert runs["stamped"] == 3 and all(entry["timestamp"]["token"] for entry in entries)
    done = cli("audit", "verify", str(runs["ledger"]), "--pubkey", str(runs["public"]),
                   "--tsa-ca", str(runs["ca"]), "--require-timestamps")
    assert done.returncode == 0, done.stderr
    assert "3 entries" in done.stdout and "3 timestamp tokens verified" in done.stdout
    assert "timestamped 20" in runs["stdout"][0]


def test_provenance_names_clock_code_dependencies_and_retention(runs):
    provenance = runs["records"][0].provenance
    assert provenance.clock.source in ("chrony", "systemd-timesyncd", "systemd",
                                       "kernel (adjtimex)", "unknown")
    assert provenance.clock.synchronized in (True, False, None)
    assert provenance.clock.detail
    assert re.fullmatch(r"[0-9a-f]{40}", provenance.exitkit_commit or "")
    lines = provenance.dependencies
    assert lines == sorted(lines) and any(line.startswith("pydantic==") for line in lines)
    import hashlib
    assert provenance.dependencies_sha256 == hashlib.sha256(
        "\n".join(lines).encode()).hexdigest()
    regulatory = RETENTION_CLASSES["regulatory"]
    assert (provenance.retention_class, provenance.object_lock_mode,
            provenance.object_lock_days) == ("regulatory", regulatory.mode, regulatory.days)


@pytest.mark.parametrize("fmt", ["md", "html", "junit", "prom"])
def test_every_report_format_shows_the_scope(runs, fmt):
    record_file = sorted((runs["base"] / "evidence" / "records").glob("reg-outage-*.json"))[0]
    done = cli("report", str(record_file), "--format", fmt)
    assert done.returncode == 0, done.stderr
    for value in ("ROI-2026-0007", "Payments back office", "EXIT-7", "Ops lead (payments)"):
        assert value in done.stdout, (fmt, value)
    if fmt == "junit":
        properties = {item.get("name"): item.get("value")
                      for item in ET.fromstring(done.stdout).iter("property")}
        assert properties["scope.scenario"] == "provider_outage"
        assert properties["scope.test_type"] == "full_drill"
        assert properties["provenance.retention_class"].startswith("regulatory")
    if fmt == "prom":
        assert 'exitkit_drill_scope_info{drill="reg-outage",contract="ROI-2026-0007"' \
               in done.stdout
    assert "ROI-2026-0007" in runs["stdout"][0]  # the terminal summary


@pytest.mark.parametrize("options, expected", [
    ((), ["reg-outage", "reg-planned", "reg-bare"]),
    (("--contract", "ROI-2026-0042"), ["reg-planned"]),
    (("--function", "Payments back office"), ["reg-outage"]),
    (("--exit-plan", "EXIT-7"), ["reg-outage"]),
    (("--exit-plan", "EXIT-42@1.0"), ["reg-planned"]),
    (("--exit-plan", "EXIT-42@2.0"), []),
    (("--scenario", "Provider outage"), ["reg-outage"]),
    (("--test-type", "partial_drill"), ["reg-planned"]),
    (("--scenario", "planned_exit", "--test-type", "full_drill"), []),
])
def test_history_filters_by_scope(runs, options, expected):
    done = cli("history", "--ledger", str(runs["ledger"]), "--json", *options)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [row["drill"] for row in rows] == expected
    assert all(row["timestamped_at"] for row in rows)


def test_history_refuses_an_unknown_scenario(runs):
    done = cli("history", "--ledger", str(runs["ledger"]), "--scenario", "meteor")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "exitkit: error: --scenario: 'meteor' is not one of provider_outage, failed_delivery, "
        "unexpected_termination, planned_exit"]


def _framework_json(runs, framework: str, drill: str) -> dict:
    done = cli("report", str(runs["ledger"]), "--framework", framework, "--format", "json",
                   "--drill", drill)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("framework", ["dora", "data-act"])
def test_a_scoped_stamped_drill_evidences_every_requirement_a_drill_can(runs, framework):
    """The issue's done-criterion: every requirement with evidence a drill can give maps
    to it and passes (the host clock's state decides the clock requirement); every other
    requirement says why it is not covered. Each location resolves in the ledger."""
    report = _framework_json(runs, framework, "reg-outage")
    entries = [json.loads(line) for _, line in read_lines(runs["ledger"])]
    synced = runs["records"][0].provenance.clock.synchronized
    recorded = json.loads(runs["records"][0].to_json())
    mapping = load_framework(framework)
    assert [item["id"] for item in report["requirements"]] == [
        requirement.id for requirement in mapping.requirements]
    for item in report["requirements"]:
        if not item["evidence"]:
            assert item["status"] == "not_covered" and item["not_coverable"]
            continue
        clock = any(e["path"] == "provenance.clock.synchronized" for e in item["evidence"])
        expected = ("passed" if synced else "failed") if clock else "passed"
        assert item["status"] == expected, item
        for evidence in item["evidence"]:
            for location in evidence["locations"]:
                where, _, path = location.partition(": ")
                assert where == f"{runs['ledger']} entry 1"
                value = _at(entries[0], path)
                assert path.startswith("$.record.")
                assert value == _at(recorded, "$" + path.removeprefix("$.record"))
                if evidence["expectation"]:
                    assert value["passed"] and evidence["found"].startswith(value["name"])
                else:
                    shown = json.dumps(_at(recorded, "$" + path.removeprefix("$.record")),
                                       ensure_ascii=False)
                    assert shown[:40] == evidence["found"][:40]


def _at(document, json_path: str):
    value = document
    for part in re.findall(r"[^.\[\]$]+", json_path):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def test_a_planned_exit_does_not_evidence_continuity_testing(runs):
    report = _framework_json(runs, "dora", "reg-planned")
    status = {item["id"]: item["status"] for item in report["requirements"]}
    assert status["RTS-2024-1774-25-bcp-testing"] == "not_covered"
    assert status["DORA-28.8-transfer"] == "passed"


def test_a_drill_without_scope_leaves_the_scope_requirements_uncovered(runs):
    report = _framework_json(runs, "dora", "reg-bare")
    status = {item["id"]: item["status"] for item in report["requirements"]}
    assert status["DORA-28.8-exit-strategy"] == "not_covered"
    assert status["DORA-28.8-tested"] == "not_covered"
    assert status["DORA-28.8-transfer"] == "passed"


def test_a_failed_expectation_fails_the_requirements_it_evidences(runs):
    record = runs["records"][0].model_copy(deep=True)
    completeness = next(e for e in record.expectations if e.name == "completeness")
    completeness.passed = False
    record.verification.completeness_objects_pct = 96.5
    report = assess(load_framework("dora"), record, "r.json")
    status = {finding.requirement.id: finding.status for finding in report.requirements}
    assert status["DORA-28.8-no-disruption"] == "failed"
    assert status["DORA-28.8-transfer"] == "failed"
    transfer = next(f for f in report.requirements if f.requirement.id == "DORA-28.8-transfer")
    failed = [item for item in transfer.evidence if item.outcome == "failed"]
    assert [(item.evidence.path, item.found, item.locations) for item in failed] == [
        ("verification.completeness_objects_pct", "96.5",
         ("r.json: $.verification.completeness_objects_pct",))]


@pytest.mark.parametrize("framework", ["dora", "data-act", "eba-gl-2019-02", "iso27001",
                                       "bio2"])
@pytest.mark.parametrize("fmt", ["md", "html", "junit"])
def test_every_framework_renders_in_every_format(runs, framework, fmt):
    done = cli("report", str(runs["ledger"]), "--framework", framework, "-f", fmt)
    assert done.returncode == 0, done.stderr
    mapping = load_framework(framework)
    for requirement in mapping.requirements:
        assert requirement.id in done.stdout
    if fmt == "junit":
        suite = ET.fromstring(done.stdout)
        assert int(suite.get("tests")) == len(mapping.requirements)


def test_the_mapping_files_cover_the_issue_and_point_at_record_fields():
    assert framework_names() == ["bio2", "data-act", "dora", "eba-gl-2019-02", "iso27001"]
    references = []
    for name in framework_names():
        framework = load_framework(name)
        for requirement in framework.requirements:
            references.append(requirement.reference)
            for evidence in requirement.evidence:
                assert evidence.path is None or path_in_schema(evidence.path), evidence.path
            assert requirement.evidence or requirement.not_coverable
    text = " | ".join(references)
    for needed in ("DORA art. 28(8)", "2024/1773 art. 10", "2024/1774 art. 12",
                   "2024/1774 art. 25", "EBA/GL/2019/02 §15", "Data Act art. 23",
                   "Data Act art. 25", "Data Act art. 29", "A.5.23", "A.5.30", "BIO2 5.23",
                   "BIO2 5.30"):
        assert needed in text, needed
    assert not path_in_schema("scope.contract") and not path_in_schema("verification.nope")
    assert path_in_schema("verification.counts.matched") and path_in_schema("phases.0.name")


@pytest.mark.parametrize("change, field", [
    (("path: scope.function", "path: scope.functions"), "requirements.0.evidence.2"),
    (("expectation: completeness", "expectation: completenes"), "requirements.1.evidence.0"),
    (("  - id: DORA-28.8-contingency", "  - id: DORA-28.8-exit-strategy"), "requirements"),
])
def test_a_bad_mapping_is_one_line_naming_file_line_and_field(tmp_path, change, field):
    text = (framework_dir() / "dora.yaml").read_text(encoding="utf-8")
    assert change[0] in text
    changed = text.replace(change[0], change[1], 1)
    (tmp_path / "dora.yaml").write_text(changed, encoding="utf-8")
    marker = "requirements:" if field == "requirements" else change[1]
    line = changed.splitlines().index(next(row for row in changed.splitlines()
                                           if marker in row)) + 1
    with pytest.raises(SpecError) as raised:
        load_framework("dora", tmp_path)
    assert str(raised.value).startswith(f"{tmp_path / 'dora.yaml'}:{line}: {field}: "), \
        str(raised.value)


def test_an_unknown_framework_is_exit_2(runs):
    done = cli("report", str(runs["ledger"]), "--framework", "sox")
    assert done.returncode == 2
    assert done.stderr.startswith("exitkit: error: --framework: no mapping for 'sox'; one of "
                                  "bio2, data-act, dora")
    done = cli("report", str(runs["ledger"]), "--framework", "dora", "-f", "prom")
    assert done.returncode == 2 and "with --framework" in done.stderr


SCOPE_ERRORS = [  # (scope as YAML lines, line of the error, field, problem)
    ("  contract_ref: ROI-1\n  ict_service: s3\n  function: payments\n"
     "  exit_plan: {id: P, version: '1'}\n  scenario: meteor strike\n  test_type: tabletop\n"
     "  owner: me\n", 12, "scope.scenario", "Input should be 'provider_outage'"),
    ("  contract_ref: ROI-1\n  ict_service: s3\n  function: payments\n"
     "  exit_plan: {id: P, version: '1'}\n  scenario: planned_exit\n  test_type: drill\n"
     "  owner: me\n", 13, "scope.test_type", "Input should be 'tabletop'"),
    ("  contract_ref: ROI-1\n  ict_service: s3\n  function: payments\n"
     "  exit_plan: {id: P}\n  scenario: planned_exit\n  test_type: tabletop\n  owner: me\n",
     11, "scope.exit_plan.version", "Field required"),
    ("  contract_ref: ''\n  ict_service: s3\n  function: payments\n"
     "  exit_plan: {id: P, version: '1'}\n  scenario: planned_exit\n  test_type: tabletop\n"
     "  owner: me\n", 8, "scope.contract_ref", "at least 1 character"),
    ("  contract_ref: ROI-1\n  ict_service: s3\n  function: payments\n"
     "  exit_plan: {id: P, version: '1'}\n  scenario: planned_exit\n  test_type: tabletop\n",
     7, "scope.owner", "Field required"),
    ("  contract_ref: ROI-1\n  ict_service: s3\n  function: payments\n  critical: yes\n"
     "  exit_plan: {id: P, version: '1'}\n  scenario: planned_exit\n  test_type: tabletop\n"
     "  owner: me\n", 11, "scope.critical", "unknown field"),
]

BASE = """\
version: 1
name: scoped
source: {provider: local, path: /tmp, bucket: a}
target: {provider: local, path: /tmp, bucket: b}
evidence:
  retention_class: operational
scope:
"""


@pytest.mark.parametrize("scope, line, field, problem", SCOPE_ERRORS)
def test_a_bad_scope_is_one_line_naming_file_line_and_field(tmp_path, scope, line, field,
                                                            problem):
    spec = tmp_path / "scoped.yaml"
    spec.write_text(BASE + scope, encoding="utf-8")
    with pytest.raises(SpecError) as raised:
        load_spec(spec, {})
    assert str(raised.value).startswith(f"{spec}:{line}: {field}: "), str(raised.value)
    assert problem in str(raised.value)


def test_a_bad_scope_exits_2_without_a_traceback(tmp_path):
    spec = tmp_path / "scoped.yaml"
    spec.write_text(BASE + SCOPE_ERRORS[0][0], encoding="utf-8")
    done = exitkit("drill", "run", str(spec), "-r", str(tmp_path / "results"))
    assert done.returncode == 2
    assert done.stderr.startswith(f"exitkit: error: {spec}:12: scope.scenario: ")
    assert "Traceback" not in done.stderr and not (tmp_path / "results").exists()


@pytest.mark.parametrize("evidence, lock", [
    ("  retention_class: regulatory\n", ("compliance", 1827)),
    ("  retention_class: regulatory\n  store: {object_lock: {days: 400}}\n",
     ("compliance", 400)),
    ("  retention_class: short\n  store: {object_lock: {mode: compliance}}\n",
     ("compliance", 30)),
    ("  store: {object_lock: {mode: governance, days: 9}}\n", ("governance", 9)),
    ("  store: {}\n", None),
])
def test_the_store_object_lock_follows_the_retention_class(tmp_path, evidence, lock):
    store = ("provider: s3-compatible, endpoint: 'http://127.0.0.1:9', bucket: ev, "
             "credentials: {access_key_env: K, secret_key_env: S}")
    text = evidence.replace("store: {object_lock", "store: {" + store + ", object_lock") \
        .replace("store: {}", "store: {" + store + "}")
    if "store" not in text:
        text += "  store: {" + store + "}\n"
    spec = tmp_path / "lock.yaml"
    spec.write_text(BASE.replace("  retention_class: operational\n", text).removesuffix(
        "scope:\n"), encoding="utf-8")
    loaded = load_spec(spec, {"K": "k", "S": "s"}).spec.evidence.store.object_lock
    assert (loaded and (loaded.mode, loaded.days)) == (lock or None)


def test_object_lock_without_mode_needs_a_retention_class(tmp_path):
    spec = tmp_path / "lock.yaml"
    spec.write_text(BASE.replace("  retention_class: operational\n", (
        "  store: {provider: s3-compatible, endpoint: 'http://127.0.0.1:9', bucket: ev,\n"
        "          credentials: {access_key_env: K, secret_key_env: S},\n"
        "          object_lock: {days: 3}}\n")).removesuffix("scope:\n"), encoding="utf-8")
    with pytest.raises(SpecError) as raised:
        load_spec(spec, {"K": "k", "S": "s"})
    assert str(raised.value) == (f"{spec}:5: evidence: store.object_lock: give 'mode' and "
                                 f"'days', or set 'retention_class' to take them from it")
