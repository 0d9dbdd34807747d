"""docs/scheduling.md: its cron line, systemd unit and CronJob really run a drill and keep
the ledger. The commands are taken from the document as written; only the absolute paths
are moved into a temporary directory."""

import configparser
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from exitkit.embedded.seed import demo_objects, seed_bucket
from exitkit.evidence.audit import audit_ledger
from exitkit.evidence.signing import generate_key_pair, load_public_key

DOC = Path(__file__).parent.parent / "docs" / "scheduling.md"
PATHS = ("/var/lib/node_exporter/textfile_collector", "/var/lib/exitkit", "/etc/exitkit",
         "/usr/local/bin/exitkit")
CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\d+(-\d+)?))*$")

NIGHTLY = """\
version: 1
name: nightly
source: {provider: aws-s3, endpoint: "${SRC_ENDPOINT}", region: us-east-1, bucket: nightly-src,
         credentials: {access_key_env: SRC_KEY, secret_key_env: SRC_SECRET}}
target: {provider: seaweedfs, endpoint: "${TGT_ENDPOINT}", bucket: nightly-tgt,
         create_bucket: true, credentials: {access_key_env: TGT_KEY, secret_key_env: TGT_SECRET}}
"""


def blocks(language: str) -> list[str]:
    """The fenced code blocks of one language in docs/scheduling.md."""
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


@pytest.fixture
def machine(tmp_path, moto, seaweed, source_client):
    """A stand-in for the scheduled host: /etc/exitkit, /var/lib/exitkit, the textfile dir."""
    roots = {path: tmp_path / path.strip("/").replace("/", "_") for path in PATHS[:3]}
    for root in roots.values():
        root.mkdir(parents=True)
    seed_bucket(source_client, "nightly-src", list(demo_objects(25)))
    etc = roots["/etc/exitkit"]
    (etc / "nightly.yaml").write_text(NIGHTLY, encoding="utf-8")
    private, public, _ = generate_key_pair(etc / "ledger")
    variables = {"SRC_ENDPOINT": moto.endpoint, "SRC_KEY": moto.access_key,
                 "SRC_SECRET": moto.secret_key, "TGT_ENDPOINT": seaweed.endpoint,
                 "TGT_KEY": seaweed.access_key, "TGT_SECRET": seaweed.secret_key,
                 "EXITKIT_SIGNING_KEY_FILE": "/etc/exitkit/ledger.key"}
    (etc / "env").write_text(localize("".join(f"{k}={v}\n" for k, v in variables.items()), roots),
                             encoding="utf-8")
    bin_dir = str(Path(sys.executable).parent)
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith("EXITKIT_")}
    environ["PATH"] = f"{bin_dir}:{environ.get('PATH', '')}"
    return roots, public, environ, variables


def localize(text: str, roots: dict[str, Path]) -> str:
    """Move the document's absolute paths into the test's directory."""
    text = text.replace("/usr/local/bin/exitkit", "exitkit")
    for path, root in roots.items():
        text = text.replace(path, str(root))
    return text


def check_run(roots, public, runs: int, code: int) -> None:
    """The ledger holds *runs* signed entries and the metrics file says the drill passed."""
    assert code == 0
    ledger = roots["/var/lib/exitkit"] / "ledger.jsonl"
    result = audit_ledger(ledger, load_public_key(public))
    assert result.passed and result.entries == runs, result.failure
    metrics = next(roots["/var/lib/node_exporter/textfile_collector"].glob("*.prom"),
                   None) or next((roots["/var/lib/exitkit"] / "metrics").glob("*.prom"))
    families = {family.name: family for family in
                text_string_to_metric_families(metrics.read_text(encoding="utf-8"))}
    passed = families["exitkit_drill_passed"].samples[0]
    assert passed.value == 1 and passed.labels["drill"] == "nightly"


def test_the_cron_line_runs_the_drill_and_writes_metrics(machine):
    roots, public, environ, _ = machine
    (line,) = [text for text in blocks("cron")[0].splitlines() if text.strip()]
    fields = line.split(None, 6)
    assert all(CRON_FIELD.match(field) for field in fields[:5]), fields[:5]
    assert fields[5] == "exitkit" and "%" not in fields[6]  # cron treats % as a newline
    for run in (1, 2):
        done = subprocess.run(["/bin/sh", "-c", localize(fields[6], roots)], env=environ,
                              capture_output=True, text=True, timeout=300)
        assert done.stderr == "", done.stderr
        check_run(roots, public, run, done.returncode)


def test_the_systemd_unit_runs_the_drill_and_writes_metrics(machine):
    roots, public, environ, _ = machine
    service, timer = (configparser.ConfigParser(strict=False, interpolation=None)
                      for _ in range(2))
    service.read_string(localize(blocks("ini")[0], roots))
    timer.read_string(blocks("ini")[1])
    assert timer["Timer"]["Persistent"] == "true" and timer["Timer"]["OnCalendar"]
    unit = service["Service"]
    env = dict(environ)
    for line in Path(unit["EnvironmentFile"]).read_text().splitlines():
        name, value = line.split("=", 1)
        env[name] = value
    code = None
    for key in ("ExecStart", "ExecStopPost"):
        done = subprocess.run(shlex.split(unit[key]), cwd=unit["WorkingDirectory"], env=env,
                              capture_output=True, text=True, timeout=300)
        code = done.returncode if code is None else code
        assert done.returncode == 0, done.stderr
    check_run(roots, public, 1, code)


def test_the_cronjob_runs_the_drill_and_keeps_the_ledger(machine):
    roots, public, environ, variables = machine
    (job,) = [yaml.safe_load(text) for text in blocks("yaml") if "kind: CronJob" in text]
    cron_schedule = blocks("cron")[0].split(None, 5)[:5]
    assert job["kind"] == "CronJob" and job["spec"]["schedule"].split() == cron_schedule
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
    assert {"/var/lib/exitkit", "/etc/exitkit"} <= mounts
    (roots["/var/lib/exitkit"] / "metrics").mkdir()
    env = {**environ, **{k: v for k, v in variables.items() if not k.startswith("EXITKIT")}}
    env["EXITKIT_SIGNING_KEY"] = (roots["/etc/exitkit"] / "ledger.key").read_text()
    command = container["command"] + [localize(arg, roots) for arg in container["args"]]
    done = subprocess.run(command, cwd=localize(container["workingDir"], roots), env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.stderr == "", done.stderr
    check_run(roots, public, 1, done.returncode)
