"""``bucket_config: true``: a configured bucket's settings are carried to the target and read
back, or each is reported with its reason; cleanup puts the target's settings back; the
source only ever receives GET requests. Source buckets are configured the way real estates
are (from the table below); the target is a second moto_server (which holds every carried
setting) or SeaweedFS (which refuses some)."""

import base64
import hashlib
import json
import random

import pytest
import requests
from botocore.exceptions import ClientError
from hypothesis import given, settings, strategies as st

from exitkit.api import run_drill
from exitkit.drill.bucket_translation import TranslationContext, translate
from exitkit.drill.keys import KeyMap
from exitkit.evidence.reports import render_report
from exitkit.providers.boto import s3_client
from exitkit.providers.bucket_settings import CARRIED_NAMES, SETTING_NAMES, SETTINGS
from tests.conftest import SEAWEED_TARGET
from tests.helpers import exitkit

SOURCE_ROLE = "arn:aws:iam::123456789012:role/records-reader"
TARGET_ROLE = "arn:aws:iam::000000000000:user/records-reader"


def _policy(bucket: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadRecords", "Effect": "Allow", "Principal": {"AWS": SOURCE_ROLE},
         "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{bucket}/records/*"},
        {"Sid": "EncryptedUploadsOnly", "Effect": "Deny", "Principal": "*",
         "Action": "s3:PutObject", "Resource": [f"arn:aws:s3:::{bucket}/*"],
         "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}}}]}


#: How real buckets are configured: every carried setting but Object Lock (moto sets a
#: default retention only on an empty bucket: see the last drill test), plus replication
#: (reported).
CONFIGURATION = {
    "versioning": lambda c, b: c.put_bucket_versioning(
        Bucket=b, VersioningConfiguration={"Status": "Enabled"}),
    "lifecycle": lambda c, b: c.put_bucket_lifecycle_configuration(
        Bucket=b, LifecycleConfiguration={"Rules": [
            {"ID": "expire-logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled",
             "Expiration": {"Days": 400}, "Transitions": [{"Days": 90,
                                                           "StorageClass": "GLACIER"}]},
            {"ID": "tagged-scratch", "Status": "Enabled", "Filter": {"And": {
                "Prefix": "scratch/", "Tags": [{"Key": "class", "Value": "temp"}]}},
             "Expiration": {"Days": 7}},
            {"ID": "old-versions", "Filter": {"Prefix": ""}, "Status": "Enabled",
             "NoncurrentVersionExpiration": {"NoncurrentDays": 180}}]}),
    "cors": lambda c, b: c.put_bucket_cors(Bucket=b, CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["GET", "HEAD"], "AllowedOrigins": ["https://records.example.eu"],
         "AllowedHeaders": ["Authorization"], "ExposeHeaders": ["ETag"],
         "MaxAgeSeconds": 3000},
        {"AllowedMethods": ["PUT"], "AllowedOrigins": ["https://upload.example.eu"]}]}),
    "website": lambda c, b: c.put_bucket_website(Bucket=b, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "404.html"},
        "RoutingRules": [{"Condition": {"KeyPrefixEquals": "docs/"},
                          "Redirect": {"ReplaceKeyPrefixWith": "documents/"}}]}),
    "tags": lambda c, b: c.put_bucket_tagging(Bucket=b, Tagging={"TagSet": [
        {"Key": "cost-center", "Value": "4711"}, {"Key": "data-class", "Value": "archival"}]}),
    "policy": lambda c, b: c.put_bucket_policy(Bucket=b, Policy=json.dumps(_policy(b))),
    "public_access_block": lambda c, b: c.put_public_access_block(
        Bucket=b, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": False}),
    "default_encryption": lambda c, b: c.put_bucket_encryption(
        Bucket=b, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}),
    "ownership_controls": lambda c, b: c.put_bucket_ownership_controls(
        Bucket=b, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}),
    "replication": lambda c, b: c.put_bucket_replication(
        Bucket=b, ReplicationConfiguration={
            "Role": "arn:aws:iam::123456789012:role/replicator", "Rules": [
                {"ID": "dr", "Status": "Enabled", "Priority": 1, "Filter": {"Prefix": ""},
                 "DeleteMarkerReplication": {"Status": "Disabled"},
                 "Destination": {"Bucket": "arn:aws:s3:::records-dr"}}]}),
}
KEYS = ("records/2024/ledger.csv", "logs/app/2026-11-30.log.gz", "scratch/tmp-ä.bin",
        "docs/index.html", "index.html")


@pytest.fixture(scope="module")
def configured(moto):
    """A source bucket with every setting of CONFIGURATION and a few objects."""
    client = s3_client(moto.endpoint, moto.access_key, moto.secret_key)
    bucket = f"configured-{random.randrange(10**9)}"
    client.create_bucket(Bucket=bucket)
    for key in KEYS:
        client.put_object(Bucket=bucket, Key=key, Body=key.encode() * 40)
    for name, configure in CONFIGURATION.items():
        configure(client, bucket)
    return bucket


@pytest.fixture
def env(server_env, lock_target):
    return {**server_env, "LOCK_ENDPOINT": lock_target.endpoint,
            "LOCK_KEY": lock_target.access_key, "LOCK_SECRET": lock_target.secret_key}


def _lock_target(bucket: str) -> str:
    return f"""\
  provider: aws-s3
  endpoint: ${{LOCK_ENDPOINT}}
  bucket: {bucket}
  create_bucket: true
  credentials:
    access_key_env: LOCK_KEY
    secret_key_env: LOCK_SECRET"""


def _read(client, bucket: str, name: str):
    setting = next(setting for setting in SETTINGS if setting.name == name)
    try:
        response = getattr(client, setting.read)(Bucket=bucket)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in setting.absent:
            return None
        raise
    return setting.value(response)


def _recording(moto, action: str) -> list[dict]:
    base = f"{moto.endpoint}/moto-api/recorder"
    if action == "start":
        requests.post(f"{base}/reset-recording", timeout=10)
        requests.post(f"{base}/start-recording", timeout=10)
        return []
    requests.post(f"{base}/stop-recording", timeout=10)
    return [json.loads(line) for line in
            requests.get(f"{base}/download-recording", timeout=30).text.splitlines()]


def test_every_setting_is_carried_read_back_and_put_back_by_cleanup(
        configured, moto, lock_target, write_spec, env, tmp_path):
    target_bucket = f"carried-{random.randrange(10**9)}"
    spec = write_spec(configured, target=_lock_target(target_bucket), extra=f"""\
bucket_config:
  principals:
    "{SOURCE_ROLE}": "{TARGET_ROLE}"
""")
    spec.write_text(spec.read_text().replace(
        "expectations:\n", "expectations:\n  accept_gaps:\n    - property: bucket.replication\n"
                           "      reason: the DR copy is rebuilt on the target platform\n"))
    _recording(moto, "start")
    try:
        record = run_drill(spec, tmp_path / "results", environ=env).record
    finally:
        seen = _recording(moto, "stop")
    assert {entry["method"] for entry in seen} <= {"GET", "HEAD"}, \
        sorted({(entry["method"], entry["url"]) for entry in seen if entry["method"] not in
                ("GET", "HEAD")})
    assert record.verdict == "passed", (record.errors, [e for e in record.expectations
                                                        if not e.passed])
    states = {setting.name: setting.state for setting in record.bucket_config.settings}
    assert set(states) == set(SETTING_NAMES)
    assert {name for name, state in states.items() if state in ("carried", "translated")} \
        == set(CARRIED_NAMES) - {"object_lock"}
    assert states["replication"] == "accepted"
    assert {name for name, state in states.items() if state == "absent"} == \
        set(SETTING_NAMES) - set(CARRIED_NAMES) - {"replication"} | {"object_lock"}
    # read every setting back with an independent client and compare with the source's
    source = s3_client(moto.endpoint, moto.access_key, moto.secret_key)
    target = s3_client(lock_target.endpoint, lock_target.access_key, lock_target.secret_key)
    for name in set(CARRIED_NAMES) - {"policy", "object_lock", "default_encryption"}:
        assert _read(target, target_bucket, name) == _read(source, configured, name), name
    assert _read(target, target_bucket, "default_encryption")["Rules"][0][
        "ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    policy = _read(target, target_bucket, "policy")
    expected = json.loads(json.dumps(_policy(target_bucket)).replace(SOURCE_ROLE, TARGET_ROLE))
    assert policy == expected
    assert states["policy"] == "translated"
    changes = next(s.changes for s in record.bucket_config.settings if s.name == "policy")
    assert f"statement ReadRecords: principal {SOURCE_ROLE} -> {TARGET_ROLE}" in changes
    assert "Bucket settings" in render_report(record, [record], "md")
    assert 'id="bucket-config"' in render_report(record, [record], "html")
    # verify-only compares without writing; then cleanup puts the earlier settings back
    target.delete_bucket_cors(Bucket=target_bucket)
    again = run_drill(spec, tmp_path / "results", environ=env, verify_only=True).record
    cors = next(s for s in again.bucket_config.settings if s.name == "cors")
    assert (again.verdict, cors.state) == ("failed", "not_carried")
    assert _read(target, target_bucket, "cors") is None
    # a fresh target: the carried policy refuses unencrypted uploads, as on the source
    fresh_bucket = f"cleaned-{random.randrange(10**9)}"
    spec.write_text(spec.read_text().replace(f"bucket: {target_bucket}",
                                             f"bucket: {fresh_bucket}") + "cleanup: true\n")
    target_bucket = fresh_bucket
    cleaned = run_drill(spec, tmp_path / "results", environ=env).record
    assert cleaned.verdict == "passed" and cleaned.bucket_config.restored is True
    for name in ("lifecycle", "cors", "website", "tags", "policy", "public_access_block",
                 "default_encryption", "ownership_controls"):
        assert _read(target, target_bucket, name) is None, name


def test_a_default_retention_is_carried_to_a_bucket_that_can_take_it(
        moto, lock_target, write_spec, env, tmp_path):
    """A locked source whose drill scope is empty: moto, unlike AWS, sets a default
    retention only on a bucket without objects, and the target stays empty."""
    client = s3_client(moto.endpoint, moto.access_key, moto.secret_key)
    source_bucket = f"locked-{random.randrange(10**9)}"
    client.create_bucket(Bucket=source_bucket, ObjectLockEnabledForBucket=True)
    client.put_object_lock_configuration(Bucket=source_bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE",
                                                                      "Days": 30}}})
    body = b"%PDF-1.7" * 100
    client.put_object(Bucket=source_bucket, Key="sealed/2026.pdf", Body=body,
                      ContentMD5=base64.b64encode(hashlib.md5(body).digest()).decode())
    target_bucket = f"retention-{random.randrange(10**9)}"
    spec = write_spec(source_bucket, source_prefix="nothing-here/",
                      target=_lock_target(target_bucket), extra="bucket_config: true\n")
    record = run_drill(spec, tmp_path / "results", environ=env).record
    assert record.verdict == "passed", record.expectations
    lock = next(s for s in record.bucket_config.settings if s.name == "object_lock")
    assert lock.state == "carried", lock.reason
    target = s3_client(lock_target.endpoint, lock_target.access_key, lock_target.secret_key)
    assert _read(target, target_bucket, "object_lock")["Rule"]["DefaultRetention"] == {
        "Mode": "GOVERNANCE", "Days": 30, "Years": 0}


def test_a_target_that_refuses_settings_reports_each_and_writes_no_partial_policy(
        configured, seaweed, write_spec, server_env, tmp_path, target_client):
    target_bucket = f"refused-{random.randrange(10**9)}"
    target = SEAWEED_TARGET.format(bucket=target_bucket, prefix="") + \
        "\n  storage_classes: {GLACIER: STANDARD}"
    spec = write_spec(configured, target=target, extra="bucket_config: true\n")
    result = exitkit("drill", "run", str(spec), "--results", str(tmp_path / "r"), "--json",
                     env=server_env)
    assert result.returncode == 1, result.stderr
    record = json.loads(result.stdout)
    settings_by_name = {s["name"]: s for s in record["bucket_config"]["settings"]}
    assert settings_by_name["policy"]["state"] == "not_carried"
    assert f"principal {SOURCE_ROLE} has no counterpart" in settings_by_name["policy"]["reason"]
    with pytest.raises(ClientError, match="NoSuchBucketPolicy"):
        target_client.get_bucket_policy(Bucket=target_bucket)
    # SeaweedFS implements no lifecycle and no public access block, refuses websites
    assert "NotImplemented" in settings_by_name["lifecycle"]["reason"]
    assert "does not implement" in settings_by_name["public_access_block"]["reason"]
    assert settings_by_name["website"]["state"] == "not_carried"
    assert settings_by_name["replication"]["state"] == "not_carried"
    assert "IAM role" in settings_by_name["replication"]["reason"]
    for name in ("versioning", "cors", "tags", "default_encryption"):
        assert settings_by_name[name]["state"] == "carried", settings_by_name[name]
    failed = [e for e in record["expectations"] if not e["passed"]]
    assert [e["name"] for e in failed] == ["bucket_config"]
    assert "not carried: lifecycle, website, policy, public_access_block" in \
        failed[0]["measured"]


def test_bucket_config_on_a_shared_target_is_refused_naming_file_and_field(
        configured, write_spec, server_env, tmp_path):
    target = SEAWEED_TARGET.format(bucket="shared", prefix="drill/") + \
        "\n  allow_foreign_data: true"
    spec = write_spec(configured, target=target, extra="bucket_config: true\n")
    result = exitkit("drill", "run", str(spec), "--results", str(tmp_path / "r"),
                     env=server_env)
    assert result.returncode == 2
    assert f"{spec}:" in result.stderr and "allow_foreign_data" in result.stderr
    assert "Traceback" not in result.stderr


prefixes = st.sampled_from(["", "data/", "data/2024/", "exit-drill/", "a b/ü/"])
key_parts = st.text(alphabet="abc/-_ *ü", max_size=12)


@settings(max_examples=60, deadline=None)
@given(source_prefix=prefixes, target_prefix=prefixes, key=key_parts,
       other_bucket=st.booleans())
def test_policy_resources_follow_the_bucket_and_prefix_or_block(
        source_prefix, target_prefix, key, other_bucket):
    context = TranslationContext("src-bucket", "tgt-bucket", KeyMap(source_prefix,
                                                                    target_prefix))
    bucket = "elsewhere" if other_bucket else "src-bucket"
    document = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                               "Resource": f"arn:aws:s3:::{bucket}/{source_prefix}{key}"}]}
    original = json.dumps(document)
    translation = translate("policy", document, context)
    assert json.dumps(document) == original  # the source's value is never changed
    if other_bucket:
        assert translation.blockers and "is not this bucket" in translation.blockers[0]
        return
    assert not translation.blockers
    resource = translation.value["Statement"][0]["Resource"]
    assert resource.startswith(f"arn:aws:s3:::tgt-bucket/{target_prefix}")
    assert resource.endswith(key.split("*", 1)[1] if "*" in key else key)


@settings(max_examples=40, deadline=None)
@given(source_prefix=prefixes, target_prefix=prefixes, rule_prefix=key_parts,
       storage_class=st.sampled_from(["GLACIER", "DEEP_ARCHIVE", "STANDARD_IA"]))
def test_lifecycle_rules_keep_their_scope_and_never_move_to_a_class_the_target_lacks(
        source_prefix, target_prefix, rule_prefix, storage_class):
    context = TranslationContext("s", "t", KeyMap(source_prefix, target_prefix),
                                 storage_classes={"DEEP_ARCHIVE": "GLACIER"},
                                 held_classes=frozenset({"STANDARD", "GLACIER"}))
    rule = {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": rule_prefix},
            "Transitions": [{"Days": 30, "StorageClass": storage_class}]}
    translation = translate("lifecycle", {"Rules": [rule]}, context)
    inside = rule_prefix.startswith(source_prefix) or source_prefix.startswith(rule_prefix)
    if not inside:
        assert translation.value is None and "outside the drill's scope" in \
            translation.changes[0]
        return
    if storage_class == "STANDARD_IA":
        assert "does not hold" in " ".join(translation.blockers)
        return
    (carried,) = translation.value["Rules"]
    new_prefix = carried["Filter"]["Prefix"]
    assert new_prefix.startswith(target_prefix)
    assert carried["Transitions"][0]["StorageClass"] == "GLACIER"


def test_every_bucket_setting_can_be_named_in_accept_gaps():
    from typing import get_args

    from exitkit.drill.spec import GapName

    assert {name for name in get_args(GapName) if name.startswith("bucket.")} == \
        {f"bucket.{name}" for name in SETTING_NAMES}
