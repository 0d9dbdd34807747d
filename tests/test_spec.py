"""Drill specs: validation, line numbers, environment expansion, one-line errors."""

import hashlib
import json
import subprocess
import sys
from datetime import timedelta

import pytest

from exitkit.api import run_drill
from exitkit.drill.spec_file import load_spec
from exitkit.errors import SpecError

VALID = """\
version: 1
name: unit
source:
  provider: aws-s3
  region: eu-central-1
  bucket: src
  credentials:
    access_key_env: UNIT_KEY
    secret_key_env: UNIT_SECRET
target:
  provider: local
  path: /tmp/exitkit-unit
  bucket: tgt
expectations:
  completeness: 99.5%
  max_duration: 1h30m
"""
ENV = {"UNIT_KEY": "AKIAUNITTESTKEY", "UNIT_SECRET": "unit-secret-value-123"}


def write(tmp_path, text):
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path, text, env=ENV) -> str:
    with pytest.raises(SpecError) as caught:
        load_spec(write(tmp_path, text), env)
    return str(caught.value)


def test_valid_spec_loads_with_units_and_resolved_credentials(tmp_path):
    loaded = load_spec(write(tmp_path, VALID), ENV)
    assert loaded.spec.expectations.completeness == 99.5
    assert loaded.spec.expectations.max_duration == timedelta(hours=1, minutes=30)
    assert loaded.source_keys.secret_key.get_secret_value() == "unit-secret-value-123"
    assert "unit-secret-value-123" not in repr(loaded)
    assert loaded.sha256 == hashlib.sha256((tmp_path / "spec.yaml").read_bytes()).hexdigest()


def test_the_record_pins_the_spec_by_the_sha256_of_its_file_bytes(tmp_path):
    """The digest is of the file as written (comments, ``${VAR}`` references and all),
    not of the parsed or expanded spec."""
    source = tmp_path / "disk-a" / "records"
    source.mkdir(parents=True)
    (source / "r.txt").write_bytes(b"record\n")
    spec = tmp_path / "local.yaml"
    spec.write_bytes(f"""\
# a comment is part of what the digest pins
version: 1
name: pinned
source: {{provider: local, path: "{tmp_path / 'disk-a'}", bucket: "${{UNIT_BUCKET:-records}}"}}
target: {{provider: local, path: "{tmp_path / 'disk-b'}", bucket: records, create_bucket: true}}
""".encode("utf-8"))
    expected = hashlib.sha256(spec.read_bytes()).hexdigest()
    result = run_drill(spec, tmp_path / "results", environ={})
    assert result.exit_code == 0, result.record.errors
    assert result.record.drill.spec_sha256 == expected
    assert json.loads(result.path.read_text())["drill"]["spec_sha256"] == expected


def test_malformed_yaml_names_line_and_column(tmp_path):
    message = error_for(tmp_path, VALID.replace("  bucket: src", "  bucket: [src"))
    assert message.startswith(f"{tmp_path / 'spec.yaml'}:")
    assert "malformed YAML" in message and "column" in message


def test_unknown_field_names_its_line_and_path(tmp_path):
    message = error_for(tmp_path, VALID.replace("  bucket: tgt", "  bucket: tgt\n  buckett: x"))
    assert message == f"{tmp_path / 'spec.yaml'}:14: target.buckett: unknown field"


def test_mistyped_value_names_field(tmp_path):
    message = error_for(tmp_path, VALID.replace("max_duration: 1h30m", "max_duration: soon"))
    assert ":16: expectations.max_duration: not a duration" in message


def test_missing_credentials_variable_names_the_variable_not_a_value(tmp_path):
    message = error_for(tmp_path, VALID, env={"UNIT_KEY": "x"})
    assert message.endswith(":9: source.credentials.secret_key_env: "
                            "environment variable UNIT_SECRET is not set")


def test_environment_references_expand_and_missing_ones_fail(tmp_path):
    text = VALID.replace("bucket: src", "bucket: ${UNIT_BUCKET:-fallback}")
    assert load_spec(write(tmp_path, text), ENV).spec.source.bucket == "fallback"
    assert load_spec(write(tmp_path, text), {**ENV, "UNIT_BUCKET": "b2"}).spec.source.bucket == "b2"
    message = error_for(tmp_path, VALID.replace("bucket: src", "bucket: ${NOPE}"))
    assert ":6: source.bucket: environment variable NOPE is not set" in message


def test_duplicate_key_is_refused(tmp_path):
    message = error_for(tmp_path, VALID.replace("name: unit", "name: unit\nname: again"))
    assert ":3: name: duplicate key" in message


def test_provider_rules_are_checked(tmp_path):
    text = VALID.replace("  path: /tmp/exitkit-unit\n", "")
    assert "target: provider 'local' needs 'path'" in error_for(tmp_path, text)


def test_cli_bad_spec_exits_2_with_one_line_and_no_traceback(tmp_path):
    path = write(tmp_path, VALID.replace("name: unit", "name: unit: bad"))
    done = subprocess.run([sys.executable, "-m", "exitkit", "drill", "run", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"exitkit: error: {path}:2:")
    assert "Traceback" not in done.stderr


def test_cli_missing_spec_file_exits_2(tmp_path):
    done = subprocess.run([sys.executable, "-m", "exitkit", "drill", "run",
                           str(tmp_path / "absent.yaml")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "absent.yaml: cannot read" in done.stderr


def test_restore_section_is_validated_and_named_on_error(tmp_path):
    restore = "restore:\n  tier: bulk\n  days: 3\n  max_wait: 6h\n"
    loaded = load_spec(write(tmp_path, VALID + restore), ENV)
    assert loaded.spec.restore.tier == "bulk" and loaded.spec.restore.days == 3
    assert loaded.spec.restore.max_wait == timedelta(hours=6)
    assert loaded.spec.restore.poll_interval == timedelta(minutes=15)
    message = error_for(tmp_path, VALID + restore.replace("bulk", "instant"))
    assert ":18: restore.tier:" in message


@pytest.mark.parametrize("addition, expected", [
    ("  accept_gaps:\n    - {property: object_lock}\n",
     "expectations.accept_gaps.0.reason: Field required"),
    ("  accept_gaps:\n    - {property: teleport, reason: x}\n",
     "expectations.accept_gaps.0.property: Input should be"),
])
def test_accepted_gaps_need_a_known_property_and_a_reason(tmp_path, addition, expected):
    message = error_for(tmp_path, VALID + addition)
    assert ":18: " in message and expected in message


@pytest.mark.parametrize("addition, expected", [
    ("  encryption: {type: sse-kms}\n", ":14: target.encryption: sse-kms needs 'kms_key_id'"),
    ("  storage_classes: {glacier: STANDARD}\n",
     "target: storage_classes: write class names as S3 does, in upper case"),
])
def test_target_property_options_are_validated(tmp_path, addition, expected):
    text = VALID.replace("  bucket: tgt\n", "  bucket: tgt\n" + addition)
    assert expected in error_for(tmp_path, text)
