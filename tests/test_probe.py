"""``exitkit probe`` measures a target (and cleans up, proven by listing); a drill can use
the measured capabilities instead of the profile's."""

import json
import os
import random

import pytest

from exitkit.api import run_drill
from exitkit.providers.boto import s3_client
from tests.helpers import exitkit

PROBE_SPEC = """\
version: 1
name: probe
source: {{provider: local, path: "{tmp}", bucket: unused}}
target:
{target}
"""


def _s3_target(provider: str, bucket: str, prefix: str = "") -> str:
    return f"""\
  provider: {provider}
  endpoint: ${{TGT_ENDPOINT}}
  bucket: {bucket}
  prefix: "{prefix}"
  create_bucket: true
  credentials: {{access_key_env: TGT_KEY, secret_key_env: TGT_SECRET}}"""


@pytest.mark.parametrize("server_name, provider, held, not_held", [
    ("lock_target", "aws-s3",
     {"object_lock", "legal_hold", "website_redirect", "sse_s3", "tags", "user_metadata",
      "unicode_metadata", "flat_keys", "versioning"}, {"sse_kms"}),
    ("seaweed", "seaweedfs", {"object_lock", "legal_hold", "tags", "user_metadata"},
     {"website_redirect", "sse_s3", "flat_keys", "unicode_metadata"}),
])
def test_probe_measures_and_leaves_nothing_behind(server_name, provider, held, not_held,
                                                  request, tmp_path):
    server = request.getfixturevalue(server_name)
    bucket = f"probe-{random.randrange(10**9)}"
    spec = tmp_path / "probe.yaml"
    spec.write_text(PROBE_SPEC.format(tmp=tmp_path, target=_s3_target(provider, bucket,
                                                                      "exit/")))
    env = {**os.environ, "TGT_ENDPOINT": server.endpoint, "TGT_KEY": server.access_key,
           "TGT_SECRET": server.secret_key}
    out = tmp_path / "measured.json"
    done = exitkit("probe", str(spec), "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    checks = {check["name"]: check["held"] for check in report["checks"]}
    assert {name for name in held if not checks[name]} == set()
    assert {name for name in not_held if checks[name]} == set()
    assert report["remaining_after_cleanup"] == 0 and report["deleted_versions"] >= 20
    assert report["capabilities"]["additional_checksums"] == [
        "crc32", "crc32c", "crc64nvme", "sha1", "sha256"]
    client = s3_client(server.endpoint, server.access_key, server.secret_key)
    listed = client.list_object_versions(Bucket=bucket, Prefix="exit/")
    assert not listed.get("Versions") and not listed.get("DeleteMarkers")
    assert "Differs from the provider profile" in done.stdout


def test_drill_uses_measured_capabilities(seaweed, moto, source_client, tmp_path, write_spec,
                                          server_env, bucket_name):
    """A probe that found no redirects makes the drill report the redirect lost even if
    the capabilities file is all that says so; the record names the file."""
    source = bucket_name("src")
    source_client.create_bucket(Bucket=source)
    source_client.put_object(Bucket=source, Key="moved.html", Body=b"<p>moved</p>",
                             WebsiteRedirectLocation="/new.html")
    measured = tmp_path / "seaweed-measured.json"
    measured.write_text(json.dumps({"capabilities": {
        "user_metadata": True, "content_type": True, "system_headers": True, "tags": True,
        "max_key_bytes": 1024, "path_keys": True, "max_segment_bytes": 255,
        "directory_markers": True, "storage_classes": ["STANDARD"]}}))
    spec = write_spec(source, bucket_name("tgt"))
    spec.write_text(spec.read_text().replace("  create_bucket: true\n", "  create_bucket: true\n"
                                             "  capabilities_file: seaweed-measured.json\n"))
    result = run_drill(spec, tmp_path / "results", environ=server_env)
    record = result.record
    assert record.properties.capabilities == "measured seaweed-measured.json"
    assert record.verification.property_losses == {"website_redirect": 1}
    assert result.exit_code == 1
    broken = tmp_path / "seaweed-measured.json"
    broken.write_text('{"capabilities": {"teleport": true}}')
    done = exitkit("drill", "run", str(spec), "-r", str(tmp_path / "r2"), env=server_env)
    assert done.returncode == 2
    assert "target.capabilities_file: cannot read measured capabilities" in done.stderr
    assert "unknown capabilities teleport" in done.stderr
