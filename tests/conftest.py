"""Shared fixtures: real loopback servers (moto_server as source, SeaweedFS as target)."""

import itertools
import os
from pathlib import Path

import pytest

from exitkit.providers.boto import s3_client
from exitkit.embedded.servers import MotoServer, SeaweedServer

_names = itertools.count()


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
