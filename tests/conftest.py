"""Shared fixtures: real loopback servers (moto_server as source, SeaweedFS as target)."""

import itertools
import json
import os
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from exitkit.providers.boto import s3_client
from exitkit.embedded.servers import (AzuriteServer, GcsEmulator, MotoServer, RcloneSftpServer,
                                     SeaweedServer)

_names = itertools.count()
RECORD_SCHEMA = Path(__file__).resolve().parents[1] / "docs" / "record.schema.json"
_validator = Draft202012Validator(json.loads(RECORD_SCHEMA.read_text(encoding="utf-8")),
                                  format_checker=Draft202012Validator.FORMAT_CHECKER)
_checked: dict[Path, float] = {}  # record or ledger file -> modification time validated
_validated = itertools.count(1)  # next() after each record validated
_last_validated = 0


def _records_in(path: Path) -> list[dict]:
    """The drill records *path* holds: itself (a record file) or its entries (a ledger)."""
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            document = json.loads(text)
            return [document] if isinstance(document, dict) and "run_id" in document and \
                "schema_version" in document else []
        lines = text.splitlines()
        if not lines or '"record"' not in lines[0]:
            return []
        return [entry["record"] for entry in map(json.loads, lines)
                if isinstance(entry, dict) and isinstance(entry.get("record"), dict)]
    except (UnicodeDecodeError, json.JSONDecodeError):  # an object body, not a record
        return []


def unchecked_records(root: Path) -> list[tuple[Path, dict]]:
    """Records under *root* written (or changed) since they were last validated."""
    found = []
    for path in (*root.rglob("*.json"), *root.rglob("*.jsonl")):
        try:
            modified = path.stat().st_mtime
        except FileNotFoundError:
            continue
        if path.is_file() and _checked.get(path) != modified:
            _checked[path] = modified
            found.extend((path, record) for record in _records_in(path))
    return found


def pytest_configure(config):
    config.addinivalue_line("markers", "alters_records: the test damages records on purpose "
                                       "(tampering); what it changed is not schema-checked")


def schema_errors(record: dict) -> list[str]:
    """Where *record* breaks docs/record.schema.json: ``json path: message``, sorted."""
    return sorted(f"{error.json_path}: {error.message}" for error in _validator.iter_errors(record))


@pytest.fixture(autouse=True)
def every_record_validates_against_the_committed_schema(request, tmp_path_factory):
    """After each test, every drill record written under the session's temporary
    directory (by the API, the CLI in a child process, the demo, or a module fixture),
    and every record inside a ledger there, must validate against docs/record.schema.json."""
    global _last_validated
    yield
    found = unchecked_records(tmp_path_factory.getbasetemp())
    if request.node.get_closest_marker("alters_records"):
        return
    for path, record in found:
        errors = schema_errors(record)
        assert not errors, f"{path}: {errors[0]}"
        _last_validated = next(_validated)


def pytest_terminal_summary(terminalreporter):
    """Say how many drill records the schema check saw, so a silent no-op shows."""
    terminalreporter.write_line(f"{_last_validated} drill records validated against "
                                f"docs/record.schema.json")


@pytest.fixture(scope="session")
def moto():
    """An AWS-compatible source server for the whole session."""
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="session")
def seaweed():
    """A self-hosted SeaweedFS S3 target for the whole session."""
    with SeaweedServer() as server:
        yield server


@pytest.fixture(scope="session")
def azurite():
    """Azurite's Blob service (Azure Blob Storage) for the whole session."""
    with AzuriteServer() as server:
        yield server


@pytest.fixture(scope="session")
def lock_target():
    """A second moto_server: an Object-Lock-capable S3 target."""
    with MotoServer() as server:
        yield server


@pytest.fixture
def source_client(moto):
    """boto3 client for the source server."""
    return s3_client(moto.endpoint, moto.access_key, moto.secret_key)


@pytest.fixture
def target_client(seaweed):
    """boto3 client for the target server."""
    return s3_client(seaweed.endpoint, seaweed.access_key, seaweed.secret_key)


@pytest.fixture
def bucket_name():
    """A fresh bucket name per call."""
    return lambda role: f"t{os.getpid()}-{next(_names)}-{role}"


@pytest.fixture
def server_env(moto, seaweed):
    """Environment variables the test specs read for endpoints and credentials."""
    return {
        **os.environ,
        "SRC_ENDPOINT": moto.endpoint, "SRC_KEY": moto.access_key, "SRC_SECRET": moto.secret_key,
        "TGT_ENDPOINT": seaweed.endpoint, "TGT_KEY": seaweed.access_key,
        "TGT_SECRET": seaweed.secret_key,
    }


SPEC_TEMPLATE = """\
version: 1
name: {name}
description: test drill
source:
  provider: aws-s3
  endpoint: ${{SRC_ENDPOINT}}
  region: us-east-1
  bucket: {source_bucket}
  prefix: "{source_prefix}"
  credentials:
    access_key_env: SRC_KEY
    secret_key_env: SRC_SECRET
target:
{target}
options:
  concurrency: 4
  part_size: 5MiB
  max_retries: 2
expectations:
  completeness: 100%
  max_duration: 10m
{extra}"""

SEAWEED_TARGET = """\
  provider: seaweedfs
  endpoint: ${{TGT_ENDPOINT}}
  bucket: {bucket}
  prefix: "{prefix}"
  create_bucket: true
  credentials:
    access_key_env: TGT_KEY
    secret_key_env: TGT_SECRET"""


@pytest.fixture
def write_spec(tmp_path):
    """Write a drill spec from the template and return its path."""

    def write(source_bucket: str, target_bucket: str = "", name: str = "test-drill",
              source_prefix: str = "", target_prefix: str = "", target: str | None = None,
              filename: str = "drill.yaml", extra: str = "", part_size: str = "5MiB") -> Path:
        target_block = target or SEAWEED_TARGET.format(bucket=target_bucket, prefix=target_prefix)
        path = tmp_path / filename
        path.write_text(SPEC_TEMPLATE.format(
            name=name, source_bucket=source_bucket, source_prefix=source_prefix,
            target=target_block, extra=extra).replace("part_size: 5MiB",
                                                      f"part_size: {part_size}"),
            encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def containers():
    """Two loopback OCI registries (source, target), Podman's Docker API on TCP (for the
    drill's libcloud driver) and on a unix socket (for testcontainers and the docker SDK),
    and the busybox web image built locally and pushed to the source registry."""
    from contextlib import ExitStack
    from types import SimpleNamespace

    from exitkit.embedded.containers import PodmanService, build_web_image
    from exitkit.embedded.workload_demo import start_workload_servers

    with ExitStack() as stack:
        source_registry, target_registry, runtime = start_workload_servers(stack)
        socket_service = stack.enter_context(
            PodmanService([source_registry.host, target_registry.host], unix_socket=True))
        yield SimpleNamespace(source_registry=source_registry, target_registry=target_registry,
                              runtime=runtime, socket=socket_service.socket_path,
                              web_image=build_web_image(source_registry.host))


@pytest.fixture(scope="session")
def docker_env(containers):
    """Environment for testcontainers and the docker SDK to use the Podman socket."""
    values = {"DOCKER_HOST": f"unix://{containers.socket}", "TESTCONTAINERS_RYUK_DISABLED": "true",
              "TESTCONTAINERS_CONNECTION_MODE": "docker_host", "TC_HOST": "127.0.0.1"}
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    yield values
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def docker_client(docker_env):
    """An independent client of the runtime (docker SDK over the Podman socket)."""
    import docker

    client = docker.DockerClient(base_url=docker_env["DOCKER_HOST"])
    yield client
    client.close()


@pytest.fixture(scope="session")
def public_seaweed():
    """A SeaweedFS target whose objects anyone may read (a website bucket)."""
    with SeaweedServer(public_read=True) as server:
        yield server


@pytest.fixture(scope="session")
def gcs_emulator():
    """gcp-storage-emulator: a Google Cloud Storage JSON API for the whole session."""
    with GcsEmulator() as server:
        yield server


@pytest.fixture(scope="session")
def rclone_sftp():
    """``rclone serve sftp`` of a fresh directory, for rclone remotes, for the session."""
    with RcloneSftpServer() as server:
        yield server
