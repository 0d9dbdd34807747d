"""Any rclone remote on either side (an SFTP remote served by ``rclone serve sftp``), and
``options.engine: rclone``, whose verification classes equal those of exitkit's own copy."""

import hashlib

import pytest

from exitkit.api import run_drill
from exitkit.drill.spec_file import load_spec
from exitkit.errors import SpecError
from exitkit.providers.rclone_config import obscure
from tests.estates import PATH_TROUBLE, estate, seed_s3
from tests.helpers import S3_SOURCE_SPEC, SEAWEED_TARGET_SPEC, bucket_contents, minio_client

SFTP_TARGET = """\
target:
  provider: rclone
  bucket: exits/{target}
  create_bucket: true
  rclone:
    type: sftp
    parameters: {{host: 127.0.0.1, port: "{port}", user: {user}}}
    secret_env: {{pass: SFTP_PASS}}
options: {{concurrency: 4, max_retries: 2}}
expectations:
  completeness: 80%
  accept_gaps: [{{property: metadata, reason: an SFTP server keeps bytes only}}]
"""
SEAWEED_TARGET = SEAWEED_TARGET_SPEC + """\
options: {{concurrency: 4, max_retries: 2, engine: {engine}}}
expectations: {{completeness: 80%}}
"""
SFTP_SOURCE = """\
version: 1
name: sftp-exit
source:
  provider: rclone
  bucket: exits/{source}
  rclone: {{config: rclone.conf, remote: fileserver}}
target:
  provider: local
  path: {path}
  bucket: copy
  create_bucket: true
options: {{concurrency: 4}}
"""


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _classes(record) -> dict[str, str]:
    return {difference.key: difference.kind for difference in record.verification.differences}


@pytest.fixture(scope="module")
def s3_estate():
    """The estate both rclone drills copy (odd keys, encodings, settings, metadata)."""
    return estate(seed=1414)


def test_s3_to_an_sftp_remote_and_back_out_through_an_rclone_conf(
        moto, rclone_sftp, source_client, bucket_name, server_env, s3_estate, tmp_path):
    source = bucket_name("s3src")
    seed_s3(source_client, source, s3_estate)
    target = bucket_name("sftp")
    spec = tmp_path / "to-sftp.yaml"
    spec.write_text(S3_SOURCE_SPEC.format(name="s3-to-sftp", source=source) + SFTP_TARGET.format(
        target=target, port=rclone_sftp.port, user=rclone_sftp.user), encoding="utf-8")
    env = {**server_env, "SFTP_PASS": rclone_sftp.password}
    record = run_drill(spec, tmp_path / "out", environ=env).record
    assert record.verdict == "passed", record.errors
    expected = {obj.key: obj for obj in s3_estate if obj.key not in PATH_TROUBLE}
    assert _classes(record) == {
        **dict.fromkeys(PATH_TROUBLE, "unrepresentable"),
        **{key: "property_lost_accepted" for key, obj in expected.items() if obj.metadata}}
    assert record.verification.methods == {"etag-md5": len(expected)}
    assert record.target.endpoint == "rclone:sftp@127.0.0.1"
    assert rclone_sftp.password not in record.model_dump_json()
    root = rclone_sftp.root / "exits" / target
    written = {str(path.relative_to(root)): path.read_bytes()
               for path in root.rglob("*") if path.is_file()}
    assert {key: sha256(body) for key, body in written.items()} == {
        key: sha256(obj.body) for key, obj in expected.items()}

    # the same remote as a source, named in an rclone.conf (password obscured there)
    (tmp_path / "rclone.conf").write_text(
        f"[fileserver]\ntype = sftp\nhost = 127.0.0.1\nport = {rclone_sftp.port}\n"
        f"user = {rclone_sftp.user}\npass = {obscure(rclone_sftp.password)}\n", encoding="utf-8")
    back = tmp_path / "back.yaml"
    back.write_text(SFTP_SOURCE.format(source=target, path=tmp_path / "local"), encoding="utf-8")
    record = run_drill(back, tmp_path / "out-back", environ=server_env).record
    assert record.verdict == "passed", record.errors
    assert record.verification.counts["matched"] == len(expected)
    copied = tmp_path / "local" / "copy"
    assert {str(path.relative_to(copied)): sha256(path.read_bytes())
            for path in copied.rglob("*") if path.is_file()} == {
        key: sha256(obj.body) for key, obj in expected.items()}


def test_the_rclone_engine_gets_the_classes_of_exitkits_own_copy(
        moto, seaweed, source_client, bucket_name, server_env, s3_estate, tmp_path):
    source = bucket_name("engines")
    seed_s3(source_client, source, s3_estate)
    records, targets = {}, {}
    for engine in ("exitkit", "rclone"):
        spec = tmp_path / f"{engine}.yaml"
        targets[engine] = bucket_name(engine)
        spec.write_text(S3_SOURCE_SPEC.format(name=f"engine-{engine}", source=source)
                        + SEAWEED_TARGET.format(target=targets[engine], engine=engine),
                        encoding="utf-8")
        records[engine] = run_drill(spec, tmp_path / engine, environ=server_env).record
    ours, theirs = records["exitkit"], records["rclone"]
    assert theirs.verdict == ours.verdict == "passed", theirs.errors
    assert _classes(theirs) == _classes(ours) == dict.fromkeys(PATH_TROUBLE, "unrepresentable")
    assert theirs.verification.counts == ours.verification.counts
    assert (theirs.copy_summary.engine, ours.copy_summary.engine) == ("rclone", "exitkit")
    assert theirs.copy_summary.engine_version.startswith("rclone v")
    assert theirs.copy_summary.objects_copied == ours.copy_summary.objects_copied
    assert any("copy engine writes itself" in gap for gap in theirs.verification.gaps)
    expected = {obj.key: obj for obj in s3_estate if obj.key not in PATH_TROUBLE}
    for engine, bucket in targets.items():
        written = bucket_contents(minio_client(seaweed), bucket)
        assert {key: sha256(value["body"]) for key, value in written.items()} == {
            key: sha256(obj.body) for key, obj in expected.items()}, engine


def test_the_rclone_engine_refuses_what_it_cannot_copy_as_planned(
        moto, bucket_name, server_env, tmp_path):
    spec = tmp_path / "versions.yaml"
    spec.write_text(S3_SOURCE_SPEC.format(name="engine-versions", source=bucket_name("v"))
                    + SEAWEED_TARGET.format(target=bucket_name("t"), engine="rclone")
                    + "verification: {versions: all}\n", encoding="utf-8")
    with pytest.raises(SpecError, match="verification.versions: options.engine rclone copies "
                                        "current objects only"):
        run_drill(spec, tmp_path / "out", environ=server_env)


REMOTE_SPEC = """\
version: 1
name: remote-spec
source:
  provider: gcs
  bucket: corp-archive
  credentials: {{service_account_env: GCS_KEY}}
target:
  provider: rclone
  bucket: exits
{remote}"""


@pytest.mark.parametrize("remote, problem", [
    ("", ":7: target: provider 'rclone' needs 'rclone' (the remote), and only it"),
    ("  rclone: {type: sftp, config: r.conf, remote: x}\n",
     ":10: target.rclone: give either 'type' (with 'parameters') or 'config' and 'remote'"),
    ("  rclone: {type: sftp, secret_env: {pass: not-a-name}}\n",
     ":10: target.rclone: secret_env.pass: not an environment variable name"),
    ("  rclone: {type: sftp, secret_env: {pass: SFTP_PASS}}\n",
     ":10: target.rclone.secret_env.pass: environment variable SFTP_PASS is not set"),
])
def test_a_bad_remote_is_one_line_naming_line_and_field(tmp_path, remote, problem):
    path = tmp_path / "spec.yaml"
    path.write_text(REMOTE_SPEC.format(remote=remote), encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_spec(path, {"GCS_KEY": '{"type": "service_account"}'})
    assert str(caught.value) == f"{path}{problem}"


def test_secrets_resolve_by_name_and_an_rclone_conf_is_anchored_to_the_spec(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(REMOTE_SPEC.format(remote="  rclone: {config: conf/rclone.conf, "
                                              "remote: files}\n"), encoding="utf-8")
    loaded = load_spec(path, {"GCS_KEY": "/secure/key.json"})
    assert loaded.spec.target.rclone.config == str(tmp_path / "conf" / "rclone.conf")
    assert loaded.source_keys.secrets["service_account"].get_secret_value() == "/secure/key.json"
    assert "/secure/key.json" not in repr(loaded)
